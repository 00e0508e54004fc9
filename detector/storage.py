"""Durable files on the edge box: atomic writes, fsync, free-space checks and file hashes.

Shared by the evidence writer (``detector.evidence``), the spool (``detector.sinks.spool``) and the
model registry (``detector.backends.registry``).  A write either leaves a complete, fsynced file
under its final name or nothing that looks complete; a full disk is a :class:`DiskFullError`
whose message says what to do.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import NoReturn

logger = logging.getLogger(__name__)

#: the reserve: evidence (clips, copies) is written only while this much stays free on the disk
DEFAULT_MIN_FREE_BYTES = 200 * 1024 * 1024
#: an event's stills and crops may use the reserve down to this: a low disk costs the clip first
MIN_FREE_STILL_BYTES = 50 * 1024 * 1024
#: an event's metadata (and hard links to evidence already on disk, which cost no space) may use
#: the reserve down to this, so an event met by a full disk is still kept, with what it has
MIN_FREE_METADATA_BYTES = 8 * 1024 * 1024
#: what an event's metadata files are budgeted at when checking free space
METADATA_BYTES = 64 * 1024
_CHUNK = 1 << 20  # bytes read per step when hashing or copying


class StorageError(Exception):
    """Evidence or the spool could not be stored safely; the message says what to do."""


class DiskFullError(StorageError):
    """Not enough free space to write evidence without risking what is already stored."""


class LockHeld(StorageError):
    """Another live process holds a :class:`ProcessLock`; ``holder`` is its pid as it wrote it."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by process {holder}")
        self.holder = holder


class ProcessLock:
    """An exclusive ``flock`` on a file, held by one process at a time and released by the kernel when
    that process dies, even by ``kill -9`` (a pid file alone would outlive it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock now or raise :class:`LockHeld`; taking it twice in one process is a no-op."""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockHeld(self.path, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_free_space(directory: Path, needed_bytes: int, min_free_bytes: int) -> None:
    """Raise :class:`DiskFullError` unless ``needed_bytes`` fit and ``min_free_bytes`` stay free."""
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free - needed_bytes < min_free_bytes:
        raise DiskFullError(
            f"disk almost full at {directory}: {free / 1e6:.1f} MB free, {needed_bytes / 1e6:.1f} MB "
            f"needed and {min_free_bytes / 1e6:.1f} MB must stay free; free space (prune sent events, "
            f"check the uploader is reaching the API) or lower min_free_bytes"
        )


def raise_storage_error(exc: OSError, path: Path) -> NoReturn:
    """Re-raise an ``OSError`` from writing ``path`` as :class:`DiskFullError` or :class:`StorageError`."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise DiskFullError(f"disk full while writing {path}: {exc.strerror}; free space on the box") from exc
    raise StorageError(f"could not write {path}: {exc}") from exc


def temp_path_for(path: Path, suffix: str = "") -> Path:
    """A hidden sibling of ``path`` for writing before the atomic rename."""
    return path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}{suffix}")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` either does not exist or is complete and durable."""
    tmp = temp_path_for(path)
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise_storage_error(exc, path)


def sha256_file(path: Path) -> tuple[str, int]:
    """``(hex SHA-256, size in bytes)`` of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


#: ``link()`` errors that mean "this file system cannot hard-link here", not "something is wrong"
_NO_LINK = frozenset(
    {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EACCES}
)


def try_link(src: Path, dst: Path) -> bool:
    """Hard-link ``src`` as ``dst`` (a second name, no second copy); False where the file system
    cannot (another device, FAT/exFAT, too many links), so the caller copies instead.

    Raises ``FileExistsError`` if ``dst`` exists and ``OSError`` for any other failure.
    """
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno in _NO_LINK:
            return False
        raise
    return True


def copy_durable(src: Path, dst: Path) -> tuple[str, int]:
    """Copy ``src`` to a new file ``dst`` and fsync it; returns the SHA-256 and size of the bytes copied.

    Raises ``FileExistsError`` if ``dst`` exists (copies never overwrite).
    """
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        while block := fin.read(_CHUNK):
            digest.update(block)
            size += len(block)
            fout.write(block)
        fout.flush()
        os.fsync(fout.fileno())
    return digest.hexdigest(), size
