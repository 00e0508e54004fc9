"""The records of ``manifest.json``, typed key for key, and how the manifest writes a time.

The manifest is JSON, signed as :func:`~evidence_api.bundle.format.canonical_json` bytes; the builder
writes these records, the documents are rendered from them, and the verifier reads them back.  They are
``TypedDict`` s rather than dataclasses because they *are* the JSON: what is built is what is signed,
with no conversion step between them that could drift.  A reader of an untrusted bundle (the verifier)
must still treat every key as possibly missing.

Standard library only, like the verifier that imports it.  Times are ISO-8601 UTC strings; the
``*_local`` ones are wall time in the display time zone with its label, for people to read.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import NotRequired, TypedDict

JsonScalar = str | int | float | bool | None


class CaseEntry(TypedDict):
    case_id: str
    reference: str
    title: str
    offence: str
    officer_name: str
    officer_initials: str
    opened_at: str
    notes: str


class ProducerEntry(TypedDict):
    name: str
    role: str
    organisation: str
    address: str


class EventEntry(TypedDict):
    event_id: str
    type: str
    site_id: str
    site_name: str
    camera_id: str
    started_at: str
    started_at_local: str
    ended_at: str
    clock_source: str
    model_name: str
    model_sha256: str
    rule_version: str
    zone: str | None
    plate_text: str | None
    linked_event_ids: list[str]
    details: dict[str, JsonScalar]


class ReviewDecisionEntry(TypedDict):
    event_id: str
    decision: str
    reviewer: str
    decided_at: str
    reasons: str


class AuthorisationEntry(TypedDict):
    authorisation_id: str
    kind: str
    reference: str
    site_ids: list[str]
    camera_ids: list[str]
    valid_from: str
    valid_until: str
    granted_by: str
    approved_by: str | None
    approved_at: str | None
    summary: str


class OverrideEntry(TypedDict):
    override_id: str
    exhibit_sha256: str
    granted_by: str
    granted_at: str
    reasons: str


class ExcludedEntry(TypedDict):
    """An exhibit left out: no authorisation covered it at capture and no legal override was recorded."""

    event_id: str
    role: str
    sha256: str
    captured_at_utc: str
    reason: str


class CheckpointBody(TypedDict):
    """A signed checkpoint of the audit log (``bundle/checkpoint.py``)."""

    format: str
    hash_scheme: str
    index: int
    tree_size: int
    head_hash: str
    at: str
    key_fingerprint: str


class CheckpointRecord(TypedDict):
    checkpoint: CheckpointBody
    signature: str  # Ed25519 over the canonical JSON of ``checkpoint``, 128 hex digits


class ContinuityEntry(TypedDict):
    audit_extract: str
    hash_scheme: str
    first_seq: int
    head_seq: int
    head_hash: str
    checkpoint: NotRequired[CheckpointRecord]  # the signed checkpoint the extract ends at


class SigningEntry(TypedDict):
    algorithm: str
    key_id: str
    fingerprint: str
    public_key: str
    signature: str
    signed_bytes: str


class CustodyEntry(TypedDict):
    """One step of an exhibit's custody; every step after capture cites its audit entry."""

    stage: str
    at: str
    actor: str
    description: str
    audit_seq: int | None
    audit_hash: str | None


class WorkingCopyEntry(TypedDict):
    path: str
    label: str
    sha256: str


class ExhibitEntry(TypedDict):
    reference: str
    slug: str
    description: str
    event_id: str
    role: str
    master: str
    sha256: str
    size: int
    media_type: str
    captured_at_utc: str
    captured_at_local: str
    clock_source: str
    received_at_utc: str | None
    camera_id: str
    site_id: str
    site_name: str
    model_name: str
    model_sha256: str
    rule_version: str
    authorisation_id: str | None
    override_id: str | None
    authority: str
    working_copies: list[WorkingCopyEntry]
    custody: list[CustodyEntry]


class FileEntry(TypedDict):
    """A file of the bundle with its SHA-256 and size; every file but the manifest and its signature."""

    path: str
    sha256: str
    size: int
    media_type: str
    kind: str


class DocumentsEntry(TypedDict):
    exhibit_list_pdf: list[str]


class Manifest(TypedDict):
    format: str
    bundle_id: str
    exported_at: str
    exported_at_local: str
    exported_by: str
    case: CaseEntry
    producer: ProducerEntry
    events: list[EventEntry]
    review_decisions: list[ReviewDecisionEntry]
    authorisations: list[AuthorisationEntry]
    overrides: list[OverrideEntry]
    excluded_exhibits: list[ExcludedEntry]
    continuity: ContinuityEntry
    signing: SigningEntry
    exhibits: list[ExhibitEntry]
    files: NotRequired[list[FileEntry]]  # added last, once every other file is written
    documents: NotRequired[DocumentsEntry]


def utc_iso(at: datetime) -> str:
    """ISO-8601 in UTC, e.g. ``2026-07-14T21:05:00+00:00``."""
    return at.astimezone(UTC).isoformat()


def utc_and_local(at: datetime, zone: tzinfo) -> tuple[str, str]:
    """ISO-8601 UTC, and wall time in ``zone`` with its label (GMT/BST in Europe/London) and offset,
    e.g. ``2026-07-14 22:05:00 BST (2026-07-14T22:05:00+01:00)``."""
    utc = at.astimezone(UTC)
    local = utc.astimezone(zone)
    return utc.isoformat(), f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({local.isoformat()})"
