"""A case in the database -> the :class:`~evidence_api.bundle.spec.BundleSpec` its bundle is built from.

Only confirmed events go in; every original file received becomes an exhibit source with its custody
steps (from the audit log), and every authorisation of the case's sites and cameras is offered to the
builder, which decides what each one lets in.  The council's own particulars (its name, the offence,
the statement's wording, the time zone its people read) come from the settings, as a
:class:`CouncilProfile`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evidence_api import models
from evidence_api.bundle import spec as bs
from evidence_api.bundle.checkpoint import Checkpoint
from evidence_api.bundle.format import AUDIT_HASH_SCHEME
from evidence_api.services import audit
from evidence_api.services.errors import BundleExportError, CaseNotFound
from evidence_api.settings import Settings
from evidence_api.storage import BlobStore

logger = logging.getLogger(__name__)

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)  # an authorisation with no end date
CONFIRMED = models.ReviewStatus.confirmed.value


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What the person exporting chose: which working copies to add, and whether to print the stills."""

    crop_vehicle: bool = True
    blur_people: bool = False
    print_stills: bool = True  # embed each still in the PDF exhibit list (the HTML list always shows them)


@dataclass(frozen=True, slots=True)
class CouncilProfile:
    """The council's particulars as its bundles state them (the ``TIPWATCH_*`` settings of the same
    names), and the time zone its people read times in."""

    name: str
    address: str
    producer_role: str
    offence: str
    system_description: str
    clock_statement: str
    storage_statement: str
    display_timezone: str

    @classmethod
    def from_settings(cls, settings: Settings) -> CouncilProfile:
        return cls(
            name=settings.council_name,
            address=settings.council_address,
            producer_role=settings.producer_role,
            offence=settings.offence_wording,
            system_description=settings.statement_system,
            clock_statement=settings.statement_clock,
            storage_statement=settings.statement_storage,
            display_timezone=settings.display_timezone,
        )


def officer_initials(name: str) -> str:
    """``"Anne-Marie O'Neil"`` -> ``"AMO"``: the prefix of the exhibit references (AMO/1, AMO/2, ...)."""
    letters = "".join(part[0] for part in name.replace("-", " ").split() if part[:1].isalpha()).upper()
    if not letters:
        raise BundleExportError(
            "the case has no officer in charge; set one: exhibit references use their initials"
        )
    return letters


def find_case(*, session: Session, case: str) -> models.Case:
    """The case with this id (a UUID) or reference (e.g. ``TW-2026-00012``); CaseNotFound otherwise."""
    try:
        found = session.get(models.Case, uuid.UUID(case))
    except ValueError:
        found = None
    if found is None:
        found = session.execute(select(models.Case).where(models.Case.reference == case)).scalar_one_or_none()
    if found is None:
        raise CaseNotFound(f"no case with id or reference {case!r}")
    return found


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a calendar day where the council is: a grant dated that day runs from it."""
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)


def _authorisation(row: models.Authorisation, zone: ZoneInfo) -> bs.Authorisation | None:
    """The record as the builder sees it; None when it was cancelled or expired before it began."""
    ripa = row.kind == models.AuthorisationKind.ripa_directed_surveillance.value
    approved = ripa and row.magistrate_decision == "approved" and row.approved_at is not None
    if ripa:
        start = row.approved_at or (_day_start(row.granted_on, zone) if row.granted_on else row.created_at)
    else:
        start = _day_start(row.granted_on, zone) if row.granted_on else row.created_at
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


# The most specific first: an officer's read (``evidence.read.event.page``, ``evidence.read.still``) is a
# read, not the "upload" or "storage" its words would otherwise match.
_STAGES = (
    ("evidence.read", "read"),
    ("purge", "retention"),
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
    """The custody stage an audit action belongs to (``event.review.confirmed`` -> ``review``)."""
    lowered = action.lower()
    return next((stage for key, stage in _STAGES if key in lowered), action)


def _opener(store: BlobStore, sha256: str) -> Callable[[], BinaryIO]:
    return lambda: store.open(sha256)


def _working_file(store: BlobStore, sha256: str | None) -> bs.WorkingFile | None:
    """A stored derived file, or None if it was never made or has gone (the builder then makes it)."""
    if sha256 is None or not store.exists(sha256):
        return None
    return bs.WorkingFile(sha256, store.size(sha256), _opener(store, sha256))


def _audit_extract(
    session: Session, case: models.Case, targets: set[str], upto: int | None
) -> tuple[bs.AuditExtract, dict[str, list[models.AuditEntry]]]:
    """The audit log from the first entry about the case's records to entry ``upto`` (the export's signed
    checkpoint; else the head), and those entries by their target (event id, file SHA-256 or case id)."""
    first = session.execute(
        select(func.min(models.AuditEntry.seq)).where(models.AuditEntry.target_id.in_(targets))
    ).scalar_one()
    if first is None:
        raise BundleExportError(f"no audit entries for case {case.reference}: the audit log is incomplete")
    stmt = select(models.AuditEntry).where(models.AuditEntry.seq >= first)
    if upto is not None:
        stmt = stmt.where(models.AuditEntry.seq <= upto)
    rows = session.execute(stmt.order_by(models.AuditEntry.seq)).scalars()
    records: list[bs.AuditRecord] = []
    by_target: dict[str, list[models.AuditEntry]] = {}
    for row in rows:
        records.append(bs.AuditRecord(row.seq, row.prev_hash, row.entry_hash, audit.entry_fields(row)))
        if row.target_id in targets:
            by_target.setdefault(row.target_id, []).append(row)
    return bs.AuditExtract(tuple(records), records[-1].entry_hash, AUDIT_HASH_SCHEME), by_target


def _custody(entries: Iterable[models.AuditEntry]) -> tuple[bs.CustodyStep, ...]:
    return tuple(
        bs.CustodyStep(custody_stage(e.action), e.at, e.actor, f"{e.action} ({e.target_type})", e.seq)
        for e in sorted(entries, key=lambda e: e.seq)
    )


def _exhibits(
    session: Session,
    events: list[models.Event],
    case: models.Case,
    store: BlobStore,
    shas: set[str],
    by_target: dict[str, list[models.AuditEntry]],
) -> list[bs.ExhibitSource]:
    """Every original file received (their SHA-256s are ``shas``), with its annotated copy and print
    copy where there are any."""
    annotated = {
        (f.event_id, f.role): f for e in events for f in e.files if f.kind == "annotated" and f.received_at
    }
    with_previews = select(models.Blob.sha256, models.Blob.preview_sha256).where(
        models.Blob.sha256.in_(shas), models.Blob.preview_sha256.is_not(None)
    )
    previews = {sha: preview for sha, preview in session.execute(with_previews).all() if preview}
    case_entries = by_target.get(str(case.id), [])
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
                    custody=_custody(entries),
                )
            )
    return exhibits


def build_spec(
    *,
    session: Session,
    case: models.Case,
    store: BlobStore,
    council: CouncilProfile,
    exported_by: str,
    exported_at: datetime,
    options: ExportOptions,
    bundle_id: str,
    checkpoint: Checkpoint | None = None,
) -> bs.BundleSpec:
    """Everything the builder needs, read from the database (the export's own audit entry included); the
    audit extract ends at ``checkpoint``, which the bundle then carries (else at the head).

    BundleExportError when the case has no confirmed events, no officer in charge, or no audit entries.
    """
    events = [e for e in case.events if e.review_status == CONFIRMED]
    if not events:
        raise BundleExportError(f"case {case.reference} has no confirmed events to export")
    initials = officer_initials(case.officer_in_charge)
    event_ids = {str(e.id) for e in events}
    shas = {f.sha256 for e in events for f in e.files if f.kind == "original" and f.received_at is not None}
    upto = checkpoint.tree_size if checkpoint else None
    extract, by_target = _audit_extract(session, case, event_ids | shas | {str(case.id)}, upto)
    zone = ZoneInfo(council.display_timezone)
    site_ids = {e.site_id for e in events}
    camera_ids = {e.camera_id for e in events}
    auth_rows = session.execute(select(models.Authorisation)).scalars().all()
    relevant = (
        a for a in auth_rows if {s.id for s in a.sites} & site_ids or {c.id for c in a.cameras} & camera_ids
    )
    authorisations = [auth for auth in (_authorisation(a, zone) for a in relevant) if auth is not None]
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
            offence=council.offence,
            officer_name=case.officer_in_charge,
            officer_initials=initials,
            opened_at=case.created_at,
            notes=case.notes,
        ),
        events=[_event_record(e) for e in events],
        decisions=[
            bs.ReviewDecision(
                str(e.id), e.review_status, e.reviewed_by or "not recorded", e.reviewed_at, e.review_reason
            )
            for e in events
            if e.reviewed_at is not None
        ],
        exhibits=_exhibits(session, events, case, store, shas, by_target),
        authorisations=authorisations,
        overrides=overrides,
        audit=extract,
        checkpoint=checkpoint,
        producer=bs.Producer(
            name=case.officer_in_charge,
            role=council.producer_role,
            organisation=council.name,
            system_description=council.system_description,
            clock_statement=council.clock_statement,
            storage_statement=council.storage_statement,
            address=council.address,
        ),
        exported_by=exported_by,
        exported_at=exported_at,
        redaction=bs.RedactionOptions(crop_vehicle=options.crop_vehicle, blur_people=options.blur_people),
        bundle_id=bundle_id,
        print_stills=options.print_stills,
        display_timezone=council.display_timezone,
    )


def _event_record(e: models.Event) -> bs.EventRecord:
    return bs.EventRecord(
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
        # only a read that fits a UK format is a registration; anything else is text on the vehicle
        plate_text=e.plate_text if e.plate_valid_uk_format else None,
        linked_event_ids=tuple(str(x) for x in e.linked_event_ids),
        details=_details(e),
    )


def _details(e: models.Event) -> dict[str, str | int | float | bool | None]:
    details: dict[str, str | int | float | bool | None] = {
        k: v for k, v in e.details.items() if isinstance(v, str | int | float | bool)
    }
    if e.plate_text and not e.plate_valid_uk_format:
        details["unverified_text_read"] = f"{e.plate_text} (fits no UK registration format)"
    return details
