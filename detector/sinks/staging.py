"""Staged evidence inside the spool: a worker's staging directory, the manifest that makes a staged
event recoverable, and what a restart does with what a dead worker left.

Layout, inside the spool's root::

    staging/<run>/<id>/               stills, crops and clips being written for event <id>
    staging/<run>/<id>/staged.json    the event's metadata, written once it is complete, before it
                                      is spooled: from here on the staged directory alone can be
                                      spooled again
    incomplete/<id>[-n]/              staged evidence no complete spool entry holds (the worker
                                      died while writing it, or a low disk left it out); kept for
                                      an operator, ``incomplete.json`` says why

**Nothing that is the only copy of evidence is deleted.**  A staged (or kept-incomplete) file is
deleted only once the spool entry of its event (in ``pending/``, ``sent/`` or ``dead/``) holds a
file with the same SHA-256 (:meth:`~detector.sinks.spool.Spool.holds`); the exceptions are the
hidden temporary files of a write that never finished (``.name.tmp-…``), which are never evidence.

Recovery (:func:`recover_staging`) runs at start-up under the spool's lock, so every ``staging/``
directory then belongs to a dead process: a staged event with a manifest is spooled (the spool's
``put`` is a no-op for an id it already holds) and its staged copy freed; staged files without a
manifest are freed if the spool already holds them (the same footage processed again) and otherwise
moved to ``incomplete/``; empty directories are removed.  ``staging-*`` directories that earlier
versions made beside the spool (no manifests) get the same treatment.  A worker settles its own
staging directory the same way when it stops (:meth:`StagingArea.close`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detector.contract import ContractError, event_to_payload, iso_utc, payload_to_event
from detector.sinks.spool import Spool
from detector.sinks.spool_entry import RESERVED_NAMES, SpoolError, read_json
from detector.storage import DiskFullError, StorageError, fsync_dir, sha256_file, write_atomic
from detector.types import Event

logger = logging.getLogger(__name__)

STAGED_JSON = "staged.json"
INCOMPLETE_JSON = "incomplete.json"
#: what ``tempfile.mkdtemp(prefix="staging-")`` beside the spool made in versions before this one
_LEGACY_STAGING = re.compile(r"^staging-[A-Za-z0-9_]{8}$")
_TEMPORARY = re.compile(r"^\..+\.tmp-[0-9a-f]{8}")


@dataclass(slots=True)
class StagingReport:
    """What settling staging directories did."""

    respooled: list[str] = field(default_factory=list)  # staged events spooled from their manifest
    freed: list[str] = field(default_factory=list)  # staged copies deleted: the spool holds them
    kept_incomplete: list[str] = field(default_factory=list)  # moved to incomplete/ for an operator
    superseded: list[str] = field(default_factory=list)  # incomplete/ entries the spool now holds
    waiting: dict[str, str] = field(default_factory=dict)  # id -> why it could not be spooled now
    removed_dirs: int = 0  # empty staging directories removed
    partial_files: int = 0  # temporary files of unfinished writes removed

    def merge(self, other: StagingReport) -> None:
        self.respooled += other.respooled
        self.freed += other.freed
        self.kept_incomplete += other.kept_incomplete
        self.superseded += other.superseded
        self.waiting.update(other.waiting)
        self.removed_dirs += other.removed_dirs
        self.partial_files += other.partial_files

    @property
    def anything(self) -> bool:
        """Whether any evidence was spooled, freed or kept (removing empty directories is not news)."""
        return bool(
            self.respooled or self.freed or self.kept_incomplete or self.superseded or self.waiting
        ) or bool(self.partial_files)

    def summary(self) -> str:
        return (
            f"{len(self.respooled)} staged event(s) spooled, {len(self.freed)} staged copy(ies) freed, "
            f"{len(self.kept_incomplete)} kept in incomplete/, {len(self.superseded)} incomplete "
            f"superseded, {len(self.waiting)} waiting for space, {self.removed_dirs} empty dir(s) removed"
        )


# -- the manifest ---------------------------------------------------------------------------------


def write_manifest(event: Event, directory: Path) -> None:
    """Record ``event``'s metadata in ``directory/staged.json``, so the staged evidence can be spooled
    again if the process dies before the spool holds it.  Raises :class:`StorageError`."""
    try:
        payload = event_to_payload(event, reserved_names=RESERVED_NAMES)
    except (ContractError, TypeError, ValueError) as exc:
        raise SpoolError(f"event {event.event_id} cannot be described for the API: {exc}") from exc
    here = directory.absolute()
    paths = [f.path.name if f.path.absolute().parent == here else str(f.path.absolute()) for f in event.files]
    manifest = {
        "payload": payload,
        "start_video_s": event.start_video_s,
        "end_video_s": event.end_video_s,
        "paths": paths,
    }
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(directory / STAGED_JSON, json.dumps(manifest, sort_keys=True).encode())


def read_manifest(directory: Path) -> Event:
    """The event a manifest describes, with its files at their staged paths.

    Raises ``OSError``, :class:`SpoolError` or :class:`ContractError` when it cannot be read."""
    manifest = read_json(directory / STAGED_JSON)
    event = payload_to_event(
        manifest["payload"],
        directory,
        start_video_s=float(manifest.get("start_video_s", 0.0)),
        end_video_s=float(manifest.get("end_video_s", 0.0)),
    )
    paths = [str(p) for p in manifest["paths"]]
    if len(paths) != len(event.files):
        raise SpoolError(f"{directory / STAGED_JSON}: {len(paths)} paths for {len(event.files)} files")
    event.files = [replace(f, path=directory / p) for f, p in zip(event.files, paths, strict=True)]
    return event


# -- one worker's staging directory ---------------------------------------------------------------


class StagingArea:
    """This run's staging directory, ``<spool>/staging/<pid>-<token>/``; the caller holds the spool's
    lock (:meth:`Spool.lock`) for as long as it lives."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        spool.staging_dir.mkdir(exist_ok=True)
        self.path = spool.staging_dir / f"{os.getpid()}-{secrets.token_hex(4)}"
        self.path.mkdir()
        fsync_dir(spool.staging_dir)

    def close(self) -> StagingReport:
        """Settle what is left (events not spooled are spooled if they can be, or kept) and remove
        the directory when nothing is left in it."""
        report = StagingReport()
        _settle(self.spool, self.path, report)
        _sweep_incomplete(self.spool, report)
        if report.anything:
            logger.info("staging %s settled: %s", self.path, report.summary())
        return report


def recover_staging(spool: Spool) -> StagingReport:
    """At start-up, under the spool's lock: settle every staging directory a dead process left
    (and the older ``staging-*`` beside the spool), then drop ``incomplete/`` entries the spool now
    holds.  Never raises for one bad directory: it is logged and left."""
    report = StagingReport()
    dirs = sorted(spool.staging_dir.iterdir()) if spool.staging_dir.is_dir() else []
    legacy = sorted(
        p
        for p in spool.root.parent.glob("staging-*")
        if _LEGACY_STAGING.match(p.name) and p.is_dir() and p.stat().st_uid == os.getuid()
    )
    for directory in [*dirs, *legacy]:
        if directory.is_dir():
            _settle(spool, directory, report)
    _sweep_incomplete(spool, report)
    if report.anything or report.removed_dirs:
        logger.warning("staging recovery: %s", report.summary())
    return report


def _settle(spool: Spool, directory: Path, report: StagingReport) -> None:
    """Spool, free or keep each staged event of ``directory``, then remove it if empty."""
    for event_dir in sorted(directory.iterdir()):
        try:
            if not event_dir.is_dir():
                if _TEMPORARY.match(event_dir.name):
                    event_dir.unlink()
                    report.partial_files += 1
                continue
            _settle_event(spool, event_dir, report)
        except OSError as exc:
            logger.error("staged evidence %s left where it is: %s", event_dir, exc)
    try:
        directory.rmdir()
        report.removed_dirs += 1
        fsync_dir(directory.parent)
    except OSError:
        pass  # still holds evidence waiting for space or an operator


def _settle_event(spool: Spool, event_dir: Path, report: StagingReport) -> None:
    event_id = event_dir.name
    for partial in [p for p in event_dir.iterdir() if _TEMPORARY.match(p.name)]:
        partial.unlink()  # a write that never finished: the complete file would have its own name
        report.partial_files += 1
    if (event_dir / STAGED_JSON).is_file():
        try:
            event = read_manifest(event_dir)
        except (OSError, ValueError, KeyError, TypeError, SpoolError) as exc:
            _keep_incomplete(spool, event_dir, event_id, f"its manifest is unreadable: {exc}", report)
            return
        try:
            spool.put(event)
        except DiskFullError as exc:
            report.waiting[event.event_id] = str(exc)
            logger.error("staged event %s NOT spooled yet: %s; left in %s", event.event_id, exc, event_dir)
            return
        except StorageError as exc:
            _keep_incomplete(spool, event_dir, event_id, f"the spool refused it: {exc}", report)
            return
        if spool.left_out(event.event_id) and not spool.holds_all(event):
            _keep_incomplete(spool, event_dir, event_id, "the spool holds it without some files", report)
            return
        if not spool.holds_all(event):  # processed again; the spool keeps its first rendering
            logger.warning("staged event %s differs from its spooled copy, which is kept", event.event_id)
        shutil.rmtree(event_dir)
        report.respooled.append(event.event_id)
        return
    files = [p for p in event_dir.iterdir() if p.is_file() and p.name != INCOMPLETE_JSON]
    if not files:
        (event_dir / INCOMPLETE_JSON).unlink(missing_ok=True)
        event_dir.rmdir()  # fails, and is logged, if something else is in there
        return
    if _spool_has(spool, event_id, files):
        _delete_held(event_dir, files)
        report.freed.append(event_id)
        return
    _keep_incomplete(
        spool, event_dir, event_id, "the worker stopped before the event was complete (no metadata)", report
    )


def _keep_incomplete(
    spool: Spool, event_dir: Path, event_id: str, reason: str, report: StagingReport
) -> None:
    """Move staged evidence to ``incomplete/`` (a rename: no copy, no loss) with the reason."""
    spool.incomplete_dir.mkdir(exist_ok=True)
    target = spool.incomplete_dir / event_id
    n = 2
    while target.exists():
        target = spool.incomplete_dir / f"{event_id}-{n}"
        n += 1
    note: dict[str, Any] = {
        "event_id": event_id,
        "reason": reason,
        "kept_at": iso_utc(datetime.now(UTC)),
        "from": str(event_dir),
    }
    write_atomic(event_dir / INCOMPLETE_JSON, json.dumps(note, indent=1).encode())
    os.rename(event_dir, target)
    fsync_dir(spool.incomplete_dir)
    report.kept_incomplete.append(event_id)
    logger.error("evidence of event %s kept in %s for an operator: %s", event_id, target, reason)


def _sweep_incomplete(spool: Spool, report: StagingReport) -> None:
    """Delete ``incomplete/`` entries whose every file the spool now holds (the event came again)."""
    if not spool.incomplete_dir.is_dir():
        return
    for entry in sorted(spool.incomplete_dir.iterdir()):
        try:
            note = read_json(entry / INCOMPLETE_JSON)
            notes = (INCOMPLETE_JSON, STAGED_JSON)
            files = [p for p in entry.iterdir() if p.is_file() and p.name not in notes]
            if _spool_has(spool, str(note["event_id"]), files):
                _delete_held(entry, files)
                report.superseded.append(str(note["event_id"]))
        except (OSError, ValueError, KeyError, TypeError, SpoolError) as exc:
            logger.warning("incomplete/ entry %s left as it is: %s", entry, exc)


def _delete_held(directory: Path, files: list[Path]) -> None:
    """Delete evidence the spool holds: the files first, the notes that explain them last, so a kill
    part-way leaves a directory the next recovery still understands."""
    for f in files:
        f.unlink()
    shutil.rmtree(directory)


def _spool_has(spool: Spool, event_id: str, files: list[Path]) -> bool:
    """Whether staged files of ``event_id`` may go: the spool holds each of them, or holds the event
    whole from an earlier rendering (the same event processed again; the first is the one kept)."""
    if spool.holds(event_id, (sha256_file(p)[0] for p in files)):
        return True
    return spool.holds(event_id, ()) and not spool.left_out(event_id)
