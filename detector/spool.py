"""The durable outbox between the pipeline and the uploader.

Layout under ``root``::

    tmp/<id>/       being written (event.json, edge.json, evidence files)
    pending/<id>/   complete, waiting for the uploader
    sent/<id>/      accepted by the API (kept for a retention window, see :meth:`Spool.prune_sent`)
    dead/<id>/      refused for good by the API (409, 422, 403) or corrupted on disk; ``dead_reason.txt``

An event becomes visible in ``pending/`` only by one atomic directory rename, after every file and
the directory itself have been fsynced, so a crash at any point leaves either nothing or a complete
event.  ``event.json`` is exactly the metadata of ``docs/ingest-contract.md`` (each file gets a
``name`` inside the event directory); ``edge.json`` keeps what only the edge box needs.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import math
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from detector.evidence import (
    DEFAULT_MIN_FREE_BYTES,
    DiskFullError,
    StorageError,
    check_free_space,
    fsync_dir,
    sha256_file,
    write_atomic,
)
from detector.types import ClockSource, Event, EventType, EvidenceFile, FileKind, PlateRead

logger = logging.getLogger(__name__)

__all__ = [
    "DiskFullError",
    "RecoveryReport",
    "Spool",
    "SpoolError",
    "SpooledEvent",
    "SpooledFile",
    "StorageError",
    "event_to_payload",
    "payload_to_event",
]

EVENT_JSON = "event.json"
EDGE_JSON = "edge.json"
DEAD_REASON = "dead_reason.txt"
SENT_AT = "sent_at.txt"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


class SpoolError(StorageError):
    """A spool operation that cannot be done as asked (unknown id, bad event)."""


# --- payloads --------------------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the contract needs UTC with an offset")
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def _file_names(files: list[EvidenceFile]) -> list[str]:
    """A unique, safe name per file inside the event directory (the staged basename where possible)."""
    names: list[str] = []
    taken: set[str] = set()
    for i, f in enumerate(files):
        name = f.path.name if _SAFE_NAME.match(f.path.name) else f"file-{i}{f.path.suffix[:8]}"
        if name in taken or name in (EVENT_JSON, EDGE_JSON, DEAD_REASON, SENT_AT):
            name = f"{i}-{name}"
        taken.add(name)
        names.append(name)
    return names


def _detail_value(key: str, value: Any) -> str | int | float | bool:
    """A flat JSON value for ``details`` (numpy scalars unwrapped; NaN and anything else as text)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    logger.warning("event detail %r has a %s value; sent as text", key, type(value).__name__)
    return str(value)


def _confidence(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def event_to_payload(event: Event) -> dict[str, Any]:
    """The ``POST /api/v1/events`` body for an event (``docs/ingest-contract.md``).

    Values are plain JSON: numpy scalars from the pipeline are unwrapped, non-finite numbers dropped.
    """
    plate = (
        None
        if event.plate is None
        else {
            "text": event.plate.text,
            "confidence": _confidence(event.plate.confidence),
            "valid_uk_format": event.plate.valid_uk_format,
        }
    )
    files = [
        {
            "name": name,
            "role": f.role,
            "kind": str(f.kind),
            "media_type": f.media_type,
            "sha256": f.sha256,
            "size": int(f.size),
            "captured_at": _iso(f.captured_at),
        }
        for f, name in zip(event.files, _file_names(event.files), strict=True)
    ]
    return {
        "id": event.event_id,
        "type": str(event.type),
        "site_id": event.site_id,
        "camera_id": event.camera_id,
        "started_at": _iso(event.started_at),
        "ended_at": _iso(event.ended_at),
        "clock_source": str(event.clock_source),
        "model": {"name": event.model_name, "sha256": event.model_sha256},
        "rule_version": event.rule_version,
        "zone": event.zone,
        "linked_event_ids": list(event.linked_event_ids),
        "plate": plate,
        "details": {str(k): _detail_value(str(k), v) for k, v in event.details.items()},
        "files": files,
    }


def payload_to_event(
    payload: dict[str, Any],
    base_dir: Path | None = None,
    *,
    start_video_s: float = 0.0,
    end_video_s: float = 0.0,
) -> Event:
    """The :class:`Event` back from a payload; file paths are ``base_dir / name``.

    Video times are not part of the contract; the spool keeps them in ``edge.json``.
    """
    try:
        base = base_dir if base_dir is not None else Path()
        plate = payload.get("plate")
        return Event(
            event_id=str(payload["id"]),
            type=EventType(payload["type"]),
            site_id=str(payload["site_id"]),
            camera_id=str(payload["camera_id"]),
            started_at=datetime.fromisoformat(payload["started_at"]),
            ended_at=datetime.fromisoformat(payload["ended_at"]),
            start_video_s=start_video_s,
            end_video_s=end_video_s,
            clock_source=ClockSource(payload["clock_source"]),
            model_name=str(payload["model"]["name"]),
            model_sha256=str(payload["model"]["sha256"]),
            rule_version=str(payload["rule_version"]),
            zone=payload.get("zone"),
            linked_event_ids=[str(x) for x in payload.get("linked_event_ids", [])],
            plate=None
            if plate is None
            else PlateRead(
                text=plate.get("text"),
                confidence=plate.get("confidence"),
                valid_uk_format=bool(plate.get("valid_uk_format")),
            ),
            files=[
                EvidenceFile(
                    path=base / f["name"],
                    role=str(f["role"]),
                    kind=FileKind(f["kind"]),
                    media_type=str(f["media_type"]),
                    sha256=str(f["sha256"]),
                    size=int(f["size"]),
                    captured_at=datetime.fromisoformat(f["captured_at"]),
                )
                for f in payload.get("files", [])
            ],
            details=dict(payload.get("details") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SpoolError(f"not a valid event payload: {exc!r}") from exc


# --- spooled events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpooledFile:
    name: str
    path: Path
    sha256: str
    size: int
    media_type: str


@dataclass(frozen=True, slots=True)
class SpooledEvent:
    """A complete event on disk: its contract payload and its files."""

    event_id: str
    path: Path
    payload: dict[str, Any]
    files: list[SpooledFile]

    def file_by_sha256(self, sha256: str) -> SpooledFile | None:
        for f in self.files:
            if f.sha256 == sha256:
                return f
        return None

    def verify(self) -> list[str]:
        """Problems with the files on disk (missing, wrong size, wrong hash); empty when intact."""
        problems: list[str] = []
        for f in self.files:
            if not f.path.is_file():
                problems.append(f"{f.name} is missing")
                continue
            digest, size = sha256_file(f.path)
            if size != f.size:
                problems.append(f"{f.name} is {size} bytes on disk, {f.size} declared")
            elif digest != f.sha256:
                problems.append(f"{f.name} SHA-256 on disk is {digest}, {f.sha256} declared (file changed)")
        return problems

    def to_event(self) -> Event:
        edge = _read_json(self.path / EDGE_JSON) if (self.path / EDGE_JSON).is_file() else {}
        return payload_to_event(
            self.payload,
            self.path,
            start_video_s=float(edge.get("start_video_s", 0.0)),
            end_video_s=float(edge.get("end_video_s", 0.0)),
        )


@dataclass(slots=True)
class RecoveryReport:
    promoted: list[str] = field(default_factory=list)  # complete tmp entries moved to pending
    removed: list[str] = field(default_factory=list)  # half-written tmp entries deleted
    stray_files: int = 0  # leftover temporary files removed from pending/sent/dead


def _read_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise SpoolError(f"{path} does not hold a JSON object")
    return data


def _load(directory: Path) -> SpooledEvent:
    payload = _read_json(directory / EVENT_JSON)
    files = []
    for f in payload.get("files", []):
        name = str(f["name"])
        if not _SAFE_NAME.match(name):
            raise SpoolError(f"{directory / EVENT_JSON} names an unsafe file {name!r}")
        files.append(
            SpooledFile(
                name=name,
                path=directory / name,
                sha256=str(f["sha256"]),
                size=int(f["size"]),
                media_type=str(f["media_type"]),
            )
        )
    return SpooledEvent(event_id=str(payload["id"]), path=directory, payload=payload, files=files)


def _copy_durable(src: Path, dst: Path) -> tuple[str, int]:
    """Copy with fsync; returns the SHA-256 and size of the bytes copied."""
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        while block := fin.read(1 << 20):
            digest.update(block)
            size += len(block)
            fout.write(block)
        fout.flush()
        os.fsync(fout.fileno())
    return digest.hexdigest(), size


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
            payload = event_to_payload(event)
        except (TypeError, ValueError) as exc:
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
                    digest, size = _copy_durable(f.path, dst)
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
                            "spooled_at": _iso(datetime.now(UTC)),
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
                out.append(_load(entry))
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
                _load(entry)
                return  # it was mid-move after all and reads fine now
            except (OSError, ValueError, KeyError, TypeError, SpoolError):
                pass
            target = self.dead_dir / entry.name
            if target.exists():
                target = self.dead_dir / f"{entry.name}.unreadable-{int(datetime.now(UTC).timestamp())}"
            write_atomic(entry / DEAD_REASON, f"{_iso(datetime.now(UTC))} {reason}\n".encode())
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
        from detector.uuid7 import is_uuid7, uuid7_time

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
        return _load(path)

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
        path = self._move(event_id, self.sent_dir, SENT_AT, _iso(datetime.now(UTC)))
        logger.info("event %s sent", event_id)
        return path

    def mark_dead(self, event_id: str, reason: str) -> Path:
        """For permanent refusals (409, 422, 403) and corrupted evidence; never for network errors."""
        text = f"{_iso(datetime.now(UTC))} {reason.strip()}\n"
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
            event = _load(entry)
        except (OSError, ValueError, KeyError, TypeError, SpoolError):
            return False
        return event.event_id == entry.name and not event.verify()
