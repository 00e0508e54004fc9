"""Checks on an uploaded still or clip before anything is stored: is it what it says, whole, and safe
to decode?

A still (``image/jpeg``) must be one complete JPEG and nothing else: its markers are walked from the
start-of-image to the end-of-image, which must be the last two bytes (a zip or anything else appended
is refused), its frame header is read *before* any decoding and its pixel count held to a limit (a
280-byte progressive JPEG can claim 32000×32000 px, and its decoder would then ask for gigabytes), and
it must then decode to the end without damage (at 1/8 scale: every byte of the image data is still
read, so a still cut short is found, but little memory is spent), by Pillow and by FFmpeg's decoder
told to fail on any error (libjpeg, under Pillow, paints a picture whose data runs out grey).

A clip (``video/mp4``) must be a sequence of ISO-BMFF boxes that starts with ``ftyp``, holds a
``moov`` and ends exactly where the last box does (a clip cut short, or with something appended, is
refused).  Its frames are not decoded here.
"""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

JPEG = "image/jpeg"
MP4 = "video/mp4"

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_PROGRESSIVE = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and the restart markers carry no length
# inside entropy-coded data FF is followed by 00 (a stuffed byte), a restart marker or a fill byte;
# anything else is the next marker
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_BOX_TYPE = re.compile(rb"[\x20-\x7e\xa9]{4}")  # four printable characters (© begins Apple's own)
DECODE_SCALE = 8  # the still is decoded at 1/8 of its size to prove it decodes


class MediaError(ValueError):
    """The bytes are not a complete, acceptable file of the media type declared; the message says why."""


@dataclass(frozen=True, slots=True)
class JpegFrame:
    """A JPEG's frame header, as read from its bytes without decoding."""

    width: int
    height: int
    components: int
    progressive: bool

    @property
    def pixels(self) -> int:
        return self.width * self.height


def jpeg_frame(data: bytes) -> JpegFrame:
    """The frame header of a complete JPEG (exactly one frame, ending at the file's last byte).

    Raises :class:`MediaError` naming what is wrong: no start-of-image, a segment that runs past the
    end, a scan that is never ended, no frame header, or bytes after the end-of-image marker."""
    if not data.startswith(b"\xff\xd8\xff"):
        raise MediaError("not a JPEG: it does not start FF D8 FF")
    frame: JpegFrame | None = None
    pos = 2
    while True:
        if pos + 2 > len(data):
            raise MediaError("the JPEG is cut short: it ends before its end-of-image marker")
        if data[pos] != 0xFF:
            raise MediaError(f"the JPEG is damaged at byte {pos}: a marker was expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # a fill byte before a marker
            pos += 1
            continue
        if marker == _EOI:
            break
        if marker == _SOI:
            raise MediaError(f"a second start-of-image at byte {pos}: not one JPEG")
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 4 > len(data):
            raise MediaError("the JPEG is cut short inside a segment header")
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise MediaError(f"the JPEG is cut short: the segment at byte {pos} runs past the end")
        if marker in _SOF_MARKERS:
            if frame is not None:
                raise MediaError("the JPEG has more than one frame header")
            if length < 8:
                raise MediaError("the JPEG's frame header is too short")
            height, width, components = struct.unpack_from(">HHB", data, pos + 5)
            if width == 0 or height == 0:
                raise MediaError("the JPEG declares a zero-sized frame")
            frame = JpegFrame(width, height, components, marker in _PROGRESSIVE)
        if marker == _SOS:
            if frame is None:
                raise MediaError("the JPEG has image data before its frame header")
            found = _NEXT_MARKER.search(data, end)
            if found is None:
                raise MediaError("the JPEG is cut short: its image data is never ended")
            pos = found.start()
            continue
        pos = end
    if frame is None:
        raise MediaError("the JPEG has no frame header")
    trailing = len(data) - (pos + 2)
    if trailing:
        raise MediaError(
            f"the JPEG has {trailing} bytes after its end-of-image marker (another file appended?)"
        )
    return frame


def check_jpeg(data: bytes, *, max_pixels: int) -> JpegFrame:
    """``data`` as an acceptable still: one complete JPEG of at most ``max_pixels`` px that decodes.

    The size is checked from the frame header first; only then is the image decoded (at
    1/:data:`DECODE_SCALE`).  Raises :class:`MediaError`."""
    frame = jpeg_frame(data)
    if frame.pixels > max_pixels:
        raise MediaError(
            f"the JPEG is {frame.width}×{frame.height} px ({frame.pixels} px); the largest still "
            f"accepted is {max_pixels} px"
        )
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
            image.draft(None, (max(1, frame.width // DECODE_SCALE), max(1, frame.height // DECODE_SCALE)))
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise MediaError(f"the JPEG does not decode: {exc}") from exc
    _decode_strictly(data)
    return frame


def _decode_strictly(data: bytes) -> None:
    """Decode with FFmpeg's JPEG decoder told to fail on any damage (``err_detect=explode``), at 1/8
    scale (``lowres=3``).  libjpeg, under Pillow, only warns when the image data runs out before the
    picture is complete, and paints the rest grey: a still cut short and given an end-of-image marker,
    or whose frame header claims more pixels than its data holds, "decodes" there; here it does not.
    PyAV (the ``av`` package, FFmpeg's libraries) is already what the edge encodes clips with."""
    import av  # FFmpeg; imported here so the API's start-up does not pay for it

    context = av.CodecContext.create("mjpeg", "r")
    context.options = {"err_detect": "explode", "lowres": "3"}
    try:
        frames = [*context.decode(av.Packet(data)), *context.decode(None)]
    except (av.error.FFmpegError, ValueError) as exc:
        raise MediaError(f"the JPEG's image data is damaged or cut short: {exc}") from exc
    if not frames:
        raise MediaError("the JPEG's image data holds no complete picture")


def check_mp4(data: bytes | BinaryIO) -> None:
    """``data`` (bytes, or a seekable stream, read from its start: a clip spooled to disk is walked
    box by box, never read whole) as an acceptable clip: top-level ISO-BMFF boxes from ``ftyp`` to the
    last byte, with a ``moov``.  Raises :class:`MediaError`."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    end = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    first = stream.read(12)
    if len(first) < 12 or first[4:8] != b"ftyp":
        raise MediaError("the file is declared video/mp4 but has no ftyp box: not an MP4")
    pos = 0
    seen: set[bytes] = set()
    while pos < end:
        stream.seek(pos)
        head = stream.read(16)
        if len(head) < 8:
            raise MediaError(f"the MP4 is cut short: {end - pos} stray bytes at byte {pos}")
        size, kind = struct.unpack_from(">I4s", head)
        header = 8
        if size == 1:
            if len(head) < 16:
                raise MediaError("the MP4 is cut short inside a box header")
            (size,) = struct.unpack_from(">Q", head, 8)
            header = 16
        elif size == 0:  # the last box runs to the end of the file
            size = end - pos
        if not _BOX_TYPE.fullmatch(kind):
            raise MediaError(f"the MP4 is damaged at byte {pos}: no box starts there (something appended?)")
        if size < header or pos + size > end:
            raise MediaError(
                f"the MP4 is cut short: its {kind.decode('latin-1')!r} box at byte {pos} runs past the end"
            )
        seen.add(kind)
        pos += size
    stream.seek(0)
    if b"moov" not in seen:
        raise MediaError("the MP4 has no moov box: it cannot be played")


def check_media(media_type: str, data: bytes | BinaryIO, *, max_still_pixels: int) -> None:
    """The check for ``media_type``; :class:`MediaError` for a type this service does not store.  A
    still is read whole (it is decoded, and held to ``max_image_bytes``); a clip is walked box by box."""
    if media_type == JPEG:
        still = data if isinstance(data, bytes) else _read_all(data)
        check_jpeg(still, max_pixels=max_still_pixels)
    elif media_type == MP4:
        check_mp4(data)
    else:
        raise MediaError(f"unsupported media type {media_type!r}")


def _read_all(stream: BinaryIO) -> bytes:
    stream.seek(0)
    try:
        return stream.read()
    finally:
        stream.seek(0)
