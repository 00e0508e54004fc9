"""Content-addressed blob store: originals are written once under their SHA-256 and never changed."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


class BlobError(Exception):
    """A blob could not be stored or found."""


class BlobHashMismatch(BlobError):
    pass


def check_sha256(sha256: str) -> str:
    if not SHA256_RE.fullmatch(sha256):
        raise BlobError(f"not a SHA-256 hex digest: {sha256!r} (64 lower-case hex digits expected)")
    return sha256


class BlobStore(ABC):
    """Blobs keyed by SHA-256. ``put`` verifies the hash; an existing blob is never overwritten."""

    @abstractmethod
    def put(self, data: bytes, *, sha256: str) -> bool:
        """Store ``data`` if it hashes to ``sha256``; True if newly written, False if already present."""

    @abstractmethod
    def exists(self, sha256: str) -> bool: ...

    @abstractmethod
    def open(self, sha256: str) -> BinaryIO: ...

    @abstractmethod
    def delete(self, sha256: str) -> bool: ...

    @abstractmethod
    def size(self, sha256: str) -> int: ...


class FilesystemBlobStore(BlobStore):
    """``root/ab/cd/abcd...``; written via temp file + fsync + rename, then made read-only."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes, *, sha256: str) -> bool:
        target = self.path(sha256)
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise BlobHashMismatch(f"content hashes to {actual}, not the declared {sha256}")
        if target.exists():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError as exc:
            raise BlobError(f"blob {sha256} is not in the store") from exc

    def size(self, sha256: str) -> int:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError as exc:
            raise BlobError(f"blob {sha256} is not in the store") from exc

    def delete(self, sha256: str) -> bool:
        p = self.path(sha256)
        try:
            p.unlink()
        except FileNotFoundError:
            return False
        logger.info("deleted blob %s", sha256)
        return True


def sha256_stream(fh: BinaryIO) -> str:
    h = hashlib.sha256()
    while chunk := fh.read(CHUNK):
        h.update(chunk)
    return h.hexdigest()
