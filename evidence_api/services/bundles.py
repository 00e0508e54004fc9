"""Case export: database rows -> :class:`~evidence_api.bundle.spec.BundleSpec` -> signed bundle.

The export writes its own audit entries: ``bundle.export_started`` (committed first, so the bundle's
audit extract ends at it and every exhibit's continuity includes the export), then ``bundle.exported``
with the bundle's SHA-256 once the zip is written.  The long part (copying masters) runs outside any
write transaction.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evidence_api import models
from evidence_api.bundle import spec as bs
from evidence_api.bundle.builder import BundleBuildError, BundleResult, build_bundle
from evidence_api.bundle.signing import KeyStore, SigningKeyError
from evidence_api.services import audit
from evidence_api.storage import BlobError, BlobStore

logger = logging.getLogger(__name__)

LONDON = ZoneInfo("Europe/London")
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
CONFIRMED = models.ReviewStatus.confirmed.value


class BundleExportError(Exception):
    """The case cannot be exported; the message says what to fix."""


class CaseNotFound(BundleExportError):
    pass


# What an export can run into and say plainly (a damaged master, a full disk, no signing key ...);
# anything else is a bug: recorded as a failure too, and logged with its traceback.
EXPECTED_FAILURES = (BundleExportError, BundleBuildError, bs.BundleSpecError, BlobError, OSError)


@dataclass(frozen=True, slots=True)
class ExportOptions:
    crop_vehicle: bool = True
    blur_people: bool = False
    print_stills: bool = True  # embed each still in the PDF exhibit list (the HTML list always shows them)
    producer_role: str = "Enforcement Officer"
    organisation: str = "the Council"
    system_description: str = (
        "Tipwatch cameras at fly-tipping hotspots run a detector on an edge box beside the camera; it flags "
        "vehicle visits and deposits, keeps the frames and clip as captured, hashes them and uploads them "
        "to the council's evidence system, where an officer reviews each event."
    )
    clock_statement: str = (
        "Each edge box keeps its clock with NTP; each event records whether its times come from the "
        "camera's stream clock or the box's own clock when the frame arrived."
    )
    storage_statement: str = (
        "Originals are stored write-once in a content-addressed store, under their SHA-256, read-only; "
        "every access and change is recorded in a hash-chained audit log."
    )


def officer_initials(name: str) -> str:
    letters = "".join(part[0] for part in name.replace("-", " ").split() if part[:1].isalpha()).upper()
    if not letters:
        raise BundleExportError(
            "the case has no officer in charge; set one: exhibit references use their initials"
        )
    return letters


def find_case(session: Session, case: str) -> models.Case:
    try:
        found = session.get(models.Case, uuid.UUID(case))
    except ValueError:
        found = None
    if found is None:
        found = session.execute(select(models.Case).where(models.Case.reference == case)).scalar_one_or_none()
    if found is None:
        raise CaseNotFound(f"no case with id or reference {case!r}")
    return found


def _day_start(day: Any) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=LONDON).astimezone(UTC)


def _authorisation(row: models.Authorisation) -> bs.Authorisation | None:
    """The record as the builder sees it; None when it was cancelled or expired before it began."""
    ripa = row.kind == models.AuthorisationKind.ripa_directed_surveillance.value
    approved = ripa and row.magistrate_decision == "approved" and row.approved_at is not None
    if ripa:
        start = row.approved_at or (_day_start(row.granted_on) if row.granted_on else row.created_at)
    else:
        start = _day_start(row.granted_on) if row.granted_on else row.created_at
    ends = [t for t in (row.expires_at, row.cancelled_at) if t is not None]
    until = min(ends) if ends else FAR_FUTURE
    if until <= start:
        return None
    summary = row.title
    if not ripa and (row.signage_description or row.dpia_reference):
        summary = f"{row.title}. Signage: {row.signage_description}. DPIA {row.dpia_reference}".strip()
    return bs.Authorisation(
        authorisation_id=str(row.id),
        kind=bs.AuthorisationKind.RIPA_DIRECTED if ripa else bs.AuthorisationKind.OVERT_DPIA,
        reference=row.urn,
        # a record naming cameras only covers those cameras' sites
        site_ids=tuple(sorted({s.key for s in row.sites} | {c.site.key for c in row.cameras})),
        camera_ids=tuple(c.key for c in row.cameras),
        valid_from=start,
        valid_until=until,
        granted_by=" ".join(x for x in (row.authorising_officer_name, row.authorising_officer_grade) if x)
        or row.created_by
        or "not recorded",
        approved_by=(f"magistrate, {row.magistrate_court}" if approved else None),
        approved_at=row.approved_at if approved else None,
        summary=summary,
    )


_STAGES = (
    ("bundle", "export"),
    ("override", "legal override"),
    ("case", "case"),
    ("review", "review"),
    ("confirm", "review"),
    ("dismiss", "review"),
    ("file", "storage"),
    ("blob", "storage"),
    ("stored", "storage"),
    ("ingest", "upload"),
    ("event", "upload"),
)


def custody_stage(action: str) -> str:
    lowered = action.lower()
    return next((stage for key, stage in _STAGES if key in lowered), action)


def _opener(store: BlobStore, sha256: str) -> Callable[[], BinaryIO]:
    return lambda: store.open(sha256)


def _working_file(store: BlobStore, sha256: str | None) -> bs.WorkingFile | None:
    """A stored derived file, or None if it was never made or has gone (the builder then makes it)."""
    if sha256 is None or not store.exists(sha256):
        return None
    return bs.WorkingFile(sha256, store.size(sha256), _opener(store, sha256))


def build_spec(
    session: Session,
    case: models.Case,
    *,
    store: BlobStore,
    exported_by: str,
    exported_at: datetime,
    options: ExportOptions,
    bundle_id: str,
) -> bs.BundleSpec:
    """Everything the builder needs, read from the database (the export's own audit entry included)."""
    events = [e for e in case.events if e.review_status == CONFIRMED]
    if not events:
        raise BundleExportError(f"case {case.reference} has no confirmed events to export")
    initials = officer_initials(case.officer_in_charge)
    event_ids = {str(e.id) for e in events}
    files = [f for e in events for f in e.files if f.kind == "original" and f.received_at is not None]
    shas = {f.sha256 for f in files}
    targets = event_ids | shas | {str(case.id)}

    first = session.execute(
        select(func.min(models.AuditEntry.seq)).where(models.AuditEntry.target_id.in_(targets))
    ).scalar_one()
    if first is None:
        raise BundleExportError(f"no audit entries for case {case.reference}: the audit log is incomplete")
    rows = session.execute(
        select(models.AuditEntry).where(models.AuditEntry.seq >= first).order_by(models.AuditEntry.seq)
    ).scalars()
    records: list[bs.AuditRecord] = []
    by_target: dict[str, list[models.AuditEntry]] = {}
    for row in rows:
        records.append(bs.AuditRecord(row.seq, row.prev_hash, row.entry_hash, audit.entry_fields(row)))
        if row.target_id in targets:
            by_target.setdefault(row.target_id, []).append(row)
    extract = bs.AuditExtract(tuple(records), records[-1].entry_hash, audit.SCHEME)
    case_entries = by_target.get(str(case.id), [])

    def custody(entries: Iterable[models.AuditEntry]) -> tuple[bs.CustodyStep, ...]:
        return tuple(
            bs.CustodyStep(custody_stage(e.action), e.at, e.actor, f"{e.action} ({e.target_type})", e.seq)
            for e in sorted(entries, key=lambda e: e.seq)
        )

    annotated = {
        (f.event_id, f.role): f for e in events for f in e.files if f.kind == "annotated" and f.received_at
    }
    with_previews = select(models.Blob.sha256, models.Blob.preview_sha256).where(
        models.Blob.sha256.in_(shas), models.Blob.preview_sha256.is_not(None)
    )
    previews = {sha: preview for sha, preview in session.execute(with_previews).all() if preview}
    exhibits: list[bs.ExhibitSource] = []
    for event in events:
        for f in event.files:
            if f.kind != "original" or f.received_at is None:
                continue
            ann = annotated.get((event.id, f.role))
            entries = [*by_target.get(str(event.id), []), *by_target.get(f.sha256, []), *case_entries]
            exhibits.append(
                bs.ExhibitSource(
                    event_id=str(event.id),
                    role=f.role,
                    media_type=f.media_type,
                    sha256=f.sha256,
                    size=f.size,
                    captured_at=f.captured_at or event.started_at,
                    camera_id=event.camera.key,
                    site_id=event.site.key,
                    model_name=event.model_name,
                    model_sha256=event.model_sha256,
                    rule_version=event.rule_version,
                    open=_opener(store, f.sha256),
                    received_at=f.received_at,
                    annotated=bs.WorkingFile(ann.sha256, ann.size, _opener(store, ann.sha256))
                    if ann
                    else None,
                    preview=_working_file(store, previews.get(f.sha256)),
                    custody=custody(entries),
                )
            )
    site_ids = {e.site_id for e in events}
    camera_ids = {e.camera_id for e in events}
    auth_rows = session.execute(select(models.Authorisation)).scalars().all()
    relevant = (
        a for a in auth_rows if {s.id for s in a.sites} & site_ids or {c.id for c in a.cameras} & camera_ids
    )
    authorisations = [auth for auth in map(_authorisation, relevant) if auth is not None]
    overrides = [
        bs.LegalOverride(str(o.id) + ":" + f.sha256[:12], f.sha256, o.decided_by, o.created_at, o.reasons)
        for e in events
        for o in e.overrides
        for f in e.files
        if f.kind == "original"
    ]
    return bs.BundleSpec(
        case=bs.CaseInfo(
            case_id=str(case.id),
            reference=case.reference,
            title=case.title,
            offence="s.33 Environmental Protection Act 1990 (unauthorised deposit of waste)",
            officer_name=case.officer_in_charge,
            officer_initials=initials,
            opened_at=case.created_at,
            notes=case.notes,
        ),
        events=[
            bs.EventRecord(
                event_id=str(e.id),
                type=e.type,
                site_id=e.site.key,
                site_name=e.site.name,
                camera_id=e.camera.key,
                started_at=e.started_at,
                ended_at=e.ended_at,
                clock_source=e.clock_source,
                model_name=e.model_name,
                model_sha256=e.model_sha256,
                rule_version=e.rule_version,
                zone=e.zone,
                plate_text=e.plate_text,
                linked_event_ids=tuple(str(x) for x in e.linked_event_ids),
                details={k: v for k, v in e.details.items() if isinstance(v, str | int | float | bool)},
            )
            for e in events
        ],
        decisions=[
            bs.ReviewDecision(
                str(e.id), e.review_status, e.reviewed_by or "not recorded", e.reviewed_at, e.review_reason
            )
            for e in events
            if e.reviewed_at is not None
        ],
        exhibits=exhibits,
        authorisations=authorisations,
        overrides=overrides,
        audit=extract,
        producer=bs.Producer(
            name=case.officer_in_charge,
            role=options.producer_role,
            organisation=options.organisation,
            system_description=options.system_description,
            clock_statement=options.clock_statement,
            storage_statement=options.storage_statement,
        ),
        exported_by=exported_by,
        exported_at=exported_at,
        redaction=bs.RedactionOptions(crop_vehicle=options.crop_vehicle, blur_people=options.blur_people),
        bundle_id=bundle_id,
        print_stills=options.print_stills,
    )


@dataclass(frozen=True, slots=True)
class ExportTicket:
    """An export that has begun: its ``bundle.export_started`` entry is committed."""

    case_id: uuid.UUID
    bundle_id: str
    signer: Any  # evidence_api.bundle.signing.SigningKey
    exported_by: str
    started_at: datetime


def begin_export(
    session: Session, case: str, *, keys: KeyStore, exported_by: str, bundle_id: str | None = None
) -> ExportTicket:
    """Check the case and the signing key, then record ``bundle.export_started`` (committed), naming this
    host and process so an export cut short by a restart can be told from one still running."""
    row = find_case(session, case)
    try:
        signer = keys.load_active()
    except SigningKeyError as exc:
        raise BundleExportError(str(exc)) from exc
    bundle_id = bundle_id or str(uuid.uuid4())
    started = audit.append(
        session,
        actor=exported_by,
        action="bundle.export_started",
        target_type="case",
        target_id=str(row.id),
        details={
            "bundle_id": bundle_id,
            "signing_key": signer.key_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        },
    )
    session.commit()
    return ExportTicket(row.id, bundle_id, signer, exported_by, started.at)


def finish_export(
    session: Session,
    ticket: ExportTicket,
    *,
    store: BlobStore,
    out_path: Path,
    options: ExportOptions | None = None,
) -> BundleResult:
    """Build the bundle a :func:`begin_export` began; records ``bundle.exported`` or, whatever went
    wrong, ``bundle.export_failed`` with the reason (committed either way)."""
    options = options or ExportOptions()
    row = session.get(models.Case, ticket.case_id)
    try:
        if row is None:
            raise BundleExportError(f"case {ticket.case_id} is gone")
        out_path.parent.mkdir(parents=True, exist_ok=True)
        spec = build_spec(
            session,
            row,
            store=store,
            exported_by=ticket.exported_by,
            exported_at=ticket.started_at,
            options=options,
            bundle_id=ticket.bundle_id,
        )
        result = build_bundle(spec, ticket.signer, out_path)
    except Exception as exc:
        session.rollback()
        reason = str(exc) if isinstance(exc, EXPECTED_FAILURES) else f"{type(exc).__name__}: {exc}"
        _record_failure(session, ticket, reason)
        if isinstance(exc, EXPECTED_FAILURES):
            raise BundleExportError(reason) from exc
        logger.exception("export %s of case %s failed", ticket.bundle_id, ticket.case_id)
        raise
    audit.append(
        session,
        actor=ticket.exported_by,
        action="bundle.exported",
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
    session.commit()
    return result


def _record_failure(session: Session, ticket: ExportTicket, reason: str) -> None:
    audit.append(
        session,
        actor=ticket.exported_by,
        action="bundle.export_failed",
        target_type="case",
        target_id=str(ticket.case_id),
        details={"bundle_id": ticket.bundle_id, "error": reason},
    )
    session.commit()


def export_case(
    session: Session,
    case: str,
    *,
    store: BlobStore,
    keys: KeyStore,
    out_path: Path,
    exported_by: str,
    options: ExportOptions | None = None,
    bundle_id: str | None = None,
) -> BundleResult:
    """Export a case to ``out_path`` now; commits the audit entries that record the export."""
    ticket = begin_export(session, case, keys=keys, exported_by=exported_by, bundle_id=bundle_id)
    return finish_export(session, ticket, store=store, out_path=out_path, options=options)


def finish_in_background(
    executor: Executor,
    sessionmaker: Callable[[], Session],
    ticket: ExportTicket,
    *,
    store: BlobStore,
    out_path: Path,
    options: ExportOptions,
) -> None:
    """Finish a begun export on ``executor`` (the API's export thread), in a session of its own."""

    def run() -> None:
        with sessionmaker() as session:
            try:
                finish_export(session, ticket, store=store, out_path=out_path, options=options)
            except Exception:  # recorded as bundle.export_failed with the reason; unexpected ones logged
                logger.info("background export %s did not finish", ticket.bundle_id)

    executor.submit(run)


def reap_interrupted(session: Session, *, data_dir: Path) -> int:
    """Record as failed the exports that this host began in a process that is no longer running (the API
    was stopped or killed mid-export), and remove their partial files.  Run at start-up."""
    host, reaped = socket.gethostname(), 0
    for entry in _latest_export_entries(session):
        if entry.action != "bundle.export_started":
            continue  # finished, or failed
        details = json.loads(entry.details)
        pid = details.get("pid")
        if details.get("host") != host or not isinstance(pid, int) or pid == os.getpid() or _alive(pid):
            continue
        ticket = ExportTicket(
            uuid.UUID(entry.target_id), str(details["bundle_id"]), None, entry.actor, entry.at
        )
        out = bundle_path(data_dir, ticket.case_id, uuid.UUID(ticket.bundle_id))
        out.with_name(out.name + ".part").unlink(missing_ok=True)
        _record_failure(
            session, ticket, "interrupted: the API process stopped during the export; export again"
        )
        reaped += 1
    return reaped


EXPORT_ACTIONS = ("bundle.export_started", "bundle.exported", "bundle.export_failed")


def _latest_export_entries(session: Session, case_id: uuid.UUID | None = None) -> list[models.AuditEntry]:
    """Each export's latest audit entry (started, exported or failed), newest first; of one case, or of
    every case."""
    query = select(models.AuditEntry).where(
        models.AuditEntry.target_type == "case", models.AuditEntry.action.in_(EXPORT_ACTIONS)
    )
    if case_id is not None:
        query = query.where(models.AuditEntry.target_id == str(case_id))
    latest: dict[str, models.AuditEntry] = {}  # newest first: a finished export is seen before its start
    for row in session.execute(query.order_by(models.AuditEntry.seq.desc())).scalars():
        latest.setdefault(str(json.loads(row.details)["bundle_id"]), row)
    return list(latest.values())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


@dataclass(frozen=True, slots=True)
class BundleRecord:
    """One export of a case as the audit log records it, and whether its file is still on this server."""

    bundle_id: str
    status: str  # "running" | "exported" | "failed"
    at: datetime
    by: str
    sha256: str | None
    exhibits: list[str]
    signing_key: str | None
    error: str | None
    available: bool


def list_exports(session: Session, case: models.Case, *, data_dir: Path) -> list[BundleRecord]:
    """Every export of ``case`` (running, finished or failed), newest first, read from the audit log."""
    records = []
    for row in _latest_export_entries(session, case.id):
        details = json.loads(row.details)
        bundle_id = str(details["bundle_id"])
        status = {"bundle.export_started": "running", "bundle.exported": "exported"}.get(row.action, "failed")
        path = bundle_path(data_dir, case.id, uuid.UUID(bundle_id))
        records.append(
            BundleRecord(
                bundle_id=bundle_id,
                status=status,
                at=row.at,
                by=row.actor,
                sha256=row.after_hash if status == "exported" else None,
                exhibits=list(details.get("exhibits", [])),
                signing_key=details.get("signing_key"),
                error=str(details.get("error", "")) if status == "failed" else None,
                available=status == "exported" and path.is_file(),
            )
        )
    return records


def bundle_path(data_dir: Path, case_id: uuid.UUID, bundle_id: uuid.UUID) -> Path:
    """Where the API keeps an exported bundle: ``<data dir>/bundles/<case id>/<bundle id>.zip``."""
    return Path(data_dir) / "bundles" / str(case_id) / f"{bundle_id}.zip"


def export_case_cli(
    *,
    case: str,
    out: Path,
    db_url: str | None,
    data_dir: str | None,
    exported_by: str,
    blur_people: bool,
    crop_vehicle: bool,
    print_stills: bool = True,
) -> BundleResult:
    """``tipwatch bundle export``: settings from the environment, overridden by --db / --data."""
    from evidence_api.db import make_engine, make_sessionmaker
    from evidence_api.settings import Settings
    from evidence_api.storage import FilesystemBlobStore

    overrides: dict[str, Any] = {}
    if data_dir:
        overrides["data_dir"] = Path(data_dir)
    if db_url:
        overrides["database_url"] = db_url
    settings = Settings(**overrides)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return export_case(
                session,
                case,
                store=FilesystemBlobStore(settings.resolved_blob_dir),
                keys=KeyStore(settings.data_dir),
                out_path=out,
                exported_by=exported_by,
                options=ExportOptions(
                    crop_vehicle=crop_vehicle, blur_people=blur_people, print_stills=print_stills
                ),
            )
    finally:
        engine.dispose()
