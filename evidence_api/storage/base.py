"""What every blob store is: originals keyed by their SHA-256, written once and never changed."""

from __future__ import annotations

import logging
import re
from typing import BinaryIO, Protocol

logger = logging.getLogger(__name__)

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class BlobError(Exception):
    """A blob could not be stored or found."""


class BlobHashMismatch(BlobError):
    """The bytes offered do not hash to the SHA-256 they were declared under."""


def check_sha256(sha256: str) -> str:
    """``sha256`` itself if it is 64 lower-case hex digits; BlobError otherwise."""
    if not SHA256_RE.fullmatch(sha256):
        raise BlobError(f"not a SHA-256 hex digest: {sha256!r} (64 lower-case hex digits expected)")
    return sha256


class BlobStore(Protocol):
    """Blobs keyed by SHA-256. ``put`` verifies the hash; an existing blob is never overwritten.

    Every method raises :class:`BlobError` for a key that is not a SHA-256 hex digest; ``open`` and
    ``size`` raise it too for a blob that is not in the store.
    """

    def put(self, data: bytes, *, sha256: str) -> bool:
        """Store ``data`` if it hashes to ``sha256`` (:class:`BlobHashMismatch` if not); True if newly
        written, False if already present."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether the blob is in the store."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """A fresh binary stream of the blob's bytes; the caller closes it."""
        ...

    def delete(self, sha256: str) -> bool:
        """Remove the blob; False if it was not there."""
        ...

    def size(self, sha256: str) -> int:
        """The blob's size in bytes."""
        ...
