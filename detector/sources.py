"""Frame sources: video files, RTSP/HTTP streams (reconnecting), and folders of images.

Capture times:

- **Files**: ``start + PTS`` with ``clock_source=stream``.  ``start`` is ``--start-time`` when given,
  else derived from the file's modification time minus its duration (a recorder writes the file's
  last byte when the recording ends, so mtime marks the end, not the start).
- **Streams**: OpenCV does not expose the RTCP sender clock, so capture time is this box's
  (NTP-disciplined) clock when the frame arrived, ``clock_source=receive``.  A dropped stream is
  reopened with exponential backoff for ever; each outage is recorded as a :class:`StreamGap`.
- **Image folders**: images in name order at ``fps``, from ``--start-time`` (or the first image's
  mtime), ``clock_source=stream``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from detector.types import ClockSource, Frame

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


class SourceError(RuntimeError):
    """A source cannot be opened (missing file, empty folder, unreadable video)."""


@dataclass(frozen=True, slots=True)
class StreamGap:
    """A period with no frames from a stream (camera offline, network drop)."""

    started_at: datetime
    ended_at: datetime
    reconnect_attempts: int

    @property
    def seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


class FrameSource(Protocol):
    camera_id: str
    is_live: bool

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...

    @property
    def fps(self) -> float: ...

    @property
    def frame_count(self) -> int | None: ...


def _as_bgr(image: object) -> npt.NDArray[np.uint8]:
    arr = np.asarray(image, dtype=np.uint8)
    if arr.ndim == 2:
        return np.asarray(cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR), np.uint8)
    if arr.shape[2] == 4:
        return np.asarray(cv2.cvtColor(arr, cv2.COLOR_BGRA2BGR), np.uint8)
    return arr


class FileSource:
    """A video file decoded with OpenCV; capture time = start time + PTS."""

    is_live = False

    def __init__(self, path: Path | str, camera_id: str, start_time: datetime | None = None) -> None:
        self.path = Path(path)
        self.camera_id = camera_id
        if not self.path.is_file():
            raise SourceError(f"video file not found: {self.path}")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise SourceError(f"OpenCV cannot open video {self.path} (unsupported codec or corrupt file)")
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._fps = fps if 0.0 < fps < 1000.0 else 25.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._count = count if count > 0 else None
        if start_time is None:
            duration = (self._count or 0) / self._fps
            mtime = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
            start_time = mtime - timedelta(seconds=duration)
            logger.info(
                "%s: no --start-time, using file mtime minus duration: %s", self.path, start_time.isoformat()
            )
        if start_time.tzinfo is None:
            raise SourceError("start time must be timezone-aware (add +00:00 or Z)")
        self.start_time = start_time.astimezone(UTC)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def frame_count(self) -> int | None:
        return self._count

    def frames(self) -> Iterator[Frame]:
        index = 0
        last_t = -1.0
        while True:
            ok, image = self._cap.read()
            if not ok or image is None:
                break
            pts_ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
            # Some containers report no PTS (0 every frame): fall back to index / fps.
            t = pts_ms / 1000.0 if pts_ms > 0 and pts_ms / 1000.0 > last_t else index / self._fps
            if t <= last_t:
                t = last_t + 1.0 / self._fps
            last_t = t
            yield Frame(
                image=_as_bgr(image),
                camera_id=self.camera_id,
                index=index,
                captured_at=self.start_time + timedelta(seconds=t),
                clock_source=ClockSource.STREAM,
                video_time_s=t,
            )
            index += 1

    def close(self) -> None:
        self._cap.release()


class ImageFolderSource:
    """Images in a folder, in name order, played at a fixed rate."""

    is_live = False

    def __init__(
        self, folder: Path | str, camera_id: str, start_time: datetime | None = None, fps: float = 1.0
    ) -> None:
        self.folder = Path(folder)
        self.camera_id = camera_id
        self._paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._paths:
            raise SourceError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {self.folder}")
        if fps <= 0:
            raise SourceError(f"image folder fps must be positive, got {fps}")
        self._fps = fps
        if start_time is None:
            start_time = datetime.fromtimestamp(self._paths[0].stat().st_mtime, UTC)
        if start_time.tzinfo is None:
            raise SourceError("start time must be timezone-aware (add +00:00 or Z)")
        self.start_time = start_time.astimezone(UTC)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def frame_count(self) -> int | None:
        return len(self._paths)

    def frames(self) -> Iterator[Frame]:
        index = 0
        for path in self._paths:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                logger.warning("skipping unreadable image %s", path)
                continue
            t = index / self._fps
            yield Frame(
                image=_as_bgr(image),
                camera_id=self.camera_id,
                index=index,
                captured_at=self.start_time + timedelta(seconds=t),
                clock_source=ClockSource.STREAM,
                video_time_s=t,
            )
            index += 1

    def close(self) -> None:
        return None


Opener = Callable[[str], "cv2.VideoCapture"]


class StreamSource:
    """A live RTSP/HTTP stream that reconnects with exponential backoff and never gives up.

    ``frames()`` yields until :meth:`close` is called.  Outages are appended to :attr:`gaps` and
    passed to ``on_gap`` so the pipeline can report them.
    """

    is_live = True

    def __init__(
        self,
        url: str,
        camera_id: str,
        *,
        read_timeout_s: float = 10.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        on_gap: Callable[[StreamGap], None] | None = None,
        opener: Opener | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.url = url
        self.camera_id = camera_id
        self.read_timeout_s = read_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.on_gap = on_gap
        self.gaps: list[StreamGap] = []
        self._opener = opener or self._open_ffmpeg
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._sleep = sleep or (lambda s: self._stop.wait(s))
        self._cap: cv2.VideoCapture | None = None
        self._fps = 0.0
        self.reconnects = 0

    def _open_ffmpeg(self, url: str) -> cv2.VideoCapture:
        timeout_ms = int(self.read_timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
        return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)

    @property
    def fps(self) -> float:
        return self._fps or 10.0

    @property
    def frame_count(self) -> int | None:
        return None

    def _connect(self) -> tuple[cv2.VideoCapture | None, int]:
        """Open the stream, retrying with exponential backoff until it opens or close() is called."""
        attempts = 0
        delay = self.backoff_initial_s
        while not self._stop.is_set():
            attempts += 1
            try:
                cap = self._opener(self.url)
            except cv2.error as exc:
                logger.warning("camera %s: open failed (%s)", self.camera_id, exc)
                cap = None
            if cap is not None and cap.isOpened():
                fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
                self._fps = fps if 0.0 < fps < 1000.0 else self._fps
                return cap, attempts
            if cap is not None:
                cap.release()
            logger.warning(
                "camera %s: cannot open %s (attempt %d), retrying in %.1f s",
                self.camera_id,
                self.url,
                attempts,
                delay,
            )
            self._sleep(delay)
            delay = min(delay * 2.0, self.backoff_max_s)
        return None, attempts

    def frames(self) -> Iterator[Frame]:
        index = 0
        origin = time.monotonic()
        lost_at: datetime | None = None
        while not self._stop.is_set():
            if self._cap is None:
                cap, attempts = self._connect()
                if cap is None:
                    break
                self._cap = cap
                if lost_at is not None:
                    gap = StreamGap(lost_at, self._clock(), attempts)
                    self.gaps.append(gap)
                    self.reconnects += 1
                    logger.warning(
                        "camera %s: stream back after a %.1f s gap (%d attempt(s))",
                        self.camera_id,
                        gap.seconds,
                        attempts,
                    )
                    if self.on_gap is not None:
                        self.on_gap(gap)
                    lost_at = None
            ok, image = self._cap.read()
            if not ok or image is None:
                lost_at = lost_at or self._clock()
                logger.warning(
                    "camera %s: stream dropped at %s, reconnecting", self.camera_id, lost_at.isoformat()
                )
                self._cap.release()
                self._cap = None
                continue
            yield Frame(
                image=_as_bgr(image),
                camera_id=self.camera_id,
                index=index,
                captured_at=self._clock(),
                clock_source=ClockSource.RECEIVE,
                video_time_s=time.monotonic() - origin,
            )
            index += 1

    def close(self) -> None:
        self._stop.set()
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def open_source(
    spec: str,
    camera_id: str,
    *,
    start_time: datetime | None = None,
    folder_fps: float = 1.0,
    on_gap: Callable[[StreamGap], None] | None = None,
) -> FileSource | StreamSource | ImageFolderSource:
    """Open a file, a folder of images, or a stream URL."""
    if spec.lower().startswith(STREAM_SCHEMES):
        return StreamSource(spec, camera_id, on_gap=on_gap)
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path, camera_id, start_time=start_time, fps=folder_fps)
    return FileSource(path, camera_id, start_time=start_time)
