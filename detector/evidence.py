"""Evidence on the edge box: stills (master + annotated copy), crops and clips of one event.

Every file is written write-once and atomically (``detector.storage``): bytes go to a hidden
temporary file in the same directory, are fsynced, and only then renamed to their final name (and
the directory fsynced), so a crash or a full disk never leaves a partial file under a name that
looks complete.  The SHA-256 in each :class:`~detector.types.EvidenceFile` is computed from the
bytes actually written.

The master ("original") of a still is the frame exactly as captured, JPEG-encoded with no overlay;
the "annotated" working copy adds boxes, labels and a timestamp burn-in (UTC and the site's display
time zone, Europe/London by default).  Clips are cut from the camera's own packets
(:class:`~detector.packet_ring.PacketRing`: a remuxed master and an H.264 working copy) or, for a
source without packets, from a :class:`~detector.frame_ring.FrameRing` (see ``detector.clips``).
Which stills an event gets, and which span its clip covers, is ``detector.evidence_policy``'s
decision; this module only writes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import cv2
import numpy as np
import numpy.typing as npt

from detector.clips import count_frames, write_h264
from detector.config import DEFAULT_DISPLAY_TIMEZONE
from detector.frame_ring import FrameRing, RingFrame
from detector.jpeg import JpegError, encode_jpeg
from detector.packet_ring import PacketRing
from detector.storage import (
    DEFAULT_MIN_FREE_BYTES,
    MIN_FREE_STILL_BYTES,
    StorageError,
    check_free_space,
    fsync_dir,
    raise_storage_error,
    sha256_file,
    temp_path_for,
    write_atomic,
)
from detector.types import EvidenceFile, FileKind, Frame, StillRole

logger = logging.getLogger(__name__)

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

Box = tuple[float, float, float, float]


# --- drawing -------------------------------------------------------------------------------------


def timestamp_text(captured_at: datetime, display_timezone: str = DEFAULT_DISPLAY_TIMEZONE) -> str:
    """'2026-11-24 16:00:00.123 UTC | 16:00:00 GMT Europe/London' for the burn-in.

    ``display_timezone`` is an IANA name (the site's ``display_timezone``); it is shown as given.
    """
    utc = captured_at.astimezone(ZoneInfo("UTC"))
    local = captured_at.astimezone(ZoneInfo(display_timezone))
    return (
        f"{utc:%Y-%m-%d %H:%M:%S}.{utc.microsecond // 1000:03d} UTC | "
        f"{local:%H:%M:%S} {local.tzname()} {display_timezone}"
    )


def _label(
    img: npt.NDArray[np.uint8], text: str, x: int, y: int, scale: float, colour: tuple[int, int, int]
) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    h, w = img.shape[:2]
    x = int(min(max(0, x), max(0, w - tw - 4)))
    y = int(min(max(th + base + 4, y), h))
    cv2.rectangle(img, (x, y - th - base - 4), (x + tw + 4, y), colour, -1)
    cv2.putText(img, text, (x + 2, y - base - 2), font, scale, (0, 0, 0), thickness, cv2.LINE_AA)


def annotate(
    image: npt.NDArray[np.uint8],
    captured_at: datetime,
    camera_id: str,
    boxes: Sequence[tuple[Box, str]] = (),
    offset: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    display_timezone: str = DEFAULT_DISPLAY_TIMEZONE,
) -> npt.NDArray[np.uint8]:
    """A copy of ``image`` with boxes, labels and the timestamp burn-in (OpenCV drawing only).

    ``offset``/``scale`` map frame coordinates onto ``image`` (for crops); the burn-in shows UTC and
    the local time in ``display_timezone``.
    """
    out = np.ascontiguousarray(image.copy())
    h, w = out.shape[:2]
    font_scale = max(0.4, min(w, h) / 900.0)
    line = max(1, round(min(w, h) / 300.0))
    for (x1, y1, x2, y2), text in boxes:
        p1 = (int((x1 - offset[0]) * scale), int((y1 - offset[1]) * scale))
        p2 = (int((x2 - offset[0]) * scale), int((y2 - offset[1]) * scale))
        cv2.rectangle(out, p1, p2, (0, 255, 255), line + 1, cv2.LINE_AA)
        if text:
            _label(out, text, p1[0], p1[1], font_scale, (0, 255, 255))
    stamp = f"{camera_id}  {timestamp_text(captured_at, display_timezone)}"
    _label(out, stamp, 0, h, font_scale, (255, 255, 255))
    return out


# --- the writer ----------------------------------------------------------------------------------


class EvidenceWriter:
    """Writes an event's stills, crops and clip under ``staging_dir/<event_key>/``.

    The spool sink links the files into the spool when the event is complete and then calls
    :meth:`discard` to free the staging (``detector.sinks.spool_sink.SpoolSink``).  Stills and crops
    may use the free-space reserve down to ``min_free_still_bytes`` (default
    ``storage.MIN_FREE_STILL_BYTES``, never above ``min_free_bytes``), clips need all of it: a low
    disk costs an event its clip before its stills.  Every method raises
    :class:`~detector.storage.StorageError` (or its :class:`~detector.storage.DiskFullError`) when
    a file cannot be stored safely, and ``ValueError`` for an unsafe key or an empty box or span.
    """

    def __init__(
        self,
        staging_dir: Path,
        *,
        jpeg_quality: int = 95,
        min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
        min_free_still_bytes: int | None = None,
        annotated_min_width: int = 480,
        display_timezone: str = DEFAULT_DISPLAY_TIMEZONE,
    ) -> None:
        if not 1 <= jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1..100, got {jpeg_quality}")
        self.staging_dir = Path(staging_dir)
        self.jpeg_quality = jpeg_quality
        self.min_free_bytes = min_free_bytes
        self.min_free_still_bytes = (
            min(min_free_bytes, MIN_FREE_STILL_BYTES)
            if min_free_still_bytes is None
            else min_free_still_bytes
        )
        self.annotated_min_width = annotated_min_width
        self.display_timezone = display_timezone
        self._files: dict[str, list[EvidenceFile]] = {}
        self._lock = threading.Lock()

    # -- paths and bookkeeping

    def _event_dir(self, event_key: str) -> Path:
        if not _SAFE_KEY.match(event_key):
            raise ValueError(
                f"event key {event_key!r} is not a safe directory name (letters, digits, '.', '_', '-')"
            )
        directory = self.staging_dir / event_key
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise_storage_error(exc, directory)
        return directory

    def _free_name(self, directory: Path, stem: str, suffix: str) -> Path:
        """``stem.suffix``, or ``stem-2.suffix`` ... when an earlier still took the name."""
        candidate = directory / f"{stem}{suffix}"
        n = 2
        while candidate.exists():
            candidate = directory / f"{stem}-{n}{suffix}"
            n += 1
        return candidate

    def _record(self, event_key: str, files: list[EvidenceFile]) -> list[EvidenceFile]:
        with self._lock:
            self._files.setdefault(event_key, []).extend(files)
        return files

    def _write_jpeg(
        self, path: Path, data: bytes, role: str, kind: FileKind, captured_at: datetime
    ) -> EvidenceFile:
        write_atomic(path, data)
        return EvidenceFile(
            path=path,
            role=role,
            kind=kind,
            media_type="image/jpeg",
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            captured_at=captured_at,
        )

    def _pair(
        self,
        event_key: str,
        stem: str,
        role: str,
        master: npt.NDArray[np.uint8],
        annotated: npt.NDArray[np.uint8],
        captured_at: datetime,
    ) -> list[EvidenceFile]:
        directory = self._event_dir(event_key)
        try:
            original_bytes = encode_jpeg(master, self.jpeg_quality)
            annotated_bytes = encode_jpeg(annotated, self.jpeg_quality)
        except JpegError as exc:
            raise StorageError(str(exc)) from exc
        check_free_space(directory, len(original_bytes) + len(annotated_bytes), self.min_free_still_bytes)
        with self._lock:  # two threads writing the same role must not pick the same name
            original_path = self._free_name(directory, stem, ".jpg")
            annotated_path = original_path.with_name(original_path.stem + ".annotated.jpg")
            files = [
                self._write_jpeg(original_path, original_bytes, role, FileKind.ORIGINAL, captured_at),
                self._write_jpeg(annotated_path, annotated_bytes, role, FileKind.ANNOTATED, captured_at),
            ]
        return self._record(event_key, files)

    # -- public API

    def still(
        self,
        event_key: str,
        role: StillRole,
        frame: Frame | RingFrame,
        boxes: Sequence[tuple[Box, str]] = (),
    ) -> list[EvidenceFile]:
        """The whole frame: the original master (no overlay) and an annotated working copy."""
        if isinstance(frame, RingFrame):
            frame = frame.decode()
        annotated = annotate(
            frame.image, frame.captured_at, frame.camera_id, boxes, display_timezone=self.display_timezone
        )
        return self._pair(event_key, str(role), str(role), frame.image, annotated, frame.captured_at)

    def crop(
        self,
        event_key: str,
        role: StillRole,
        frame: Frame | RingFrame,
        xyxy: Box,
        margin: float = 0.15,
        *,
        region: Box | None = None,
    ) -> list[EvidenceFile]:
        """A region around ``xyxy`` (a vehicle, a plate, a deposit): its original pixels as master, an
        enlarged annotated copy with ``xyxy`` boxed.

        The region is ``region`` when given (frame pixels, e.g. a deposit's
        :func:`~detector.geometry.context_box`), else ``xyxy`` grown by ``margin`` × its size on
        each side; either way clamped to the frame."""
        if isinstance(frame, RingFrame):
            frame = frame.decode()
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        if not (x2 > x1 and y2 > y1):
            raise ValueError(f"crop box {xyxy} is empty (need x2 > x1 and y2 > y1)")
        if region is None:
            mx, my = (x2 - x1) * margin, (y2 - y1) * margin
            region = (x1 - mx, y1 - my, x2 + mx, y2 + my)
        cx1, cy1 = max(0, int(region[0])), max(0, int(region[1]))
        cx2, cy2 = min(frame.width, int(np.ceil(region[2]))), min(frame.height, int(np.ceil(region[3])))
        if cx2 <= cx1 or cy2 <= cy1:
            raise ValueError(f"crop box {xyxy} lies outside the {frame.width}x{frame.height} frame")
        master = np.ascontiguousarray(frame.image[cy1:cy2, cx1:cx2])
        scale = max(1.0, self.annotated_min_width / master.shape[1])
        enlarged = cv2.resize(master, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        annotated = annotate(
            np.asarray(enlarged, np.uint8),
            frame.captured_at,
            frame.camera_id,
            [((x1, y1, x2, y2), str(role))],
            offset=(cx1, cy1),
            scale=scale,
            display_timezone=self.display_timezone,
        )
        return self._pair(event_key, f"{role}-crop", str(role), master, annotated, frame.captured_at)

    def clip(
        self,
        event_key: str,
        start_s: float,
        end_s: float,
        *,
        captured_at_of: Callable[[float], datetime],
        packets: PacketRing | None = None,
        frames: FrameRing | None = None,
    ) -> tuple[list[EvidenceFile], str]:
        """The clip of ``[start_s, end_s]`` (video seconds) and a sentence saying what it is.

        From ``packets`` (the camera's stream) when they cover the span: an H.265/H.264 stream gives
        the **master**, its packets remuxed untouched (``original``), and a browser-playable H.264
        **working copy** at the source frame rate (``annotated``); any other codec gives only the
        H.264 transcode, labelled as such.  Otherwise from ``frames`` (JPEGs kept at the clip rate).
        ``captured_at_of`` maps a video time to its capture time.  ValueError when neither covers
        the span; StorageError when a file cannot be stored whole."""
        span = packets.span(start_s, end_s) if packets is not None else []
        directory = self._event_dir(event_key)
        if packets is not None and span:
            check_free_space(directory, 3 * sum(len(p.data) for p in span), self.min_free_bytes)
            master_file: EvidenceFile | None = None
            first_t = span[0].t_s
            if packets.remuxable:
                master_file = self._write_clip(
                    directory,
                    "clip",
                    FileKind.ORIGINAL,
                    captured_at_of(first_t),
                    lambda tmp: packets.remux(span, tmp),
                )
            kind = FileKind.ANNOTATED if master_file is not None else FileKind.ORIGINAL
            decoded = ((t, img) for t, img in packets.decode(span) if start_s <= t <= end_s)
            working = self._write_clip(
                directory,
                "clip.working" if master_file is not None else "clip",
                kind,
                captured_at_of(max(first_t, start_s)),
                lambda tmp: write_h264(decoded, tmp),
            )
            if master_file is not None:
                what = (
                    f"master: the camera's own {packets.codec} stream, not re-encoded; "
                    "working copy: H.264 for browsers"
                )
                return self._record(event_key, [master_file, working]), what
            return self._record(
                event_key, [working]
            ), f"H.264 transcode of the camera's {packets.codec} stream"
        kept = frames.frames_between(start_s, end_s) if frames is not None else []
        if not kept:
            raise ValueError(f"no frames kept between {start_s:.2f} s and {end_s:.2f} s")
        check_free_space(directory, 2 * sum(len(f.jpeg) for f in kept), self.min_free_bytes)
        only = self._write_clip(
            directory,
            "clip",
            FileKind.ORIGINAL,
            kept[0].captured_at,
            lambda tmp: write_h264(((f.video_time_s, f.decode().image) for f in kept), tmp),
        )
        return self._record(event_key, [only]), f"H.264 from frames kept at {len(kept)} frames"

    def _write_clip(
        self,
        directory: Path,
        stem: str,
        kind: FileKind,
        captured_at: datetime,
        write: Callable[[Path], object],
    ) -> EvidenceFile:
        """Write a clip through ``write(tmp)``, check every frame decodes, fsync, name it."""
        with self._lock:
            path = self._free_name(directory, stem, ".mp4")
            tmp = temp_path_for(path, ".mp4")
        try:
            write(tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            if count_frames(tmp) == 0:
                raise StorageError(
                    f"the clip at {path} does not decode (damaged source packets or a write error); not kept"
                )
            digest, nbytes = sha256_file(tmp)
            os.replace(tmp, path)
            fsync_dir(directory)
        except (OSError, av.error.FFmpegError) as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            if isinstance(exc, OSError):
                raise_storage_error(exc, path)
            raise StorageError(f"the clip at {path} could not be written: {exc}") from exc
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return EvidenceFile(
            path=path,
            role="clip",
            kind=kind,
            media_type="video/mp4",
            sha256=digest,
            size=nbytes,
            captured_at=captured_at,
        )

    def files_for(self, event_key: str) -> list[EvidenceFile]:
        with self._lock:
            return list(self._files.get(event_key, []))

    def discard(self, event_key: str) -> None:
        """Forget an event's staged files and delete them (after spooling, or for a dropped event)."""
        with self._lock:
            self._files.pop(event_key, None)
        directory = self.staging_dir / event_key
        if _SAFE_KEY.match(event_key) and directory.is_dir():
            shutil.rmtree(directory)
