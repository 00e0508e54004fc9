"""The filesystem blob store: ``root/ab/cd/abcd...``, each blob written once and made read-only."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from evidence_api.storage.base import BlobError, BlobHashMismatch, Content, check_sha256, chunks_of

logger = logging.getLogger(__name__)


class FilesystemBlobStore:
    """A :class:`~evidence_api.storage.base.BlobStore` in a directory; written via temp file + fsync +
    rename, then made read-only."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: Content, *, sha256: str) -> bool:
        # Written to a temporary file beside the target while hashing, so a stream of any length passes
        # through in bounded chunks; renamed into place only once the hash is right.
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks_of(data):
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            actual = digest.hexdigest()
            if actual != sha256:
                raise BlobHashMismatch(f"content hashes to {actual}, not the declared {sha256}")
            if target.exists():
                Path(tmp).unlink()
                return False
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
