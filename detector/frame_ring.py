"""The last seconds of a camera's video in memory, JPEG-encoded: what evidence clips are cut from.

The pipeline pushes frames at the clip frame rate; the evidence policy picks the 'act' still from
it and the evidence writer cuts clips from a span of it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from detector.jpeg import JpegError, decode_jpeg, encode_jpeg
from detector.storage import StorageError
from detector.types import ClockSource, Frame

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RingFrame:
    """One frame held in the ring, JPEG-encoded; :meth:`decode` gives the :class:`Frame` back."""

    video_time_s: float
    captured_at: datetime
    jpeg: bytes
    camera_id: str
    index: int
    clock_source: ClockSource

    def decode(self) -> Frame:
        """The frame back; :class:`~detector.storage.StorageError` if its JPEG does not decode."""
        try:
            image = decode_jpeg(self.jpeg)
        except JpegError as exc:
            raise StorageError(f"frame {self.index} in the ring is not a decodable JPEG") from exc
        return Frame(
            image=image,
            camera_id=self.camera_id,
            index=self.index,
            captured_at=self.captured_at,
            clock_source=self.clock_source,
            video_time_s=self.video_time_s,
        )


class FrameRing:
    """The last ``seconds`` of video (by video time), JPEG-encoded to keep memory low.

    A 720p JPEG is about 100 KB, so 60 s at 10 fps is about 60 MB.  Thread-safe: the pipeline
    pushes while an evidence writer may read a span.
    """

    def __init__(self, seconds: float, jpeg_quality: int = 90) -> None:
        if seconds <= 0:
            raise ValueError(f"FrameRing needs a positive length in seconds, got {seconds}")
        if not 1 <= jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1..100, got {jpeg_quality}")
        self.seconds = float(seconds)
        self.jpeg_quality = int(jpeg_quality)
        self._frames: deque[RingFrame] = deque()
        self._bytes = 0
        self._lock = threading.Lock()

    def push(self, frame: Frame) -> None:
        """Keep ``frame`` (JPEG-encoded); older frames than the ring's length fall out."""
        try:
            jpeg = encode_jpeg(frame.image, self.jpeg_quality)
        except JpegError:
            logger.warning("frame %d of %s could not be JPEG-encoded; not kept", frame.index, frame.camera_id)
            return
        item = RingFrame(
            video_time_s=float(frame.video_time_s),
            captured_at=frame.captured_at,
            jpeg=jpeg,
            camera_id=frame.camera_id,
            index=frame.index,
            clock_source=frame.clock_source,
        )
        with self._lock:
            if self._frames and item.video_time_s < self._frames[-1].video_time_s:
                # The source restarted (a file looped, a stream reconnected with a new clock):
                # older frames belong to another timeline.
                logger.info("video time went back on %s; frame ring restarted", frame.camera_id)
                self._frames.clear()
                self._bytes = 0
            self._frames.append(item)
            self._bytes += len(item.jpeg)
            horizon = item.video_time_s - self.seconds
            while self._frames and self._frames[0].video_time_s < horizon:
                self._bytes -= len(self._frames.popleft().jpeg)

    def frames_between(self, start_s: float, end_s: float) -> list[RingFrame]:
        """The frames whose video time lies in ``[start_s, end_s]``, oldest first."""
        with self._lock:
            return [f for f in self._frames if start_s <= f.video_time_s <= end_s]

    def latest(self) -> RingFrame | None:
        with self._lock:
            return self._frames[-1] if self._frames else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    @property
    def nbytes(self) -> int:
        """Memory held by the JPEG payloads."""
        return self._bytes
