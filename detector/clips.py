"""Browser-playable clips: H.264 in MP4 with the index first, timed by the footage's own clock.

PyAV (FFmpeg's libraries, with libx264, in the ``av`` wheel) rather than OpenCV's ``VideoWriter``:
OpenCV writes MPEG-4 Part 2 (``mp4v``), which Chromium and Firefox refuse
(``DEMUXER_ERROR_NO_SUPPORTED_STREAMS``), at a fixed frame rate, with the index at the end of the
file; PyAV gives H.264 (yuv420p, which every browser decodes), a timestamp per frame (lost frames
stay lost, a variable rate stays variable) and ``+faststart`` (playback starts before the whole
file has arrived, and HTTP Range seeking works).  It also remuxes the camera's own packets
(:mod:`detector.packet_ring`), which OpenCV cannot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 1000)  # clip timestamps in milliseconds
CRF = "23"  # libx264 quality: visually clean CCTV at a few Mbit/s
PRESET = "veryfast"  # encode speed on an edge box's CPU
# The same frames must give the same file, so a clip's SHA-256 is reproducible when footage is
# processed again, on this box or another (an event's id is derived from what it is, and the API
# refuses the same id with other content).  Three settings make libx264 deterministic:
# - one encoder thread: the frame-thread count changes rate control, so output would depend on
#   the box's core count (one thread of ``veryfast`` still encodes 720p many times real time);
# - no B-frames: with B-frames, macroblock-tree rate control read uninitialised memory at some
#   common widths (704, 720 and 960 pixels gave a different file on each encode once the heap held
#   other data; 640, 768, 1280 and 1920 did not).  Without them every frame also decodes in
#   display order, which keeps frame-by-frame stepping in a browser exact;
# - no macroblock tree at all: even without B-frames it still made about 1 in 100 small clips
#   (96x72, 5 frames) differ in a freshly started process (0 in 5,760 without it).  It costs a few
#   per cent of bitrate at the same CRF.
ENCODER_OPTIONS = {"threads": "1", "bf": "0", "x264-params": "mbtree=0"}
#: what clips were encoded with before the macroblock tree was turned off: the synthetic sample
#: clips keep it, so their pixels (and the detection figures measured on them) stay as they were
SAMPLE_ENCODER_OPTIONS = {"threads": "1", "bf": "0"}


def write_h264(
    frames: Iterable[tuple[float, npt.NDArray[np.uint8]]],
    path: Path,
    *,
    options: dict[str, str] | None = None,
) -> int:
    """Encode ``(video time s, BGR uint8 (H, W, 3))`` frames as an H.264 MP4 at ``path``.

    Timestamps are the frames' own, from zero; a frame not later than the previous one is dropped.
    Every frame is scaled to the first frame's size (rounded down to even, as 4:2:0 needs).
    The same frames give the same bytes (see ``ENCODER_OPTIONS``, the default ``options``).
    Returns how many frames were written; ValueError when there were none.
    """
    written = 0
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = None
        size = (0, 0)
        first_t = 0.0
        last_pts = -1
        for t, image in frames:
            if stream is None:
                h, w = image.shape[:2]
                size = (max(2, w - w % 2), max(2, h - h % 2))
                stream = out.add_stream("libx264", rate=10)
                stream.width, stream.height = size
                stream.pix_fmt = "yuv420p"
                stream.codec_context.time_base = TIME_BASE
                stream.options = {"crf": CRF, "preset": PRESET, **(options or ENCODER_OPTIONS)}
                first_t = t
            pts = round((t - first_t) / TIME_BASE)
            if pts <= last_pts:
                continue
            if (image.shape[1], image.shape[0]) != size:
                image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts, frame.time_base = pts, TIME_BASE
            for packet in stream.encode(frame):
                out.mux(packet)
            last_pts = pts
            written += 1
        if stream is None:
            raise ValueError("no frames to write")
        for packet in stream.encode(None):
            out.mux(packet)
    return written


def count_frames(path: Path) -> int:
    """Frames that decode from the clip at ``path`` (0 if it does not open): the check that a write
    was complete before the file gets its final name."""
    try:
        with av.open(str(path)) as container:
            return sum(1 for _ in container.decode(video=0))
    except (av.error.FFmpegError, OSError):
        return 0


def is_browser_playable(path: Path) -> bool:
    """H.264 4:2:0 in MP4 with the index (moov) before the media data (mdat)."""
    head = path.read_bytes()[: 1 << 16]
    moov, mdat = head.find(b"moov"), head.find(b"mdat")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            codec, pix = stream.codec_context.name, stream.codec_context.pix_fmt
    except (av.error.FFmpegError, OSError, IndexError):
        return False
    return codec == "h264" and pix in ("yuv420p", "yuvj420p") and 0 <= moov < (mdat if mdat >= 0 else 1 << 62)
