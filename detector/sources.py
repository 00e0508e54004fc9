"""Frame sources: video files and live streams (PyAV), and folders of images; times from the footage.

Every frame's time comes from the footage itself, never from a frame count:

- **Files** are demuxed and decoded with PyAV (FFmpeg).  ``video_time_s`` is the frame's
  presentation timestamp (PTS) relative to the first frame's, so lost frames leave gaps and a
  variable frame rate is honoured.  Capture time is ``start + video_time_s``, where ``start`` is,
  in order: the operator's ``--start-time``; the container's own ``creation_time`` tag (what a
  camera or NVR export records); or, *assumed* and said so loudly, the file's modification time
  minus its duration.  :attr:`FileSource.clock` records which (the event carries it).
- A file **without timestamps** (a raw Motion-JPEG or H.264 elementary stream: FFmpeg would invent
  25 fps) is refused unless the operator gives ``--fps``.
- A file that **ends early** (truncated, damaged) says how much was read against what its header
  promised; packets that do not decode are counted and skipped, never fatal.
- **Streams** (RTSP/HTTP/…) reconnect with exponential backoff for ever, recording each outage as a
  :class:`StreamGap`.  Capture time is this box's (NTP-disciplined) clock when the frame arrived
  (``clock_source=receive``), and ``video_time_s`` is the stream's own PTS, continued across
  reconnects so it never runs backwards.
- **Image folders**: images in name order at ``--fps`` (default 1), from ``--start-time`` or the
  first image's modification time (assumed, said loudly).

A frame whose picture size changes mid-stream (a camera reconnecting to its sub-stream) is passed on
at its new size; the pipeline notices.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av
import cv2
import numpy as np
import numpy.typing as npt

from detector.packet_ring import PacketRing
from detector.types import ClockSource, Frame

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
AVFMT_NOTIMESTAMPS = 0x0100  # libavformat: the format carries no timestamps (raw streams, image pipes)
EARLY_END_SHARE = 0.97  # reading less than this share of the declared duration is "ended early"


class SourceError(RuntimeError):
    """A source cannot be opened or timed (missing file, unreadable video, no timestamps)."""


class TimeOrigin(enum.StrEnum):
    """Where the capture time of a source's first frame came from."""

    OPERATOR = "operator"  # --start-time
    CONTAINER = "container"  # the file's own creation_time tag
    FILE_MTIME = "file_mtime"  # assumed: modification time minus duration
    RECEIVE = "receive"  # a live stream: this box's clock at arrival


class FrameTiming(enum.StrEnum):
    """Where the time between frames came from."""

    PTS = "pts"  # the container's or stream's presentation timestamps
    OPERATOR_FPS = "operator_fps"  # no timestamps in the file: the operator's --fps


@dataclass(frozen=True, slots=True)
class ClockInfo:
    """How a source's times were established, for the event's record and the officer."""

    origin: TimeOrigin
    timing: FrameTiming

    @property
    def assumed(self) -> bool:
        return self.origin is TimeOrigin.FILE_MTIME

    def as_details(self) -> dict[str, str | bool]:
        return {
            "clock_origin": str(self.origin),
            "frame_timing": str(self.timing),
            "clock_assumed": self.assumed,
        }


@dataclass(frozen=True, slots=True)
class StreamGap:
    """A period with no frames from a stream (camera offline, network drop)."""

    started_at: datetime
    ended_at: datetime
    reconnect_attempts: int

    @property
    def seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(slots=True)
class ReadReport:
    """What a finite source delivered against what it promised."""

    frames_read: int = 0
    seconds_read: float = 0.0
    frames_expected: int | None = None
    seconds_expected: float | None = None
    undecodable_packets: int = 0
    size_changes: int = 0

    @property
    def ended_early(self) -> bool:
        return (
            self.seconds_expected is not None and self.seconds_read < EARLY_END_SHARE * self.seconds_expected
        )

    def summary(self) -> str:
        expected = f" of {self.frames_expected}" if self.frames_expected else ""
        seconds = f" of {self.seconds_expected:.1f} s" if self.seconds_expected else ""
        return (
            f"read {self.frames_read}{expected} frames ({self.seconds_read:.1f} s{seconds}), "
            f"{self.undecodable_packets} undecodable packet(s), {self.size_changes} picture size change(s)"
        )


class FrameSource(Protocol):
    camera_id: str
    is_live: bool
    clock: ClockInfo

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


def _is_i420(frame: av.VideoFrame) -> bool:
    return frame.format.name in ("yuv420p", "yuvj420p") and frame.width % 2 == 0 and frame.height % 2 == 0


def to_bgr(frame: av.VideoFrame) -> npt.NDArray[np.uint8]:
    """A decoded picture as BGR uint8 (H, W, 3); 4:2:0 goes through OpenCV, ~2× faster than swscale."""
    if _is_i420(frame):
        return np.asarray(cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2BGR_I420), np.uint8)
    return np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)


def make_frame(
    decoded: av.VideoFrame, camera_id: str, index: int, captured_at: datetime, clock: ClockSource, t: float
) -> Frame:
    """A :class:`Frame` that keeps 4:2:0 pictures as they came (BGR is made only if something asks)."""
    if _is_i420(decoded):
        return Frame(
            None, camera_id, index, captured_at, clock, t, i420=np.asarray(decoded.to_ndarray(), np.uint8)
        )
    return Frame(to_bgr(decoded), camera_id, index, captured_at, clock, t)


def _container_start(container: av.container.InputContainer) -> datetime | None:
    """The container's ``creation_time`` tag (ISO 8601), if it is a plausible time."""
    for tags in (container.metadata, *(s.metadata for s in container.streams.video)):
        text = tags.get("creation_time")
        if not text:
            continue
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            logger.warning("ignoring unreadable creation_time tag %r", text)
            continue
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value.year >= 2000:  # muxers write 1904/1970 when nobody set it
            return value.astimezone(UTC)
    return None


def _rate(stream: av.video.stream.VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < float(rate) < 1000:
            return float(rate)
    return None


@dataclass(slots=True)
class _PtsClock:
    """Turns decoded frames' PTS into seconds from the first frame, strictly increasing."""

    fallback_fps: float
    origin_pts: int | None = None
    offset_s: float = 0.0  # added after a reconnect so time never runs backwards
    last_s: float = -1.0
    missing_pts: int = field(default=0)

    def seconds(self, frame: av.VideoFrame, index: int) -> float:
        tb: Fraction | None = frame.time_base
        if frame.pts is None or tb is None:
            self.missing_pts += 1
            t = self.last_s + 1.0 / self.fallback_fps if self.last_s >= 0 else 0.0
        else:
            if self.origin_pts is None:
                self.origin_pts = int(frame.pts)
            t = self.offset_s + float((int(frame.pts) - self.origin_pts) * tb)
        if t <= self.last_s:  # a repeated or reordered timestamp: one frame period on
            t = self.last_s + 1.0 / self.fallback_fps
        self.last_s = t
        return t

    def packet_seconds(self, packet: av.Packet) -> float:
        """The video time of a compressed packet, on the same clock as its decoded frame (the first
        packet's PTS is the origin when it comes before the first frame)."""
        tb: Fraction | None = packet.time_base
        if packet.pts is None or tb is None:
            return max(self.last_s, 0.0)
        if self.origin_pts is None:
            self.origin_pts = int(packet.pts)
        return self.offset_s + float((int(packet.pts) - self.origin_pts) * tb)

    def restart(self) -> None:
        """A new connection: its PTS start again somewhere else; continue after the last frame."""
        self.offset_s = self.last_s + 1.0 / self.fallback_fps
        self.origin_pts = None


def _decode(packet: av.Packet, report: ReadReport, where: str) -> list[av.VideoFrame]:
    try:
        return list(packet.decode())
    except av.error.FFmpegError as exc:  # a damaged packet costs that packet, never the source
        report.undecodable_packets += 1
        if report.undecodable_packets <= 5:
            logger.warning("%s: skipping an undecodable packet: %s", where, exc)
        return []


class FileSource:
    """A video file decoded with PyAV; capture time = start + PTS (see the module docstring)."""

    is_live = False

    def __init__(
        self,
        path: Path | str,
        camera_id: str,
        start_time: datetime | None = None,
        *,
        fps: float | None = None,
        threads: int = 0,
        packet_ring: PacketRing | None = None,
    ) -> None:
        self.path = Path(path)
        self.packet_ring = packet_ring
        self.camera_id = camera_id
        if not self.path.is_file():
            raise SourceError(f"video file not found: {self.path}")
        if fps is not None and not 0 < fps < 1000:
            raise SourceError(f"--fps must be between 0 and 1000, got {fps}")
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(
                f"cannot open video {self.path}: {exc} (unsupported format or corrupt file)"
            ) from exc
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"cannot open video {self.path}: it has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._stream.thread_count = threads
        no_timestamps = bool(self._container.format.flags & AVFMT_NOTIMESTAMPS)
        if no_timestamps and fps is None:
            self._container.close()
            raise SourceError(
                f"{self.path} ({self._container.format.name}) carries no timestamps, so its frame rate and "
                "every capture time would be guessed; give --fps (the rate the camera recorded at) "
                "and --start-time (when its first frame was captured)"
            )
        self._fps_override = fps
        self._fps = fps or _rate(self._stream) or 25.0
        self.report = ReadReport(
            frames_expected=self._stream.frames or None, seconds_expected=self._declared_seconds()
        )
        if start_time is not None:
            if start_time.tzinfo is None:
                raise SourceError("start time must be timezone-aware (add +00:00 or Z)")
            origin = TimeOrigin.OPERATOR
        elif (tagged := _container_start(self._container)) is not None:
            start_time, origin = tagged, TimeOrigin.CONTAINER
            logger.info(
                "%s: capture start from the file's creation_time tag: %s", self.path, tagged.isoformat()
            )
        else:
            duration = self.report.seconds_expected or 0.0
            mtime = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
            start_time, origin = mtime - timedelta(seconds=duration), TimeOrigin.FILE_MTIME
            logger.warning(
                "%s: no --start-time and no creation_time in the file: ASSUMING capture started at %s "
                "(file modified %s minus its %.1f s). Events will say their clock was assumed; "
                "give --start-time for evidential times.",
                self.path,
                start_time.isoformat(),
                mtime.isoformat(),
                duration,
            )
        self.start_time = start_time.astimezone(UTC)
        timing = FrameTiming.OPERATOR_FPS if fps is not None else FrameTiming.PTS
        if fps is not None and not no_timestamps:
            logger.warning("%s: --fps %.3g overrides the file's own timestamps", self.path, fps)
        self.clock = ClockInfo(origin, timing)

    def _declared_seconds(self) -> float | None:
        """The longest duration the file's headers claim (a truncated AVI's stream duration shrinks
        with the file; its header's frame count does not)."""
        s = self._stream
        claims = []
        if s.duration and s.time_base:
            claims.append(float(s.duration * s.time_base))
        if self._container.duration:
            claims.append(self._container.duration / 1_000_000)
        if s.frames and self._fps:
            claims.append(s.frames / self._fps)
        return max(claims) if claims else None

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def frame_count(self) -> int | None:
        return self.report.frames_expected

    def frames(self) -> Iterator[Frame]:
        report = self.report
        clock = _PtsClock(self._fps)
        size: tuple[int, int] | None = None
        index = 0
        packets = 0
        if self.packet_ring is not None:
            self.packet_ring.start_segment(self._stream)
        for packet in self._container.demux(self._stream):
            if self.packet_ring is not None and packet.size:
                # the operator's rate times packets as it times frames (one picture per packet there)
                t_packet = (
                    packets / self._fps_override if self._fps_override else clock.packet_seconds(packet)
                )
                self.packet_ring.push(packet, t_packet)
                packets += 1
            for decoded in _decode(packet, report, str(self.path)):
                if self._fps_override is not None:
                    t = index / self._fps_override
                else:
                    t = clock.seconds(decoded, index)
                if size is not None and size != (decoded.width, decoded.height):
                    report.size_changes += 1
                size = (decoded.width, decoded.height)
                report.frames_read = index + 1
                report.seconds_read = t + 1.0 / self._fps
                yield make_frame(
                    decoded,
                    self.camera_id,
                    index,
                    self.start_time + timedelta(seconds=t),
                    ClockSource.STREAM,
                    t,
                )
                index += 1
        if clock.missing_pts:
            logger.warning(
                "%s: %d frame(s) had no timestamp; each was timed one frame period (%.3f s) after the last",
                self.path,
                clock.missing_pts,
                1.0 / self._fps,
            )
        if report.ended_early or report.undecodable_packets:
            logger.warning("%s: ENDED EARLY or damaged: %s", self.path, report.summary())
        else:
            logger.info("%s: %s", self.path, report.summary())

    def close(self) -> None:
        self._container.close()


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
        if not 0 < fps < 1000:
            raise SourceError(f"image folder fps must be between 0 and 1000, got {fps}")
        self._fps = fps
        origin = TimeOrigin.OPERATOR
        if start_time is None:
            start_time = datetime.fromtimestamp(self._paths[0].stat().st_mtime, UTC)
            origin = TimeOrigin.FILE_MTIME
            logger.warning(
                "%s: no --start-time: ASSUMING the first image was captured at its modification time %s",
                self.folder,
                start_time.isoformat(),
            )
        if start_time.tzinfo is None:
            raise SourceError("start time must be timezone-aware (add +00:00 or Z)")
        self.start_time = start_time.astimezone(UTC)
        self.clock = ClockInfo(origin, FrameTiming.OPERATOR_FPS)
        self.report = ReadReport(frames_expected=len(self._paths), seconds_expected=len(self._paths) / fps)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def frame_count(self) -> int | None:
        return len(self._paths)

    def frames(self) -> Iterator[Frame]:
        index = 0
        size: tuple[int, int] | None = None
        for n, path in enumerate(self._paths):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                self.report.undecodable_packets += 1
                logger.warning("skipping unreadable image %s", path)
                continue
            if size is not None and size != image.shape[:2]:
                self.report.size_changes += 1
            size = image.shape[:2]
            t = n / self._fps  # an unreadable image keeps its slot in time
            self.report.frames_read = index + 1
            self.report.seconds_read = t + 1.0 / self._fps
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


Opener = Callable[[str], Any]


class StreamSource:
    """A live RTSP/HTTP stream (PyAV) that reconnects with exponential backoff and never gives up.

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
        packet_ring: PacketRing | None = None,
    ) -> None:
        self.url = url
        self.packet_ring = packet_ring
        self.camera_id = camera_id
        self.read_timeout_s = read_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.on_gap = on_gap
        self.gaps: list[StreamGap] = []
        self._opener = opener or self._open
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._sleep = sleep or (lambda s: self._stop.wait(s))
        self._container: Any = None
        self._fps = 0.0
        self.reconnects = 0
        self.clock = ClockInfo(TimeOrigin.RECEIVE, FrameTiming.PTS)
        self.report = ReadReport()

    def _open(self, url: str) -> Any:
        options = {"timeout": str(int(self.read_timeout_s * 1_000_000))}  # microseconds, for socket reads
        if url.lower().startswith(("rtsp://", "rtsps://")):
            options["rtsp_transport"] = "tcp"  # no lost UDP packets smearing the evidence
        return av.open(url, options=options, timeout=self.read_timeout_s)

    @property
    def fps(self) -> float:
        return self._fps or 10.0

    @property
    def frame_count(self) -> int | None:
        return None

    def _connect(self) -> tuple[Any, int]:
        """Open the stream, retrying with exponential backoff until it opens or close() is called."""
        attempts = 0
        delay = self.backoff_initial_s
        while not self._stop.is_set():
            attempts += 1
            try:
                container = self._opener(self.url)
                if not container.streams.video:
                    container.close()
                    raise SourceError("no video stream")
                self._fps = _rate(container.streams.video[0]) or self._fps
                return container, attempts
            except (av.error.FFmpegError, OSError, SourceError) as exc:
                logger.warning(
                    "camera %s: cannot open %s (attempt %d: %s), retrying in %.1f s",
                    self.camera_id,
                    self.url,
                    attempts,
                    exc,
                    delay,
                )
            self._sleep(delay)
            delay = min(delay * 2.0, self.backoff_max_s)
        return None, attempts

    def _packets(self, container: Any) -> Iterator[av.Packet]:
        stream = container.streams.video[0]
        try:
            yield from container.demux(stream)
        except (av.error.FFmpegError, OSError) as exc:
            logger.warning("camera %s: stream read failed: %s", self.camera_id, exc)

    def frames(self) -> Iterator[Frame]:
        index = 0
        clock = _PtsClock(10.0)
        lost_at: datetime | None = None
        while not self._stop.is_set():
            container, attempts = self._connect()
            if container is None:
                break
            self._container = container
            clock.fallback_fps = self.fps
            if lost_at is not None:
                gap = StreamGap(lost_at, self._clock(), attempts)
                self.gaps.append(gap)
                self.reconnects += 1
                clock.restart()
                logger.warning(
                    "camera %s: stream back after a %.1f s gap (%d attempt(s))",
                    self.camera_id,
                    gap.seconds,
                    attempts,
                )
                if self.on_gap is not None:
                    self.on_gap(gap)
                lost_at = None
            if self.packet_ring is not None:
                self.packet_ring.start_segment(container.streams.video[0])
            for packet in self._packets(container):
                if self._stop.is_set():
                    break
                if self.packet_ring is not None and packet.size:
                    self.packet_ring.push(packet, clock.packet_seconds(packet))
                for decoded in _decode(packet, self.report, f"camera {self.camera_id}"):
                    t = clock.seconds(decoded, index)
                    self.report.frames_read = index + 1
                    yield make_frame(decoded, self.camera_id, index, self._clock(), ClockSource.RECEIVE, t)
                    index += 1
            container.close()
            self._container = None
            if not self._stop.is_set():
                lost_at = self._clock()
                logger.warning(
                    "camera %s: stream dropped at %s, reconnecting", self.camera_id, lost_at.isoformat()
                )

    def close(self) -> None:
        self._stop.set()


def open_source(
    spec: str,
    camera_id: str,
    *,
    start_time: datetime | None = None,
    fps: float | None = None,
    on_gap: Callable[[StreamGap], None] | None = None,
    packet_ring: PacketRing | None = None,
) -> FileSource | StreamSource | ImageFolderSource:
    """Open a file, a folder of images, or a stream URL (``fps``: the operator's frame rate for a
    file without timestamps or a folder of images, default 1 for a folder).  Files and streams keep
    their compressed packets in ``packet_ring`` for evidence clips."""
    if spec.lower().startswith(STREAM_SCHEMES):
        return StreamSource(spec, camera_id, on_gap=on_gap, packet_ring=packet_ring)
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path, camera_id, start_time=start_time, fps=fps or 1.0)
    return FileSource(path, camera_id, start_time=start_time, fps=fps, packet_ring=packet_ring)
