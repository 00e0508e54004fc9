"""HTTP Range for evidence downloads (RFC 9110 §14): one byte range of a stored file, or all of it.

A browser's ``<video>`` asks for ``Range: bytes=0-`` and then for the spans it seeks to; without a 206
answer it cannot seek, and some browsers will not play at all.  This module decides what to send and
streams it; it knows no web framework, so the services may use it (the routes turn a :class:`Reply`
into a response).

What is honoured, and what is not:

* one range: ``bytes=a-b``, ``bytes=a-`` (to the end) and ``bytes=-n`` (the last n bytes); a last
  position past the end is cut to the end, a suffix longer than the file is the whole file;
* a first position at or past the end (or ``bytes=-0``) cannot be satisfied: 416 with
  ``Content-Range: bytes */size``;
* anything else is ignored and the whole file is sent (200), as RFC 9110 §14.2 allows: another unit,
  a malformed or reversed range (``bytes=5-1``), and several ranges (a multipart answer is of no use to
  a video player and costs a second code path);
* ``If-Range``: we send no validator (no ``ETag`` or ``Last-Modified``) it could match, so a request
  carrying one gets the whole file, as §13.1.5 requires for a validator that does not match.

Example::

    part = RangeRequest("bytes=0-99").select(size=5000)   # ByteRange(start=0, end=99)
    reply = plan_reply(stream, size=5000, media_type="video/mp4", part=part)
    # reply.status == 206, reply.headers["Content-Range"] == "bytes 0-99/5000"
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

logger = logging.getLogger(__name__)

CHUNK_BYTES: Final = 256 * 1024
"""Bytes read from the store per chunk sent: large enough that a clip streams in few reads, small
enough that many viewers at once hold little memory (a clip is never read whole)."""

# one range-spec: first-pos "-" [last-pos], or "-" suffix-length; ASCII digits only (str.isdigit and
# int() would take other scripts' digits, signs and underscores)
_SPEC = re.compile(r"([0-9]*)-([0-9]*)")
_UNIT = "bytes"
# positions longer than this many digits are beyond any file we store (and int() refuses very long
# digit strings); they are read as "past the end" rather than parsed
_MAX_DIGITS = 18
_BEYOND = 10**_MAX_DIGITS


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``start`` to ``end`` of a file, both inclusive (as in ``Content-Range``)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"not a byte range: {self.start}-{self.end}")

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"


@dataclass(frozen=True, slots=True)
class Unsatisfiable:
    """The range asked for starts at or past the end of the file (answered 416)."""

    def __str__(self) -> str:
        return "unsatisfiable"


UNSATISFIABLE: Final = Unsatisfiable()

Part = ByteRange | Unsatisfiable | None
"""What to send of a file: a range of it, nothing (416), or (None) all of it."""


def _position(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_DIGITS else _BEYOND


@dataclass(frozen=True, slots=True)
class RangeRequest:
    """A request's ``Range`` and ``If-Range`` header values, as sent (either may be absent)."""

    range: str | None = None
    if_range: str | None = None

    def select(self, *, size: int) -> Part:
        """What to send of a file of ``size`` bytes (see the module's docstring for the rules)."""
        if self.range is None or self.if_range is not None:
            return None
        unit, sep, range_set = self.range.strip().partition("=")
        if not sep or unit.strip().lower() != _UNIT:
            return None
        # a list may carry empty elements ("0-99,"), which a recipient ignores (RFC 9110 §5.6.1)
        specs = [s.strip() for s in range_set.split(",") if s.strip()]
        if len(specs) != 1:
            return None
        m = _SPEC.fullmatch(specs[0])
        if m is None or m.group(1) == m.group(2) == "":
            return None
        first, last = m.group(1), m.group(2)
        if not first:  # the last n bytes
            suffix = _position(last)
            if suffix == 0:
                return UNSATISFIABLE
            if size == 0:
                return None  # nothing to send but the (empty) whole
            return ByteRange(max(size - suffix, 0), size - 1)
        start = _position(first)
        end = _position(last) if last else size - 1
        if last and end < start:
            return None  # invalid: ignored, as §14.2 allows
        if start >= size:
            return UNSATISFIABLE
        return ByteRange(start, min(end, size - 1))


def read_span(
    stream: BinaryIO, *, start: int, length: int, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[bytes]:
    """``length`` bytes of ``stream`` from ``start``, in chunks of at most ``chunk_bytes``; closes the
    stream when done (or when the consumer stops early)."""
    try:
        stream.seek(start)
        left = length
        while left > 0:
            chunk = stream.read(min(chunk_bytes, left))
            if not chunk:
                # the length was promised in Content-Length; the server will fail the response
                logger.error("stored file ended %d bytes early (from byte %d)", left, start)
                return
            left -= len(chunk)
            yield chunk
    finally:
        stream.close()


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer to a download: its status, headers and the body's chunks."""

    status: int
    headers: dict[str, str]  # Content-Type, Content-Length, Accept-Ranges, Content-Range
    body: Iterator[bytes]


def plan_reply(
    stream: BinaryIO,
    *,
    size: int,
    media_type: str,
    part: Part,
    headers_only: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
) -> Reply:
    """The answer for ``part`` of a file of ``size`` bytes and ``media_type``, open as ``stream``: 200
    with all of it, 206 with ``Content-Range``, or 416 with ``Content-Range: bytes */size`` and no body.
    ``headers_only`` (a HEAD request): the same status and headers, and no body.  The stream is closed
    here when nothing is to be read from it, else by the body once it is read (or dropped)."""
    headers = {"Accept-Ranges": "bytes"}
    if isinstance(part, Unsatisfiable):
        stream.close()
        headers.update({"Content-Range": f"bytes */{size}", "Content-Length": "0"})
        return Reply(416, headers, iter(()))
    headers["Content-Type"] = media_type
    if part is None:
        status, start, length = 200, 0, size
    else:
        status, start, length = 206, part.start, part.length
        headers["Content-Range"] = f"bytes {part}/{size}"
    headers["Content-Length"] = str(length)
    if headers_only:
        stream.close()
        return Reply(status, headers, iter(()))
    return Reply(status, headers, read_span(stream, start=start, length=length, chunk_bytes=chunk_bytes))
