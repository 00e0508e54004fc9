"""Snapshots of the scene kept for the *before* still of a dumping event, and how that still is chosen.

A dumping event starts at the *arrival*: when the first linked person or vehicle came into view.
Its before still should show the spot empty, before that arrival.  The edge keeps a JPEG snapshot
of the scene every ``every_s`` video seconds for ``keep_s`` seconds, and always one on the first
frame of a source and on the first frame after a discontinuity: video time going back (a restarted
source), a gap in capture time that video time does not show (a stream that reconnected; its
video time continues across the outage), or a new picture size.  So whatever arrives after the
source (re)started has a snapshot from before it.

:meth:`SnapshotRing.before_arrival` picks the still, in this order:

1. the latest snapshot at least ``offset_s`` before the arrival (a person is often in view a few
   seconds before the detector is sure of them);
2. else the **earliest** snapshot before the arrival: the one least likely to already show them
   coming into view (when the footage starts only a few seconds before the arrival);
3. else none, and says why: the source started after the arrival (they were in view on its first
   frame), or the snapshots from before it have aged out.

Memory is bounded: a steady camera holds ``keep_s / every_s + 1`` snapshots (61), and never more
than ``max_count``, twice that (the periodic ones plus as many forced by discontinuities; a stream
that keeps reconnecting or changing size evicts the oldest first).  A snapshot of the 960×540
sample clips is about 110 KB (measured), so about 7 MB on a steady camera and 14 MB at most;
roughly four times that at 1080p.  :attr:`SnapshotRing.nbytes` says what is held.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from detector.frame_ring import RingFrame
from detector.jpeg import JpegError, encode_jpeg
from detector.storage import StorageError
from detector.types import Frame

logger = logging.getLogger(__name__)

SNAPSHOT_EVERY_S = 5.0  # a 'before' snapshot this often (video seconds) ...
SNAPSHOT_KEEP_S = 300.0  # ... kept this long: a deposit's act or visit is rarely older
SNAPSHOT_JPEG_QUALITY = 90


@dataclass(frozen=True, slots=True)
class BeforeStill:
    """The frame chosen for a before still (None when there is none) and a sentence saying what it
    is or why there is none, for the event's ``details["before_still"]``."""

    frame: Frame | None
    note: str


@dataclass(frozen=True, slots=True)
class _Snapshot:
    frame: RingFrame
    size: tuple[int, int]  # (width, height) of the picture, pixels


@dataclass(frozen=True, slots=True)
class _Seen:
    """The previous frame's clocks and size: what a discontinuity is measured against."""

    video_time_s: float
    captured_at: datetime
    size: tuple[int, int]


class SnapshotRing:
    """Periodic JPEG snapshots of one camera's scene (see the module docstring).

    ``every_s`` and ``keep_s`` are video seconds.  Not thread-safe: the pipeline's thread both
    observes frames and asks for a before still.
    """

    def __init__(self, every_s: float = SNAPSHOT_EVERY_S, keep_s: float = SNAPSHOT_KEEP_S) -> None:
        if every_s <= 0 or keep_s <= 0:
            raise ValueError(f"snapshot interval and keep time must be positive, got {every_s}, {keep_s}")
        self.every_s = every_s
        self.keep_s = keep_s
        self.max_count = 2 * (math.ceil(keep_s / every_s) + 1)
        self._snapshots: deque[_Snapshot] = deque(maxlen=self.max_count)
        self._nbytes = 0
        self._last_snapshot_s = -math.inf
        self._seen: _Seen | None = None
        self._started_s: float | None = None  # video time of the current timeline's first frame

    def __len__(self) -> int:
        return len(self._snapshots)

    @property
    def nbytes(self) -> int:
        """Memory held by the snapshots' JPEG payloads (bytes)."""
        return self._nbytes

    def observe(self, frame: Frame) -> None:
        """Keep ``frame`` if a snapshot is due (periodic, or the first after a discontinuity);
        snapshots older than ``keep_s`` fall out."""
        t = frame.video_time_s
        size = (frame.width, frame.height)
        seen, self._seen = self._seen, _Seen(t, frame.captured_at, size)
        if seen is None or t < seen.video_time_s:
            if seen is not None:
                logger.info("video time went back on %s; 'before' snapshots restarted", frame.camera_id)
            self._snapshots.clear()
            self._nbytes = 0
            self._started_s = t
            forced = True
        else:
            video_step = t - seen.video_time_s
            capture_step = (frame.captured_at - seen.captured_at).total_seconds()
            forced = size != seen.size or capture_step - video_step > self.every_s
        if forced or t - self._last_snapshot_s >= self.every_s:
            self._keep(frame)

    def _keep(self, frame: Frame) -> None:
        try:
            jpeg = encode_jpeg(frame.image, SNAPSHOT_JPEG_QUALITY)
        except JpegError:
            logger.warning("could not encode a snapshot at t=%.1f", frame.video_time_s)
            return
        self._last_snapshot_s = frame.video_time_s
        if len(self._snapshots) == self.max_count:
            self._nbytes -= len(self._snapshots[0].frame.jpeg)
        kept = RingFrame(
            frame.video_time_s, frame.captured_at, jpeg, frame.camera_id, frame.index, frame.clock_source
        )
        self._snapshots.append(_Snapshot(kept, (frame.width, frame.height)))
        self._nbytes += len(jpeg)
        while self._snapshots and frame.video_time_s - self._snapshots[0].frame.video_time_s > self.keep_s:
            self._nbytes -= len(self._snapshots.popleft().frame.jpeg)

    def before_arrival(self, arrival_s: float, offset_s: float) -> BeforeStill:
        """The before still for an event whose first person or vehicle came into view at video time
        ``arrival_s``: the latest snapshot at least ``offset_s`` seconds earlier, else the earliest
        snapshot before the arrival, else none (the note says why)."""
        earlier = [s for s in self._snapshots if s.frame.video_time_s < arrival_s]
        preferred = [s for s in earlier if s.frame.video_time_s <= arrival_s - offset_s]
        if preferred:
            chosen = preferred[-1]
            note = "snapshot {gap:.1f} s before the arrival"
        elif earlier:
            chosen = earlier[0]
            note = (
                "snapshot {gap:.1f} s before the arrival, the earliest kept "
                f"(none is kept from {offset_s:g} s or more before it)"
            )
        elif self._started_s is None or arrival_s <= self._started_s:
            return BeforeStill(
                None, "none: the source started after the arrival (in view on its first frame)"
            )
        else:
            return BeforeStill(
                None, f"none: no snapshot is kept from before the arrival (they are kept {self.keep_s:g} s)"
            )
        try:
            frame = chosen.frame.decode()
        except StorageError:
            logger.warning("a 'before' snapshot at t=%.1f could not be decoded", chosen.frame.video_time_s)
            return BeforeStill(None, "none: the snapshot from before the arrival did not decode")
        return BeforeStill(frame, note.format(gap=arrival_s - frame.video_time_s))
