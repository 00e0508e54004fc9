"""A case export's lifecycle: begin (recorded), finish now or in the background, and the exports an
earlier stop cut short.

The export writes its own audit entries: ``bundle.export_started`` (committed first, so the bundle's
audit extract includes it and every exhibit's continuity includes the export), then ``bundle.exported``
with the bundle's SHA-256 once the zip is written, or ``bundle.export_failed`` with the reason.  Between
the two it signs a checkpoint of the audit log (:mod:`evidence_api.services.audit_checkpoints`): the
bundle's audit extract ends at that checkpoint and the manifest carries it.

Commits: as everywhere, whoever owns the session commits its work (the request's dependency, the
background job, the CLI command), so ``bundle.exported`` joins the caller's transaction.  The two
exceptions are made in one place, :func:`_commit_export_entry`, and say why there.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from evidence_api import models
from evidence_api.bundle import spec as bs
from evidence_api.bundle.builder import BundleBuildError, BundleResult, build_bundle
from evidence_api.bundle.checkpoint import Checkpoint
from evidence_api.bundle.redact import PersonFinder, PersonFinderFactory
from evidence_api.bundle.signing import KeyStore, SigningKey, SigningKeyError
from evidence_api.services import audit
from evidence_api.services.audit import AuditChainError
from evidence_api.services.audit_checkpoints import CheckpointLog, write_checkpoint
from evidence_api.services.bundle_history import (
    EXPORT_FAILED,
    EXPORT_STARTED,
    EXPORTED,
    bundle_path,
    latest_export_entries,
)
from evidence_api.services.bundle_spec import CouncilProfile, ExportOptions, build_spec, find_case
from evidence_api.services.errors import BundleExportError
from evidence_api.settings import AUDIT_CHECKPOINT_LOG, Settings
from evidence_api.storage import BlobError, BlobStore, BlobStoreUnavailable

logger = logging.getLogger(__name__)

# What an export can run into and say plainly (a damaged master, a full disk, no signing key ...);
# anything else is a bug: recorded as a failure too, and logged with its traceback.
EXPECTED_FAILURES = (BundleExportError, BundleBuildError, bs.BundleSpecError, BlobError, OSError)
NO_PERSON_FINDER = (
    "blurring people was asked for, but this server has no person finder: run it through the tipwatch "
    "command (`tipwatch serve`, `tipwatch bundle export`), which lends it the edge box's person "
    "detector, or export without blurring people"
)


@dataclass(frozen=True, slots=True)
class ExportSetup:
    """What every export of this installation shares: the masters' store, the signing keys, the
    council's particulars, where exported bundles are kept, and how people are found for blurring."""

    store: BlobStore
    keys: KeyStore
    council: CouncilProfile
    data_dir: Path
    person_finder_factory: PersonFinderFactory | None = None
    checkpoint_path: Path | None = (
        None  # the audit checkpoint log; default <data dir>/audit/checkpoints.jsonl
    )

    @property
    def checkpoints(self) -> CheckpointLog:
        return CheckpointLog(self.checkpoint_path or self.data_dir / AUDIT_CHECKPOINT_LOG)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: BlobStore,
        person_finder_factory: PersonFinderFactory | None = None,
    ) -> ExportSetup:
        return cls(
            store=store,
            keys=KeyStore(settings.data_dir),
            council=CouncilProfile.from_settings(settings),
            data_dir=settings.data_dir,
            person_finder_factory=person_finder_factory,
            checkpoint_path=settings.resolved_audit_checkpoint_path,
        )


@dataclass(frozen=True, slots=True)
class ExportTicket:
    """An export that has begun: its ``bundle.export_started`` entry is committed."""

    case_id: uuid.UUID
    case_reference: str
    bundle_id: str
    signer: SigningKey
    exported_by: str
    started_at: datetime


def _commit_export_entry(
    session: Session, *, case_id: uuid.UUID, actor: str, action: str, details: dict[str, Any]
) -> models.AuditEntry:
    """Append an export's audit entry and commit it at once: the only commits an export makes itself.

    ``bundle.export_started`` must be durable before the long copy begins: the bundle's audit extract
    ends at it, and after a crash the next start-up must find it to record the export as interrupted.
    ``bundle.export_failed`` must survive the rollback of the request (or job) that the failure then
    aborts; otherwise the case would list the export as running for ever.
    """
    entry = audit.append(
        session, actor=actor, action=action, target_type="case", target_id=str(case_id), details=details
    )
    session.commit()
    return entry


def _record_failure(session: Session, *, case_id: uuid.UUID, bundle_id: str, actor: str, reason: str) -> None:
    details = {"bundle_id": bundle_id, "error": reason}
    _commit_export_entry(session, case_id=case_id, actor=actor, action=EXPORT_FAILED, details=details)


def _check_options(options: ExportOptions, setup: ExportSetup) -> None:
    if options.blur_people and setup.person_finder_factory is None:
        raise BundleExportError(NO_PERSON_FINDER)


def begin_export(
    *, session: Session, case: str, setup: ExportSetup, exported_by: str, bundle_id: str | None = None
) -> ExportTicket:
    """Check the case and the signing key, then record ``bundle.export_started`` (committed), naming this
    host and process so an export cut short by a restart can be told from one still running.

    CaseNotFound (404) or BundleExportError (409, e.g. no signing key) before anything is recorded."""
    row = find_case(session=session, case=case)
    try:
        signer = setup.keys.load_active()
    except SigningKeyError as exc:
        raise BundleExportError(str(exc)) from exc
    bundle_id = bundle_id or str(uuid.uuid4())
    details = {
        "bundle_id": bundle_id,
        "signing_key": signer.key_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    started = _commit_export_entry(
        session, case_id=row.id, actor=exported_by, action=EXPORT_STARTED, details=details
    )
    return ExportTicket(row.id, row.reference, bundle_id, signer, exported_by, started.at)


def _anchor(session: Session, ticket: ExportTicket, setup: ExportSetup) -> Checkpoint:
    """Sign a checkpoint of the audit log as committed now (it includes ``bundle.export_started``), with
    the key the bundle is signed with, into the checkpoint log; the bundle's audit extract ends at it and
    the manifest carries it.  A log that does not verify since the last checkpoint makes no bundle."""
    try:
        written = write_checkpoint(session=session, signer=ticket.signer, log=setup.checkpoints)
    except AuditChainError as exc:
        raise BundleExportError(
            f"the audit log does not verify, so no bundle is made: {exc}; run `tipwatch admin audit verify`"
        ) from exc
    if written is None:
        raise BundleExportError("the audit log is empty: it must hold at least the export's own entry")
    return written.checkpoint


def _person_finder(options: ExportOptions, setup: ExportSetup) -> PersonFinder | None:
    if not options.blur_people:
        return None
    _check_options(options, setup)
    assert setup.person_finder_factory is not None  # _check_options refused the export otherwise
    return setup.person_finder_factory()


def finish_export(
    *,
    session: Session,
    ticket: ExportTicket,
    setup: ExportSetup,
    out_path: Path,
    options: ExportOptions | None = None,
) -> BundleResult:
    """Build the bundle a :func:`begin_export` began, at ``out_path``; appends ``bundle.exported`` to
    the caller's transaction (the caller commits).  Whatever goes wrong, ``bundle.export_failed`` is
    committed with the reason; then BundleExportError (409) for what an export can run into, or the
    unexpected exception itself (logged with its traceback)."""
    options = options or ExportOptions()
    try:
        checkpoint = _anchor(session, ticket, setup)  # first: it reads only what is committed
        row = session.get(models.Case, ticket.case_id)
        if row is None:
            raise BundleExportError(f"case {ticket.case_id} is gone")
        out_path.parent.mkdir(parents=True, exist_ok=True)
        spec = build_spec(
            session=session,
            case=row,
            store=setup.store,
            council=setup.council,
            exported_by=ticket.exported_by,
            exported_at=ticket.started_at,
            options=options,
            bundle_id=ticket.bundle_id,
            checkpoint=checkpoint,
        )
        result = build_bundle(spec, ticket.signer, out_path, person_finder=_person_finder(options, setup))
    except Exception as exc:
        session.rollback()
        plain = isinstance(exc, (*EXPECTED_FAILURES, BlobStoreUnavailable))
        reason = str(exc) if plain else f"{type(exc).__name__}: {exc}"
        _record_failure(
            session,
            case_id=ticket.case_id,
            bundle_id=ticket.bundle_id,
            actor=ticket.exported_by,
            reason=reason,
        )
        if isinstance(exc, BlobStoreUnavailable):
            raise  # the API answers 503 with Retry-After: the same export can be asked for again
        if isinstance(exc, EXPECTED_FAILURES):
            raise BundleExportError(reason) from exc
        logger.exception("export %s of case %s failed", ticket.bundle_id, ticket.case_id)
        raise
    audit.append(
        session,
        actor=ticket.exported_by,
        action=EXPORTED,
        target_type="case",
        target_id=str(ticket.case_id),
        after_hash=result.sha256,
        details={
            "bundle_id": ticket.bundle_id,
            "manifest_sha256": result.manifest_sha256,
            "exhibits": result.exhibit_references,
            "excluded": [x["sha256"] for x in result.excluded],
            "signing_key": result.key_id,
        },
    )
    return result


def export_case(
    *,
    session: Session,
    case: str,
    setup: ExportSetup,
    out_path: Path,
    exported_by: str,
    options: ExportOptions | None = None,
    bundle_id: str | None = None,
) -> BundleResult:
    """Export a case to ``out_path`` now (begin, then finish); the caller commits ``bundle.exported``."""
    options = options or ExportOptions()
    _check_options(options, setup)
    ticket = begin_export(
        session=session, case=case, setup=setup, exported_by=exported_by, bundle_id=bundle_id
    )
    return finish_export(session=session, ticket=ticket, setup=setup, out_path=out_path, options=options)


class BackgroundExports:
    """Exports finished in the background, one at a time on a thread of their own, each in a session of
    its own, which the job commits (it owns that session, as a request's dependency owns a request's)."""

    def __init__(self, sessionmaker: Callable[[], Session]) -> None:
        self._sessionmaker = sessionmaker
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bundle-export")

    def submit(
        self, ticket: ExportTicket, *, setup: ExportSetup, out_path: Path, options: ExportOptions
    ) -> Future[None]:
        """Finish a begun export on the export thread; the case lists it as running until then."""
        return self._executor.submit(self._finish, ticket, setup, out_path, options)

    def _finish(
        self, ticket: ExportTicket, setup: ExportSetup, out_path: Path, options: ExportOptions
    ) -> None:
        with self._sessionmaker() as session:
            try:
                finish_export(session=session, ticket=ticket, setup=setup, out_path=out_path, options=options)
                session.commit()
            except BundleExportError as exc:  # recorded as bundle.export_failed, with this reason
                logger.info("background export %s failed: %s", ticket.bundle_id, exc)
            except Exception:  # nobody waits on this thread: say what happened here
                logger.exception("background export %s did not finish", ticket.bundle_id)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking exports; with ``wait``, let the one running finish first."""
        self._executor.shutdown(wait=wait)


@dataclass(frozen=True, slots=True)
class StartedExport:
    """An export begun by :func:`start_export`: finished (``result``) or running in the background."""

    ticket: ExportTicket
    result: BundleResult | None  # None while it runs in the background


def start_export(
    *,
    session: Session,
    case: str,
    setup: ExportSetup,
    exported_by: str,
    options: ExportOptions,
    background: BackgroundExports | None = None,
) -> StartedExport:
    """Export a case into the API's bundle folder (see :func:`bundle_path`): now, or on ``background``.

    The one entry point of the JSON route and the case page.  CaseNotFound (404) or BundleExportError
    (409) when the export cannot begin; when it is finished now, BundleExportError also for what stopped
    it (recorded as failed either way)."""
    _check_options(options, setup)
    ticket = begin_export(session=session, case=case, setup=setup, exported_by=exported_by)
    out_path = bundle_path(setup.data_dir, ticket.case_id, uuid.UUID(ticket.bundle_id))
    if background is not None:
        background.submit(ticket, setup=setup, out_path=out_path, options=options)
        return StartedExport(ticket, None)
    result = finish_export(session=session, ticket=ticket, setup=setup, out_path=out_path, options=options)
    return StartedExport(ticket, result)


def reap_interrupted(*, session: Session, data_dir: Path) -> int:
    """Record as failed the exports that this host began in a process that is no longer running (the API
    was stopped or killed mid-export), and remove their partial files.  Run at start-up; returns how many
    were recorded (each committed at once)."""
    host, reaped = socket.gethostname(), 0
    for entry in latest_export_entries(session=session):
        if entry.action != EXPORT_STARTED:
            continue  # finished, or failed
        details = json.loads(entry.details)
        pid = details.get("pid")
        if details.get("host") != host or not isinstance(pid, int) or pid == os.getpid() or _alive(pid):
            continue
        case_id, bundle_id = uuid.UUID(entry.target_id), str(details["bundle_id"])
        out = bundle_path(data_dir, case_id, uuid.UUID(bundle_id))
        out.with_name(out.name + ".part").unlink(missing_ok=True)
        reason = "interrupted: the API process stopped during the export; export again"
        _record_failure(session, case_id=case_id, bundle_id=bundle_id, actor=entry.actor, reason=reason)
        reaped += 1
    return reaped


def _alive(pid: int) -> bool:
    """Whether a process of this host is running (one of another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
