"""What every blob store is: originals keyed by their SHA-256, written once and never changed."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import BinaryIO, Final, Protocol

logger = logging.getLogger(__name__)

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

READ_CHUNK_BYTES: Final = 256 * 1024
"""Bytes a store reads from a stream it is given at a time: a clip passes through in bounded pieces."""

Content = bytes | BinaryIO
"""What ``put`` takes: the bytes themselves (a still, a print copy), or a binary stream read to its end
in chunks (a clip, never held whole in memory)."""


class BlobError(Exception):
    """A blob could not be stored or found."""


class BlobHashMismatch(BlobError):
    """The bytes offered do not hash to the SHA-256 they were declared under."""


class BlobStoreUnavailable(Exception):
    """The store cannot be reached or is not answering (an object store that is down, refusing the
    credentials, or without its bucket): nothing was written, try again later.  Deliberately not a
    :class:`BlobError`, which callers read as "no such blob": the API answers this with 503 and
    ``Retry-After`` (:mod:`evidence_api.outage`), never with 404."""


def check_sha256(sha256: str) -> str:
    """``sha256`` itself if it is 64 lower-case hex digits; BlobError otherwise."""
    if not SHA256_RE.fullmatch(sha256):
        raise BlobError(f"not a SHA-256 hex digest: {sha256!r} (64 lower-case hex digits expected)")
    return sha256


def chunks_of(data: Content, chunk_bytes: int = READ_CHUNK_BYTES) -> Iterator[bytes]:
    """``data`` in pieces of at most ``chunk_bytes`` (bytes are sliced without copying the whole)."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for start in range(0, len(view), chunk_bytes):
            yield bytes(view[start : start + chunk_bytes])
        return
    while chunk := data.read(chunk_bytes):
        yield chunk


class BlobStore(Protocol):
    """Blobs keyed by SHA-256. ``put`` verifies the hash before a blob becomes visible under its key; an
    existing blob is never overwritten.

    Every method raises :class:`BlobError` for a key that is not a SHA-256 hex digest; ``open`` and
    ``size`` raise it too for a blob that is not in the store.  A store that cannot be reached raises
    :class:`BlobStoreUnavailable` (and has written nothing).
    """

    def put(self, data: Content, *, sha256: str) -> bool:
        """Store ``data`` (bytes, or a binary stream read to its end in bounded chunks) if it hashes to
        ``sha256`` (:class:`BlobHashMismatch` if not, and nothing is left behind); True if newly
        written, False if already present."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether the blob is in the store."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """A fresh, seekable binary stream of the blob's bytes; the caller closes it.  Reads are served
        in bounded pieces (an HTTP Range download seeks, then reads only its span)."""
        ...

    def delete(self, sha256: str) -> bool:
        """Remove the blob; False if it was not there."""
        ...

    def size(self, sha256: str) -> int:
        """The blob's size in bytes."""
        ...
