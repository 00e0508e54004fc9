"""The plain description of one case export: what the bundle builder needs, and nothing of the database.

:mod:`evidence_api.services.bundle_spec` maps database rows onto these dataclasses; tests and benchmarks
build them directly.  Every time is timezone-aware UTC; local time (in :attr:`BundleSpec.display_timezone`,
the API's ``display_timezone`` setting) is added only when the manifest and documents are written, for the
people who read them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from evidence_api.bundle.checkpoint import Checkpoint
from evidence_api.settings import DEFAULT_DISPLAY_TIMEZONE

JsonScalar = str | int | float | bool | None


class BundleSpecError(ValueError):
    """The description of an export is inconsistent; the message says which record and why."""


class BundleBuildError(RuntimeError):
    """The export cannot be made as described; nothing is left at the output path."""


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise BundleSpecError(f"{name} must be timezone-aware UTC, got naive {value.isoformat()}")


class AuthorisationKind(enum.StrEnum):
    RIPA_DIRECTED = "ripa_directed"  # directed surveillance under RIPA 2000, approved by a magistrate
    OVERT_DPIA = "overt_dpia"  # overt camera: signage in place and a data protection impact assessment


@dataclass(frozen=True, slots=True)
class CaseInfo:
    case_id: str
    reference: str  # the council's case reference, e.g. "FT/2026/0142"
    title: str
    offence: str  # e.g. "s.33(1)(a) Environmental Protection Act 1990"
    officer_name: str
    officer_initials: str  # exhibit references are INITIALS/N, e.g. SG/1
    opened_at: datetime
    notes: str = ""

    def __post_init__(self) -> None:
        _require_aware("case.opened_at", self.opened_at)
        if not self.officer_initials.isalpha() or not self.officer_initials.isupper():
            raise BundleSpecError(
                f"officer initials must be upper-case letters (e.g. 'SG'), got {self.officer_initials!r}"
            )


@dataclass(frozen=True, slots=True)
class EventRecord:
    event_id: str
    type: str  # "dumping" | "vehicle_visit"
    site_id: str
    site_name: str
    camera_id: str
    started_at: datetime
    ended_at: datetime
    clock_source: str  # "stream" | "receive"
    model_name: str
    model_sha256: str
    rule_version: str
    zone: str | None = None
    plate_text: str | None = None
    linked_event_ids: tuple[str, ...] = ()
    details: dict[str, JsonScalar] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_aware(f"event {self.event_id} started_at", self.started_at)
        _require_aware(f"event {self.event_id} ended_at", self.ended_at)


@dataclass(frozen=True, slots=True)
class ReviewDecision:
    event_id: str
    decision: str  # "confirmed" | "rejected" | ...
    reviewer: str
    decided_at: datetime
    reasons: str = ""

    def __post_init__(self) -> None:
        _require_aware(f"review of {self.event_id} decided_at", self.decided_at)


@dataclass(frozen=True, slots=True)
class VehicleBox:
    """Where the vehicle (and its plate, if read) are in a still: the crop for the working copy."""

    vehicle_xyxy: tuple[int, int, int, int]
    plate_xyxy: tuple[int, int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class CustodyStep:
    """One step of an exhibit's life after capture, backed by an entry of the hash-chained audit log."""

    stage: str  # "upload" | "storage" | "review" | "case" | "export" | ...
    at: datetime
    actor: str
    description: str
    audit_seq: int

    def __post_init__(self) -> None:
        _require_aware(f"custody step {self.stage} at", self.at)


@dataclass(frozen=True, slots=True)
class ExhibitSource:
    """One original still or clip as received from the edge box (the write-once master)."""

    event_id: str
    role: str  # arrival, vehicle, plate, act, departure, before, after, clip
    media_type: str  # image/jpeg | video/mp4
    sha256: str
    size: int
    captured_at: datetime
    camera_id: str
    site_id: str
    model_name: str
    model_sha256: str
    rule_version: str
    open: Callable[[], BinaryIO]  # a fresh binary stream of the master's bytes
    received_at: datetime | None = None
    description: str = ""
    annotated: WorkingFile | None = None  # the edge box's annotated working copy, if any
    preview: WorkingFile | None = None  # a still's reduced print copy (made at ingest), if any
    vehicle: VehicleBox | None = None
    custody: tuple[CustodyStep, ...] = ()

    def __post_init__(self) -> None:
        _require_aware(f"exhibit {self.sha256[:12]} captured_at", self.captured_at)
        _require_aware(f"exhibit {self.sha256[:12]} received_at", self.received_at)
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise BundleSpecError(f"exhibit sha256 must be 64 lower-case hex digits, got {self.sha256!r}")
        if self.media_type not in ("image/jpeg", "video/mp4"):
            raise BundleSpecError(
                f"exhibit media type must be image/jpeg or video/mp4, got {self.media_type!r}"
            )

    @property
    def is_still(self) -> bool:
        return self.media_type == "image/jpeg"


@dataclass(frozen=True, slots=True)
class WorkingFile:
    """A file derived from a master (the edge box's annotated copy, or the reduced print copy made at
    ingest): a working copy, never evidence itself."""

    sha256: str
    size: int
    open: Callable[[], BinaryIO]


@dataclass(frozen=True, slots=True)
class Authorisation:
    """A surveillance authorisation: RIPA directed surveillance, or the overt signage/DPIA record."""

    authorisation_id: str
    kind: AuthorisationKind
    reference: str
    site_ids: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime
    granted_by: str  # authorising officer (RIPA) or DPO (DPIA)
    approved_by: str | None = None  # the magistrate / JP who approved a RIPA authorisation
    approved_at: datetime | None = None
    camera_ids: tuple[str, ...] = ()  # empty: every camera at the sites
    summary: str = ""

    def __post_init__(self) -> None:
        _require_aware(f"authorisation {self.reference} valid_from", self.valid_from)
        _require_aware(f"authorisation {self.reference} valid_until", self.valid_until)
        _require_aware(f"authorisation {self.reference} approved_at", self.approved_at)
        if self.valid_until <= self.valid_from:
            raise BundleSpecError(f"authorisation {self.reference} ends before it starts")

    def covers(self, site_id: str, camera_id: str, at: datetime) -> bool:
        """In force for this camera at this instant (RIPA: only once a magistrate has approved it)."""
        if site_id not in self.site_ids or (self.camera_ids and camera_id not in self.camera_ids):
            return False
        if not self.valid_from <= at < self.valid_until:
            return False
        if self.kind is AuthorisationKind.RIPA_DIRECTED:
            return self.approved_by is not None and self.approved_at is not None and self.approved_at <= at
        return True


@dataclass(frozen=True, slots=True)
class LegalOverride:
    """A lawyer's recorded decision to include an exhibit that no authorisation covered at capture."""

    override_id: str
    exhibit_sha256: str
    granted_by: str
    granted_at: datetime
    reasons: str

    def __post_init__(self) -> None:
        _require_aware(f"override {self.override_id} granted_at", self.granted_at)
        if not self.reasons.strip():
            raise BundleSpecError(f"override {self.override_id} must give its reasons")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One entry of the hash-chained audit log, exactly as the log stores and hashes it."""

    seq: int
    prev_hash: str
    entry_hash: str
    fields: Mapping[str, JsonScalar]  # the hashed content other than seq/prev_hash (at, actor, action, ...)


@dataclass(frozen=True, slots=True)
class AuditExtract:
    """A contiguous run of the audit log ending at its head (an export's: its signed checkpoint), and the
    scheme its hashes follow."""

    entries: tuple[AuditRecord, ...]
    head_hash: str
    hash_scheme: str

    def __post_init__(self) -> None:
        if not self.entries:
            raise BundleSpecError("the audit extract is empty: an export needs at least its own audit entry")
        if self.entries[-1].entry_hash != self.head_hash:
            raise BundleSpecError("the audit extract must end at the chain head")

    def by_seq(self) -> dict[int, AuditRecord]:
        return {e.seq: e for e in self.entries}


@dataclass(frozen=True, slots=True)
class Producer:
    """Who produces the exhibits, and the facts the s.9 statement relies on."""

    name: str
    role: str
    organisation: str
    system_description: str
    clock_statement: str
    storage_statement: str
    address: str = ""


@dataclass(frozen=True, slots=True)
class RedactionOptions:
    """Which working copies to derive from each still besides the edge box's annotated copy."""

    crop_vehicle: bool = True
    blur_people: bool = False


@dataclass(slots=True)
class BundleSpec:
    case: CaseInfo
    events: list[EventRecord]
    decisions: list[ReviewDecision]
    exhibits: list[ExhibitSource]
    authorisations: list[Authorisation]
    overrides: list[LegalOverride]
    audit: AuditExtract
    producer: Producer
    exported_by: str
    exported_at: datetime
    redaction: RedactionOptions = field(default_factory=RedactionOptions)
    bundle_id: str = ""
    print_stills: bool = True  # embed each master still in the PDF exhibit list (doubles the bytes written)
    display_timezone: str = DEFAULT_DISPLAY_TIMEZONE  # IANA name of the zone the documents' local times use
    # the signed checkpoint of the audit log the extract ends at (an export always has one; see
    # services/audit_checkpoints.py); the manifest carries it and the verifier holds the extract to it
    checkpoint: Checkpoint | None = None

    def __post_init__(self) -> None:
        _require_aware("exported_at", self.exported_at)
        try:
            ZoneInfo(self.display_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise BundleSpecError(
                f"display time zone {self.display_timezone!r} is not a known IANA zone "
                "(e.g. 'Europe/London'): check TIPWATCH_DISPLAY_TIMEZONE"
            ) from exc
        known_events = {e.event_id for e in self.events}
        for ex in self.exhibits:
            if ex.event_id not in known_events:
                raise BundleSpecError(
                    f"exhibit {ex.sha256[:12]} belongs to event {ex.event_id}, not in the case"
                )
        seqs = self.audit.by_seq()
        if self.checkpoint is not None:
            at = seqs.get(self.checkpoint.tree_size)
            if at is None or at.entry_hash != self.checkpoint.head_hash:
                first, last = self.audit.entries[0].seq, self.audit.entries[-1].seq
                raise BundleSpecError(
                    f"the audit extract (entries {first} to {last}) does not agree with "
                    f"{self.checkpoint.describe()}"
                )
        for ex in self.exhibits:
            for step in ex.custody:
                if step.audit_seq not in seqs:
                    raise BundleSpecError(
                        f"custody step {step.stage} of exhibit {ex.sha256[:12]} cites audit entry "
                        f"{step.audit_seq}, which is not in the extract"
                    )

    @property
    def zone(self) -> ZoneInfo:
        """The display time zone."""
        return ZoneInfo(self.display_timezone)
