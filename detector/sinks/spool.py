"""The durable outbox between the pipeline and the uploader, and the sink that fills it.

Layout under ``root``::

    tmp/<id>/       being written (event.json, edge.json, evidence files)
    pending/<id>/   complete, waiting for the uploader
    sent/<id>/      accepted by the API (kept for a retention window, see :meth:`Spool.prune_sent`)
    dead/<id>/      refused for good by the API (409, 422, 403) or corrupted on disk; ``dead_reason.txt``

An event becomes visible in ``pending/`` only by one atomic directory rename, after every file and
the directory itself have been fsynced, so a crash at any point leaves either nothing or a complete
event.  ``event.json`` is exactly the metadata of ``docs/ingest-contract.md`` (``detector.contract``);
``edge.json`` keeps what only the edge box needs (see ``detector.sinks.spool_entry``).

:class:`SpoolSink` is the first :class:`~detector.sinks.base.EventSink` of the worker: it spools each
finished event and then frees the event's staged evidence, so the hand-off from the evidence writer's
staging directory to the spool happens in one visible place.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from detector.contract import ContractError, event_to_payload, iso_utc
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
)
from detector.storage import (
    DEFAULT_MIN_FREE_BYTES,
    DiskFullError,
    StorageError,
    check_free_space,
    copy_durable,
    fsync_dir,
    write_atomic,
)
from detector.types import Event
from detector.uuid7 import is_uuid7, uuid7_time

logger = logging.getLogger(__name__)

__all__ = [
    "DiskFullError",
    "RecoveryReport",
    "Spool",
    "SpoolError",
    "SpoolSink",
    "SpooledEvent",
    "SpooledFile",
    "StorageError",
]

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class Spool:
    """A durable on-disk outbox of events (see the module docstring for the layout)."""

    def __init__(self, root: Path, *, min_free_bytes: int = DEFAULT_MIN_FREE_BYTES) -> None:
        self.root = Path(root)
        self.min_free_bytes = min_free_bytes
        self.tmp_dir = self.root / "tmp"
        self.pending_dir = self.root / "pending"
        self.sent_dir = self.root / "sent"
        self.dead_dir = self.root / "dead"
        self._lock = threading.Lock()
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

        Files are copied (or moved with ``move=True``) and checked against their declared SHA-256
        on the way in.  Spooling the same id again is a no-op that returns the existing directory.
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
            needed = sum(f.size for f in event.files) + 64 * 1024
            check_free_space(self.root, needed, self.min_free_bytes)
            work = self.tmp_dir / event_id
            if work.exists():
                shutil.rmtree(work)  # a leftover of an earlier failed attempt at this id
            final = self.pending_dir / event_id
            try:
                work.mkdir()
                for f, spec in zip(event.files, payload["files"], strict=True):
                    dst = work / spec["name"]
                    digest, size = copy_durable(f.path, dst)
                    if digest != f.sha256 or size != f.size:
                        raise SpoolError(
                            f"event {event_id}: {f.path} changed since it was written "
                            f"(SHA-256 {digest}, {size} bytes; declared {f.sha256}, {f.size} bytes); "
                            f"not spooling evidence that does not match its hash"
                        )
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
        logger.info("spooled %s event %s with %d files", event.type, event_id, len(event.files))
        return final

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
        """Events waiting for upload, oldest first (UUIDv7 ids sort by creation time).

        A pending entry whose event.json cannot be read (a disk fault) is moved to dead/ with the
        reason, rather than being skipped with an error on every round.
        """
        return self._list(self.pending_dir, quarantine=True)

    def sent(self) -> list[SpooledEvent]:
        return self._list(self.sent_dir)

    def dead(self) -> list[SpooledEvent]:
        return self._list(self.dead_dir)

    def stats(self) -> dict[str, int | float | None]:
        """Counts per state, bytes waiting, and the age in seconds of the oldest pending event."""

        def names(d: Path) -> list[str]:
            return [p.name for p in d.iterdir() if p.is_dir()]

        pending = names(self.pending_dir)
        waiting = sum(
            p.stat().st_size for n in pending for p in (self.pending_dir / n).iterdir() if p.is_file()
        )
        oldest = min((uuid7_time(n) for n in pending if is_uuid7(n)), default=None)
        return {
            "pending": len(pending),
            "pending_bytes": waiting,
            "oldest_pending_age_s": None if oldest is None else (datetime.now(UTC) - oldest).total_seconds(),
            "sent": len(names(self.sent_dir)),
            "dead": len(names(self.dead_dir)),
        }

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


class Staging(Protocol):
    """Where an event's evidence waits until the spool holds its own copy (the evidence writer)."""

    staging_dir: Path

    def discard(self, event_key: str) -> None:
        """Delete an event's staged files."""
        ...


class SpoolSink:
    """The spool as an :class:`~detector.sinks.base.EventSink`: keep the event, then free its staging.

    A storage failure (disk full, a file that changed since it was written) is logged and the staged
    files are left where they are for an operator to recover; the camera keeps running.
    """

    def __init__(self, spool: Spool, *, staging: Staging | None = None) -> None:
        self.spool = spool
        self.staging = staging

    def publish(self, event: Event) -> None:
        try:
            path = self.spool.put(event)
        except StorageError as exc:
            logger.error(
                "event %s (%s) NOT spooled: %s; staged files kept in %s",
                event.event_id,
                event.type,
                exc,
                None if self.staging is None else self.staging.staging_dir,
            )
            return
        if self.staging is not None:
            self.staging.discard(event.event_id)
        logger.info("event %s (%s) spooled at %s", event.event_id, event.type, path)

    def close(self) -> None:
        """Nothing to release: every put is durable when it returns."""
        return None
