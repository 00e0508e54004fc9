"""ORM tables: sites, cameras, devices, users, tokens, authorisations, events, files, blobs, cases, audit,
the event feed's outbox, public reports."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from evidence_api.db import Base, UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(enum.StrEnum):
    device = "device"
    officer = "officer"
    legal = "legal"
    admin = "admin"


class LandType(enum.StrEnum):
    """DEFRA WasteDataFlow fly-tipping land categories."""

    highway = "highway"
    footpath_bridleway = "footpath_bridleway"
    back_alleyway = "back_alleyway"
    council_land = "council_land"
    agricultural = "agricultural"
    private_residential = "private_residential"
    commercial_industrial = "commercial_industrial"
    watercourse_bank = "watercourse_bank"
    railway = "railway"
    other = "other"


class SizeBand(enum.StrEnum):
    """DEFRA WasteDataFlow fly-tipping size bands."""

    single_black_bag = "single_black_bag"
    single_item = "single_item"
    car_boot_or_less = "car_boot_or_less"
    small_van_load = "small_van_load"
    transit_van_load = "transit_van_load"
    tipper_lorry_load = "tipper_lorry_load"
    significant_multi_loads = "significant_multi_loads"


class WasteType(enum.StrEnum):
    """DEFRA WasteDataFlow fly-tipping waste types."""

    animal_carcass = "animal_carcass"
    green = "green"
    vehicle_parts = "vehicle_parts"
    white_goods = "white_goods"
    other_electrical = "other_electrical"
    tyres = "tyres"
    asbestos = "asbestos"
    clinical = "clinical"
    construction_demolition_excavation = "construction_demolition_excavation"
    black_bags_commercial = "black_bags_commercial"
    black_bags_household = "black_bags_household"
    chemical_drums_oil_fuel = "chemical_drums_oil_fuel"
    other_household = "other_household"
    other_commercial = "other_commercial"
    other = "other"


class EnforcementAction(enum.StrEnum):
    """DEFRA WasteDataFlow enforcement actions (a case records each action taken, once)."""

    investigation = "investigation"
    warning_letter = "warning_letter"
    fixed_penalty_notice = "fixed_penalty_notice"
    statutory_notice = "statutory_notice"
    duty_of_care_inspection = "duty_of_care_inspection"
    formal_caution = "formal_caution"
    injunction = "injunction"
    stop_and_search = "stop_and_search"
    vehicle_seized = "vehicle_seized"
    prosecution = "prosecution"


class Outcome(enum.StrEnum):
    warning_letter = "warning_letter"
    fixed_penalty_notice = "fixed_penalty_notice"
    prosecution = "prosecution"
    community_resolution = "community_resolution"
    no_further_action = "no_further_action"


class ReviewStatus(enum.StrEnum):
    new = "new"
    under_review = "under_review"
    confirmed = "confirmed"
    dismissed = "dismissed"


class UploadStatus(enum.StrEnum):
    awaiting_files = "awaiting_files"
    complete = "complete"


class AuthorisationKind(enum.StrEnum):
    ripa_directed_surveillance = "ripa_directed_surveillance"
    overt = "overt"


class User(Base):
    __tablename__ = "users"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cameras: Mapped[list[Camera]] = relationship(back_populates="device")


class ApiToken(Base):
    """An opaque bearer token; only its keyed hash is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # session | device | api
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    user: Mapped[User | None] = relationship()
    device: Mapped[Device | None] = relationship()


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    location_description: Mapped[str] = mapped_column(Text, default="")
    land_type: Mapped[str] = mapped_column(String(40))
    parish_ward: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cameras: Mapped[list[Camera]] = relationship(back_populates="site")


class Camera(Base):
    __tablename__ = "cameras"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"))
    covert: Mapped[bool] = mapped_column(Boolean, default=False)
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    device_identity: Mapped[str] = mapped_column(String(200), default="")
    clock_source: Mapped[str] = mapped_column(String(40), default="stream")
    status: Mapped[str] = mapped_column(String(40), default="active")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the edge box's latest health report (``POST /cameras/{key}/health``), as sent, and when it came
    health_status: Mapped[str | None] = mapped_column(String(40), nullable=True)
    health_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    health_report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    site: Mapped[Site] = relationship(back_populates="cameras")
    device: Mapped[Device | None] = relationship(back_populates="cameras")


class CameraHealthPeriod(Base):
    """A stretch of time one camera's edge box reported the same health status: opened by the first
    report of a new status, extended by each report of the same one (so a heartbeat a minute costs no
    new row)."""

    __tablename__ = "camera_health_periods"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    camera_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cameras.id"), index=True)
    status: Mapped[str] = mapped_column(String(40))
    first_received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reports: Mapped[int] = mapped_column(Integer, default=1)
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)  # the latest report's, in its words
    audited: Mapped[bool] = mapped_column(Boolean, default=False)  # written to the audit log once it stood


class AuthorisationCamera(Base):
    __tablename__ = "authorisation_cameras"
    authorisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("authorisations.id"), primary_key=True)
    camera_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cameras.id"), primary_key=True)


class AuthorisationSite(Base):
    __tablename__ = "authorisation_sites"
    authorisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("authorisations.id"), primary_key=True)
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"), primary_key=True)


class Authorisation(Base):
    """A RIPA directed-surveillance authorisation (covert) or an overt-camera record (signage, DPIA)."""

    __tablename__ = "authorisations"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(40))
    urn: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    subjects: Mapped[str] = mapped_column(Text, default="")
    authorising_officer_name: Mapped[str] = mapped_column(String(200), default="")
    authorising_officer_grade: Mapped[str] = mapped_column(String(200), default="")
    grounds: Mapped[str] = mapped_column(Text, default="")
    offence_min_months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    necessity: Mapped[str] = mapped_column(Text, default="")
    proportionality: Mapped[str] = mapped_column(Text, default="")
    collateral_intrusion: Mapped[str] = mapped_column(Text, default="")
    granted_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    magistrate_court: Mapped[str] = mapped_column(String(200), default="")
    magistrate_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    magistrate_decision: Mapped[str] = mapped_column(String(40), default="pending")
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancellation_reason: Mapped[str] = mapped_column(Text, default="")
    signage_description: Mapped[str] = mapped_column(Text, default="")
    dpia_reference: Mapped[str] = mapped_column(String(200), default="")
    review_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    cameras: Mapped[list[Camera]] = relationship(secondary="authorisation_cameras")
    sites: Mapped[list[Site]] = relationship(secondary="authorisation_sites")
    reviews: Mapped[list[AuthorisationReview]] = relationship(
        back_populates="authorisation", order_by="AuthorisationReview.reviewed_at"
    )
    renewals: Mapped[list[AuthorisationRenewal]] = relationship(
        back_populates="authorisation", order_by="AuthorisationRenewal.renewed_at"
    )


class AuthorisationReview(Base):
    __tablename__ = "authorisation_reviews"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    authorisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("authorisations.id"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewer: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    authorisation: Mapped[Authorisation] = relationship(back_populates="reviews")


class AuthorisationRenewal(Base):
    __tablename__ = "authorisation_renewals"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    authorisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("authorisations.id"))
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    magistrate_court: Mapped[str] = mapped_column(String(200), default="")
    magistrate_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    previous_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    new_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notes: Mapped[str] = mapped_column(Text, default="")
    authorisation: Mapped[Authorisation] = relationship(back_populates="renewals")


class Blob(Base):
    """One stored byte string, keyed by its SHA-256 (the blob store holds the bytes)."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # a still's reduced print copy (evidence_api.previews), itself a blob; None for clips and
    # for stills that do not decode
    preview_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    reference: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | closed
    officer_in_charge: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    suspect_vehicle: Mapped[str] = mapped_column(String(200), default="")  # make and colour, free text
    suspect_registration: Mapped[str] = mapped_column(String(20), default="")
    outcome: Mapped[str | None] = mapped_column(String(40), nullable=True)
    size_band: Mapped[str | None] = mapped_column(String(40), nullable=True)
    waste_type: Mapped[str | None] = mapped_column(String(60), nullable=True)
    land_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    events: Mapped[list[Event]] = relationship(back_populates="case", order_by="Event.started_at")
    actions: Mapped[list[CaseAction]] = relationship(
        back_populates="case", order_by="CaseAction.action", cascade="all, delete-orphan"
    )


class CaseAction(Base):
    """An enforcement action taken on a case (:class:`EnforcementAction`), counted in the WasteDataFlow
    return of the quarter it was recorded in."""

    __tablename__ = "case_actions"
    __table_args__ = (UniqueConstraint("case_id", "action"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(200), default="")
    case: Mapped[Case] = relationship(back_populates="actions")


class Event(Base):
    """An event as uploaded by the detector; ``id`` is the edge-minted UUIDv7 (idempotency key)."""

    __tablename__ = "events"
    # The review queue: open events newest first, by time over all statuses, by site, camera or plate.
    __table_args__ = (
        Index("ix_events_review_status_started_at", "review_status", "started_at"),
        Index("ix_events_started_at", "started_at"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    type: Mapped[str] = mapped_column(String(30))
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"), index=True)
    camera_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cameras.id"), index=True)
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    clock_source: Mapped[str] = mapped_column(String(20))
    model_name: Mapped[str] = mapped_column(String(200))
    model_sha256: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[str] = mapped_column(String(100))
    zone: Mapped[str | None] = mapped_column(String(200), nullable=True)
    plate_text: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    plate_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    plate_valid_uk_format: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    linked_event_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    metadata_sha256: Mapped[str] = mapped_column(String(64))
    upload_status: Mapped[str] = mapped_column(String(20), default=UploadStatus.awaiting_files.value)
    review_status: Mapped[str] = mapped_column(String(20), default=ReviewStatus.new.value)
    review_reason: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    authorised_at_capture: Mapped[bool] = mapped_column(Boolean)
    authorisation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("authorisations.id"), nullable=True)
    authorisation_note: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    site: Mapped[Site] = relationship()
    camera: Mapped[Camera] = relationship()
    authorisation: Mapped[Authorisation | None] = relationship()
    case: Mapped[Case | None] = relationship(back_populates="events")
    files: Mapped[list[EventFile]] = relationship(back_populates="event", order_by="EventFile.position")
    overrides: Mapped[list[LegalOverride]] = relationship(back_populates="event")


class EventFile(Base):
    """A still or clip declared by an event; ``received_at`` is set when its bytes have arrived."""

    __tablename__ = "event_files"
    __table_args__ = (UniqueConstraint("event_id", "name"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    media_type: Mapped[str] = mapped_column(String(60))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    event: Mapped[Event] = relationship(back_populates="files")


class LegalOverride(Base):
    """A lawyer's recorded decision to export evidence captured outside an authorisation."""

    __tablename__ = "legal_overrides"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"))
    decided_by: Mapped[str] = mapped_column(String(200))
    reasons: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    event: Mapped[Event] = relationship(back_populates="overrides")


class AuditEntry(Base):
    """Append-only, hash-chained: entry_hash = sha256(canonical JSON of fields + seq + prev_hash)."""

    __tablename__ = "audit_entries"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(60))
    target_id: Mapped[str] = mapped_column(String(100), index=True)
    before_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    after_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON text, hashed as is
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """One row: the chain head. Appends lock it, so the chain stays linear across replicas."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))


class OutboxMessage(Base):
    """A message of the event feed, written in the same transaction as the change it announces (a
    transactional outbox): if the change is committed, so is the message, and a broker that is down
    costs the request nothing.  The API's publisher claims unpublished rows (``claimed_by`` until
    ``claimed_until``, so two replicas never send the same row at once), publishes them, and sets
    ``published_at`` once the broker has acknowledged; published rows are deleted after the settings'
    retention (``services/outbox.py``, ``mqtt.py``)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    channel: Mapped[str] = mapped_column(String(40), default="mqtt")  # who sends it
    topic: Mapped[str] = mapped_column(String(300))  # under the topic prefix: <site>/<camera>/events
    payload: Mapped[str] = mapped_column(Text)  # JSON text, sent as is
    retain: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)


class PublicReport(Base):
    """A fly-tip reported by a member of the public on ``/report`` (no sign-in), for an officer to
    follow up.  ``client_key`` is a keyed hash of the client's address (never the address itself),
    kept only so the rate limit can count a client's reports across replicas; the contact details are
    personal data, shown to officers and admins only and never written to the log or the audit."""

    __tablename__ = "public_reports"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    client_key: Mapped[str] = mapped_column(String(64), index=True)
    location_description: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    location_source: Mapped[str] = mapped_column(String(20))  # "typed", "photo" or "description"
    description: Mapped[str] = mapped_column(Text)
    saw_who: Mapped[str] = mapped_column(String(10))  # "yes", "no" or "unsure"
    will_give_statement: Mapped[bool] = mapped_column(Boolean)
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    photos: Mapped[list[PublicReportPhoto]] = relationship(
        back_populates="report", order_by="PublicReportPhoto.position"
    )


class PublicReportPhoto(Base):
    """A photo sent with a public report: the original as sent (the master blob, by its SHA-256) and a
    display copy re-encoded without its metadata (EXIF, GPS), which is what the pages show."""

    __tablename__ = "public_report_photos"
    __table_args__ = (UniqueConstraint("report_id", "position"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("public_reports.id"))
    position: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(60))
    display_sha256: Mapped[str] = mapped_column(String(64), index=True)
    report: Mapped[PublicReport] = relationship(back_populates="photos")
