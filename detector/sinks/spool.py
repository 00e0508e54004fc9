"""The durable outbox between the pipeline and the uploader, and the sink that fills it.

Layout under ``root``::

    .lock           held (flock) by the one process using the spool (:meth:`Spool.lock`)
    staging/<run>/<id>/  evidence being written by a worker (``detector.sinks.staging``)
    tmp/<id>/       being written (event.json, edge.json, evidence files)
    pending/<id>/   complete, waiting for the uploader
    sent/<id>/      accepted by the API (kept for a retention window, see :meth:`Spool.prune_sent`)
    dead/<id>/      refused for good by the API (409, 422, 403) or corrupted on disk; ``dead_reason.txt``
    incomplete/<id>/  staged evidence that no complete entry holds, kept for an operator
    health.json     the edge box's spool health for an operator (``detector.sinks.health``)

An event becomes visible in ``pending/`` only by one atomic directory rename, after every file and
the directory itself have been fsynced, so a crash at any point leaves either nothing or a complete
event.  Until then its staged evidence and a manifest of its metadata (``staging/<run>/<id>/``) are
the copy a restart re-spools from, so a kill at any point loses nothing.  ``event.json`` is exactly
the metadata of ``docs/ingest-contract.md`` (``detector.contract``); ``edge.json`` keeps what only
the edge box needs (see ``detector.sinks.spool_entry``).

:class:`SpoolSink` is the first :class:`~detector.sinks.base.EventSink` of the worker: it records
the event's manifest beside its staged evidence, spools it, and only then frees the staged copy,
so the hand-off from the evidence writer's staging directory to the spool happens in one place.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detector.contract import ContractError, event_to_payload, iso_utc
from detector.identity import event_time, is_time_ordered
from detector.sinks.spool_entry import (
    DEAD_REASON,
    EDGE_JSON,
    EVENT_JSON,
    RESERVED_NAMES,
    SENT_AT,
    RecoveryReport,
    SpooledEvent,
    SpooledFile,
    SpoolError,
    load_entry,
    read_json,
)
from detector.storage import (
    DEFAULT_MIN_FREE_BYTES,
    METADATA_BYTES,
    MIN_FREE_METADATA_BYTES,
    MIN_FREE_STILL_BYTES,
    DiskFullError,
    LockHeld,
    ProcessLock,
    StorageError,
    check_free_space,
    copy_durable,
    fsync_dir,
    sha256_file,
    try_link,
    write_atomic,
)
from detector.types import Event, EvidenceFile

logger = logging.getLogger(__name__)

__all__ = [
    "DiskFullError",
    "RecoveryReport",
    "Spool",
    "SpoolBusy",
    "SpoolError",
    "SpooledEvent",
    "SpooledFile",
    "StorageError",
]

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
LOCK_FILE = ".lock"


class SpoolBusy(SpoolError):
    """Another live process holds the spool (see :meth:`Spool.lock`)."""


def _without(payload: dict[str, Any], names: list[str], why: str) -> dict[str, Any]:
    """The payload of an entry that could not take every file: those files out, and said so."""
    out = dict(payload)
    out["files"] = [f for f in payload["files"] if f["name"] not in names]
    out["details"] = {
        **payload["details"],
        "evidence_incomplete": True,
        "not_spooled": f"{', '.join(names)}: disk low on the edge box ({why})",
    }
    return out


class Spool:
    """A durable on-disk outbox of events (see the module docstring for the layout)."""

    def __init__(
        self,
        root: Path,
        *,
        min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
        min_free_still_bytes: int | None = None,
        min_free_metadata_bytes: int | None = None,
    ) -> None:
        self.root = Path(root)
        self.min_free_bytes = min_free_bytes
        # The floors default to the storage module's, never above the reserve itself.
        self.min_free_still_bytes = (
            min(min_free_bytes, MIN_FREE_STILL_BYTES)
            if min_free_still_bytes is None
            else min_free_still_bytes
        )
        self.min_free_metadata_bytes = (
            min(self.min_free_still_bytes, MIN_FREE_METADATA_BYTES)
            if min_free_metadata_bytes is None
            else min_free_metadata_bytes
        )
        self.tmp_dir = self.root / "tmp"
        self.pending_dir = self.root / "pending"
        self.sent_dir = self.root / "sent"
        self.dead_dir = self.root / "dead"
        self.staging_dir = self.root / "staging"
        self.incomplete_dir = self.root / "incomplete"
        self._lock = threading.Lock()
        self._process_lock = ProcessLock(self.root / LOCK_FILE)
        for d in (self.tmp_dir, self.pending_dir, self.sent_dir, self.dead_dir):
            d.mkdir(parents=True, exist_ok=True)

    # -- writing

    def _existing(self, event_id: str) -> Path | None:
        for d in (self.pending_dir, self.sent_dir, self.dead_dir):
            if (d / event_id).is_dir():
                return d / event_id
        return None

    def put(self, event: Event, *, move: bool = False) -> Path:
        """Spool an event and its files; returns ``pending/<id>``.

        Each file is hard-linked into the entry where the file system allows (the worker stages
        evidence inside the spool, so spooling costs no second copy), else copied (or, with
        ``move=True``, its staged name removed afterwards); either way its bytes are checked against
        the declared SHA-256 on the way in.  Spooling the same id again is a no-op that returns the
        existing directory.

        Free space (see ``detector.storage``): the metadata may use the reserve down to
        ``min_free_metadata_bytes``; a copied still down to ``min_free_still_bytes``; a copied clip
        needs the whole reserve.  A file that does not fit is left out of the entry, named in the
        payload's ``details.not_spooled`` and the event marked ``evidence_incomplete``: a low disk
        keeps the event with what fits rather than nothing (:meth:`holds` tells the caller that its
        staged original must be kept).  :class:`DiskFullError` when not even the metadata fits;
        nothing spooled before is touched then.
        """
        event_id = event.event_id
        if not _SAFE_ID.match(event_id):
            raise SpoolError(f"event id {event_id!r} is not a safe directory name")
        try:
            payload = event_to_payload(event, reserved_names=RESERVED_NAMES)
        except (ContractError, TypeError, ValueError) as exc:
            raise SpoolError(f"event {event_id} cannot be described for the API: {exc}") from exc
        with self._lock:
            existing = self._existing(event_id)
            if existing is not None:
                logger.info("event %s is already spooled at %s; not spooling it twice", event_id, existing)
                return existing
            for f in event.files:
                if not f.path.is_file():
                    raise SpoolError(f"event {event_id}: evidence file {f.path} does not exist")
            check_free_space(self.root, METADATA_BYTES, self.min_free_metadata_bytes)
            work = self.tmp_dir / event_id
            if work.exists():
                shutil.rmtree(work)  # a leftover of an earlier failed attempt at this id
            final = self.pending_dir / event_id
            left_out: list[str] = []
            try:
                work.mkdir()
                for f, spec in zip(event.files, payload["files"], strict=True):
                    if not self._place(event_id, f, work / spec["name"]):
                        left_out.append(spec["name"])
                if left_out:
                    payload = _without(payload, left_out, self._free_text())
                write_atomic(
                    work / EDGE_JSON,
                    json.dumps(
                        {
                            "start_video_s": event.start_video_s,
                            "end_video_s": event.end_video_s,
                            "spooled_at": iso_utc(datetime.now(UTC)),
                        }
                    ).encode(),
                )
                # event.json last: its presence marks the directory complete for recover().
                write_atomic(work / EVENT_JSON, json.dumps(payload, indent=1, sort_keys=True).encode())
                fsync_dir(work)
                os.rename(work, final)
                fsync_dir(self.pending_dir)
                fsync_dir(self.tmp_dir)
            except OSError as exc:
                shutil.rmtree(work, ignore_errors=True)
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise DiskFullError(
                        f"disk full while spooling event {event_id}; nothing spooled before was touched"
                    ) from exc
                raise StorageError(f"could not spool event {event_id}: {exc}") from exc
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
        if move:
            for f in event.files:
                with contextlib.suppress(FileNotFoundError):
                    f.path.unlink()
        if left_out:
            logger.error(
                "DISK LOW: spooled %s event %s WITHOUT %s (%s); its staged original is kept",
                event.type,
                event_id,
                ", ".join(left_out),
                self._free_text(),
            )
        else:
            logger.info("spooled %s event %s with %d files", event.type, event_id, len(event.files))
        return final

    def _place(self, event_id: str, f: EvidenceFile, dst: Path) -> bool:
        """Link or copy one evidence file into a new entry; False when a copy would not fit."""
        if try_link(f.path, dst):
            digest, size = sha256_file(dst)
        else:
            floor = self.min_free_bytes if f.media_type.startswith("video/") else self.min_free_still_bytes
            try:
                check_free_space(self.root, f.size + METADATA_BYTES, floor)
            except DiskFullError:
                return False
            digest, size = copy_durable(f.path, dst)
        if digest != f.sha256 or size != f.size:
            raise SpoolError(
                f"event {event_id}: {f.path} changed since it was written "
                f"(SHA-256 {digest}, {size} bytes; declared {f.sha256}, {f.size} bytes); "
                f"not spooling evidence that does not match its hash"
            )
        return True

    def _free_text(self) -> str:
        free = shutil.disk_usage(self.root).free
        return f"{free / 1e6:.1f} MB free, reserve {self.min_free_bytes / 1e6:.1f} MB"

    def holds(self, event_id: str, sha256s: Iterable[str]) -> bool:
        """True when the spool (pending/, sent/ or dead/) holds event ``event_id`` with a file of each
        of these SHA-256s on disk: what a staged copy must meet before it may be deleted."""
        path = self._existing(event_id) if _SAFE_ID.match(event_id) else None
        if path is None:
            return False
        try:
            entry = load_entry(path)
        except (OSError, ValueError, KeyError, TypeError, SpoolError):
            return False
        on_disk = {f.sha256 for f in entry.files if f.path.is_file()}
        return set(sha256s) <= on_disk

    def holds_all(self, event: Event) -> bool:
        """True when the spool holds ``event`` with every one of its files (see :meth:`holds`)."""
        return self.holds(event.event_id, (f.sha256 for f in event.files))

    def left_out(self, event_id: str) -> bool:
        """True when the spool's entry for ``event_id`` was made without some of its files (a low disk:
        ``details.not_spooled``); the staged originals of those files are then the only copy."""
        path = self._existing(event_id) if _SAFE_ID.match(event_id) else None
        try:
            return path is not None and "not_spooled" in load_entry(path).payload.get("details", {})
        except (OSError, ValueError, KeyError, TypeError, SpoolError):
            return False

    # -- one process at a time

    def lock(self) -> None:
        """Take the spool for this process until :meth:`unlock` or its death (even ``kill -9``).

        Recovery (:meth:`recover`, ``detector.sinks.staging``) must only run under the lock: it
        treats every staging directory and half-written entry as left by a dead process.
        :class:`SpoolBusy` when another live process holds it.
        """
        try:
            self._process_lock.acquire()
        except LockHeld as exc:
            raise SpoolBusy(
                f"spool {self.root} is in use by another running process (pid {exc.holder}); "
                f"give each worker its own --spool"
            ) from None

    def unlock(self) -> None:
        self._process_lock.release()

    # -- reading

    def _list(self, directory: Path, *, quarantine: bool = False) -> list[SpooledEvent]:
        out = []
        for entry in sorted(directory.iterdir(), key=lambda p: p.name):
            if not entry.is_dir() or entry.name.startswith("."):
                continue
            try:
                out.append(load_entry(entry))
            except FileNotFoundError:
                if entry.is_dir() and quarantine:
                    self._quarantine(entry, "event.json is missing")
                # else: moved to sent/ or dead/ by another thread while we listed
            except (OSError, ValueError, KeyError, TypeError, SpoolError) as exc:
                if quarantine:
                    self._quarantine(entry, f"event.json is unreadable: {exc}")
                else:
                    logger.error(
                        "spool entry %s is unreadable (%s); left for a person to inspect", entry, exc
                    )
        return out

    def _quarantine(self, entry: Path, reason: str) -> None:
        """Move a pending entry that cannot be read to dead/, so it stops blocking every round."""
        with self._lock:
            if not entry.is_dir():
                return  # another thread moved it meanwhile
            try:
                load_entry(entry)
                return  # it was mid-move after all and reads fine now
            except (OSError, ValueError, KeyError, TypeError, SpoolError):
                pass
            target = self.dead_dir / entry.name
            if target.exists():
                target = self.dead_dir / f"{entry.name}.unreadable-{int(datetime.now(UTC).timestamp())}"
            write_atomic(entry / DEAD_REASON, f"{iso_utc(datetime.now(UTC))} {reason}\n".encode())
            os.rename(entry, target)
            fsync_dir(self.dead_dir)
            fsync_dir(self.pending_dir)
        logger.error("pending spool entry %s moved to %s: %s", entry.name, target, reason)

    def pending(self) -> list[SpooledEvent]:
        """Events waiting for upload, oldest first (ids begin with their incident's time).

        A pending entry whose event.json cannot be read (a disk fault) is moved to dead/ with the
        reason, rather than being skipped with an error on every round.
        """
        return self._list(self.pending_dir, quarantine=True)

    def sent(self) -> list[SpooledEvent]:
        return self._list(self.sent_dir)

    def dead(self) -> list[SpooledEvent]:
        return self._list(self.dead_dir)

    def stats(self) -> dict[str, int | float | None]:
        """Counts per state, bytes waiting, and the age in seconds of the oldest pending event (since
        it was spooled), and how many entries ``incomplete/`` keeps for an operator."""

        def names(d: Path) -> list[str]:
            return [p.name for p in d.iterdir() if p.is_dir()] if d.is_dir() else []

        pending = names(self.pending_dir)
        waiting = sum(
            p.stat().st_size for n in pending for p in (self.pending_dir / n).iterdir() if p.is_file()
        )
        oldest = min((t for n in pending if (t := self._spooled_at(n)) is not None), default=None)
        return {
            "pending": len(pending),
            "pending_bytes": waiting,
            "oldest_pending_age_s": None if oldest is None else (datetime.now(UTC) - oldest).total_seconds(),
            "sent": len(names(self.sent_dir)),
            "dead": len(names(self.dead_dir)),
            "incomplete": len(names(self.incomplete_dir)),
        }

    def _spooled_at(self, event_id: str) -> datetime | None:
        try:
            edge = read_json(self.pending_dir / event_id / EDGE_JSON)
            return datetime.fromisoformat(str(edge["spooled_at"]))
        except (OSError, ValueError, KeyError, TypeError, SpoolError):
            return event_time(event_id) if is_time_ordered(event_id) else None

    def get(self, event_id: str) -> SpooledEvent:
        path = self._existing(event_id) if _SAFE_ID.match(event_id) else None
        if path is None:
            raise SpoolError(f"no spooled event {event_id!r} under {self.root}")
        return load_entry(path)

    def dead_reason(self, event_id: str) -> str:
        path = self.dead_dir / event_id / DEAD_REASON
        if not path.is_file():
            raise SpoolError(f"event {event_id!r} is not in dead/")
        return path.read_text(encoding="utf-8")

    # -- state changes

    def _move(self, event_id: str, target_dir: Path, marker: str, text: str) -> Path:
        if not _SAFE_ID.match(event_id):
            raise SpoolError(f"event id {event_id!r} is not a safe directory name")
        with self._lock:
            src = self.pending_dir / event_id
            if not src.is_dir():
                raise SpoolError(f"event {event_id} is not pending (already sent or dead?)")
            write_atomic(src / marker, text.encode("utf-8"))
            dst = target_dir / event_id
            os.rename(src, dst)
            fsync_dir(target_dir)
            fsync_dir(self.pending_dir)
            return dst

    def mark_sent(self, event_id: str) -> Path:
        path = self._move(event_id, self.sent_dir, SENT_AT, iso_utc(datetime.now(UTC)))
        logger.info("event %s sent", event_id)
        return path

    def mark_dead(self, event_id: str, reason: str) -> Path:
        """For permanent refusals (409, 422, 403) and corrupted evidence; never for network errors."""
        text = f"{iso_utc(datetime.now(UTC))} {reason.strip()}\n"
        path = self._move(event_id, self.dead_dir, DEAD_REASON, text)
        logger.error("event %s moved to dead/: %s", event_id, reason)
        return path

    def prune_sent(self, older_than: timedelta) -> list[str]:
        """Delete sent events older than the retention window; returns their ids."""
        cutoff = datetime.now(UTC) - older_than
        pruned = []
        for entry in sorted(self.sent_dir.iterdir()):
            marker = entry / SENT_AT
            try:
                sent_at = datetime.fromisoformat(marker.read_text(encoding="utf-8").strip())
            except (OSError, ValueError):
                sent_at = datetime.fromtimestamp(entry.stat().st_mtime, UTC)
            if sent_at < cutoff:
                shutil.rmtree(entry)
                pruned.append(entry.name)
        if pruned:
            fsync_dir(self.sent_dir)
            logger.info("pruned %d sent events older than %s", len(pruned), older_than)
        return pruned

    def recover(self) -> RecoveryReport:
        """At start-up: finish or clean what a killed process left in ``tmp/``.

        A tmp entry whose event.json declares files that all exist with the right size and hash
        (the kill came between the last fsync and the rename) is promoted to pending; anything
        else is half-written and removed.  Stray temporary files elsewhere are deleted.
        """
        report = RecoveryReport()
        with self._lock:
            for entry in sorted(self.tmp_dir.iterdir()):
                if not entry.is_dir():
                    entry.unlink()
                    report.stray_files += 1
                    continue
                if self._complete(entry) and self._existing(entry.name) is None:
                    os.rename(entry, self.pending_dir / entry.name)
                    report.promoted.append(entry.name)
                    logger.warning("recovered complete event %s from an interrupted spool write", entry.name)
                else:
                    shutil.rmtree(entry)
                    report.removed.append(entry.name)
                    logger.warning("removed half-written spool entry %s", entry.name)
            for state in (self.pending_dir, self.sent_dir, self.dead_dir):
                for event_dir in state.iterdir():
                    if event_dir.is_dir():
                        for stray in event_dir.glob(".*.tmp-*"):
                            stray.unlink()
                            report.stray_files += 1
            fsync_dir(self.tmp_dir)
            fsync_dir(self.pending_dir)
        return report

    def _complete(self, entry: Path) -> bool:
        try:
            event = load_entry(entry)
        except (OSError, ValueError, KeyError, TypeError, SpoolError):
            return False
        return event.event_id == entry.name and not event.verify()
