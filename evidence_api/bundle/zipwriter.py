"""Writing the bundle's zip: append-only (so the whole file is hashed as it is written), each member
hashed as it streams in and remembered for the manifest's file list."""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from evidence_api.bundle.manifest import FileEntry
from evidence_api.bundle.verify import CHUNK  # 1 MiB: memory stays flat however large the clip

logger = logging.getLogger(__name__)


class AppendOnlySink:
    """The output file as the zip writer sees it: append-only.  Unable to seek back and patch each
    member's header, ``zipfile`` puts sizes and CRCs in data descriptors after the data (a standard
    form every zip reader handles), so the whole bundle can be hashed as it is written, not read back.
    """

    def __init__(self, fh: BinaryIO, digest: Any | None) -> None:
        self.fh, self.digest, self.position = fh, digest, 0

    def write(self, data: bytes) -> int:
        if self.digest is not None:
            self.digest.update(data)
        self.position += len(data)
        return self.fh.write(data)

    def tell(self) -> int:
        return self.position

    def seek(self, *_: object) -> int:
        raise OSError("the bundle is written append-only")

    def flush(self) -> None:
        self.fh.flush()


def _tee(chunks: Iterator[bytes], keep: io.BytesIO) -> Iterator[bytes]:
    for chunk in chunks:
        keep.write(chunk)
        yield chunk


class BundleZipWriter:
    """Adds members to the zip, hashing each as it streams, and remembers them for the manifest."""

    def __init__(self, zf: zipfile.ZipFile, when: datetime) -> None:
        self.zf = zf
        utc = when.astimezone(UTC)
        self.date_time = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
        self.files: list[FileEntry] = []

    def _info(self, name: str, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o100444 << 16  # a regular read-only file
        return info

    def add_stream(
        self,
        name: str,
        source: BinaryIO,
        media_type: str,
        kind: str,
        *,
        keep: io.BytesIO | None = None,
        large: bool = False,
    ) -> tuple[str, int]:
        """A member read from ``source`` in 1 MiB chunks (copied into ``keep`` too, if given)."""
        chunks: Iterator[bytes] = iter(lambda: source.read(CHUNK), b"")
        if keep is not None:
            chunks = _tee(chunks, keep)
        return self.add_chunks(name, chunks, media_type, kind, large=large)

    def add_bytes(self, name: str, data: bytes, media_type: str, kind: str, *, compress: bool = False) -> str:
        sha, _ = self.add_chunks(name, [data], media_type, kind, compress=compress)
        return sha

    def add_chunks(
        self,
        name: str,
        chunks: Iterable[bytes],
        media_type: str,
        kind: str,
        *,
        compress: bool = False,
        large: bool = False,
    ) -> tuple[str, int]:
        """A member written piece by piece, hashed as it goes; returns its SHA-256 and size.  Members are
        stored, not deflated, unless asked: media is compressed already, and the documents are small
        beside it and readable as they are in any zip tool."""
        digest = hashlib.sha256()
        size = 0
        with self.zf.open(self._info(name, compress), "w", force_zip64=large) as dst:
            for chunk in chunks:
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        sha = digest.hexdigest()
        self.files.append({"path": name, "sha256": sha, "size": size, "media_type": media_type, "kind": kind})
        return sha, size

    def add_unlisted(self, name: str, data: bytes) -> None:
        """The manifest and its signature: the only members the manifest cannot list."""
        self.zf.writestr(self._info(name, compress=False), data)
