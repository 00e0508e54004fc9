"""Request/response models; the ingest contract (docs/ingest-contract.md) lives here."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

from evidence_api.input_types import BoxClockTime, Int64, InUtcRange, PlausibleDate, SingleLine, Text
from evidence_api.models import (
    AuthorisationKind,
    EnforcementAction,
    LandType,
    Outcome,
    ReviewStatus,
    Role,
    SizeBand,
    WasteType,
)

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
ShortText = Annotated[str, StringConstraints(max_length=300), SingleLine]
LongText = Annotated[str, StringConstraints(max_length=20000), Text]
Title = Annotated[str, StringConstraints(min_length=1, max_length=300), SingleLine]
Time = Annotated[AwareDatetime, InUtcRange]
Day = Annotated[date, PlausibleDate]

DETAIL_KEY_MAX = 100  # characters in a ``details`` key
DETAIL_TEXT_MAX = 1000  # characters in a ``details`` text value: a note, never a payload
DETAIL_ENTRIES_MAX = 100
DetailKey = Annotated[str, StringConstraints(max_length=DETAIL_KEY_MAX), SingleLine]
DetailValue = Annotated[
    Annotated[str, StringConstraints(max_length=DETAIL_TEXT_MAX), Text] | int | float | bool, Int64
]


class InputModel(BaseModel):
    """A request body: unknown fields refused, numbers finite (JSON's ``NaN``/``Infinity`` refused)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class EventType(StrEnum):
    dumping = "dumping"
    vehicle_visit = "vehicle_visit"


class FileRole(StrEnum):
    arrival = "arrival"
    vehicle = "vehicle"
    plate = "plate"
    act = "act"
    departure = "departure"
    before = "before"
    after = "after"
    deposit = "deposit"  # a crop of what was left
    clip = "clip"


class FileKind(StrEnum):
    original = "original"
    annotated = "annotated"


class MediaType(StrEnum):
    jpeg = "image/jpeg"
    mp4 = "video/mp4"


class ModelInfo(InputModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200), SingleLine]
    sha256: Sha256


class PlateRead(InputModel):
    """A number-plate read; text and confidence are null when the edge box looked but read nothing."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=20), SingleLine] | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    valid_uk_format: bool


class FileDecl(InputModel):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")]
    role: FileRole
    kind: FileKind
    media_type: MediaType
    sha256: Sha256
    size: int = Field(ge=1, le=2**40)
    captured_at: Time | None = None


class EventIn(InputModel):
    """``POST /api/v1/events`` body, exactly as the detector uploads it."""

    id: uuid.UUID
    type: EventType
    site_id: Key
    camera_id: Key
    started_at: Time
    ended_at: Time
    clock_source: Literal["stream", "receive"]
    model: ModelInfo
    rule_version: Annotated[str, StringConstraints(min_length=1, max_length=100), SingleLine]
    zone: Annotated[str, StringConstraints(max_length=200), SingleLine] | None = None
    linked_event_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    plate: PlateRead | None = None
    details: dict[DetailKey, DetailValue] = Field(default_factory=dict, max_length=DETAIL_ENTRIES_MAX)
    files: list[FileDecl] = Field(max_length=64)

    @model_validator(mode="after")
    def _check(self) -> EventIn:
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        names = [f.name for f in self.files]
        if len(names) != len(set(names)):
            raise ValueError("files: two files share a name")
        return self


class IngestResult(BaseModel):
    id: uuid.UUID
    status: Literal["awaiting_files", "complete"]
    missing_files: list[str]


class FileStored(BaseModel):
    id: uuid.UUID
    sha256: str
    stored: bool
    status: Literal["awaiting_files", "complete"]
    missing_files: list[str]


class EventFileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str
    role: str
    kind: str
    media_type: str
    sha256: str
    size: int
    captured_at: datetime | None
    received_at: datetime | None


class EventOut(BaseModel):
    id: uuid.UUID
    type: str
    site_key: str
    camera_key: str
    started_at: datetime
    ended_at: datetime
    clock_source: str
    model_name: str
    model_sha256: str
    rule_version: str
    zone: str | None
    plate_text: str | None
    plate_confidence: float | None
    plate_valid_uk_format: bool | None
    details: dict[str, str | int | float | bool]
    linked_event_ids: list[str]
    upload_status: str
    review_status: str
    review_reason: str
    reviewed_by: str | None
    reviewed_at: datetime | None
    authorised_at_capture: bool
    authorisation_urn: str | None
    authorisation_note: str
    legal_override: bool
    case_id: uuid.UUID | None
    received_at: datetime
    files: list[EventFileOut]


class EventPage(BaseModel):
    items: list[EventOut]
    total: int


class LoginIn(InputModel):
    username: Annotated[str, StringConstraints(min_length=1, max_length=120), SingleLine]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000), Text]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 scheme name
    role: Role
    expires_at: datetime | None


class Me(BaseModel):
    name: str
    role: Role
    kind: Literal["user", "device"]


class SiteIn(InputModel):
    key: Key
    name: Annotated[str, StringConstraints(min_length=1, max_length=200), SingleLine]
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    location_description: LongText = ""
    land_type: LandType
    parish_ward: ShortText = ""


class SiteOut(BaseModel):
    """A site as stored: plain types, not the input checks (a record stored before a check existed
    must still be readable)."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    key: str
    name: str
    latitude: float | None = None
    longitude: float | None = None
    location_description: str = ""
    land_type: LandType
    parish_ward: str = ""
    created_at: datetime


class CameraIn(InputModel):
    key: Key
    site_key: Key
    covert: bool = False
    device_identity: ShortText = ""
    clock_source: Literal["stream", "receive", "ntp", "gps"] = "stream"


class CameraOut(BaseModel):
    id: uuid.UUID
    key: str
    site_key: str
    covert: bool
    device_name: str | None
    device_identity: str
    clock_source: str
    status: str
    last_seen_at: datetime | None
    health_status: str | None = Field(
        description="the edge box's latest reported status (ok, attention, view_moved, disk_low, "
        "not_spooled), or null if it never reported"
    )
    health_reported_at: datetime | None
    silent: bool = Field(description="not heard from for longer than the server's camera_silent_after_s")
    warnings: list[str] = Field(
        description="what a person should look at, in words: silent, a shifted "
        "view, a full disk, a wrong clock ..."
    )


# An edge box reports the times of its own clock, which may be wrong (a box without a battery-backed
# clock boots in 1970): accepted from 1970 so the report can say so, unlike evidence times.
HealthTime = Annotated[AwareDatetime, BoxClockTime]
HealthStatus = Literal["ok", "attention", "view_moved", "disk_low", "not_spooled"]
Count = Annotated[int, Strict(), Field(ge=0, lt=2**63)]
HEALTH_TEXT_MAX = 500  # characters in a problem or reason: a sentence, never a payload
HealthProblem = Annotated[str, StringConstraints(max_length=HEALTH_TEXT_MAX), SingleLine]
HEALTH_LIST_MAX = 20  # entries in each list of a health report (the edge sends at most its latest 20)


class EdgeEventNote(InputModel):
    """One event the edge box could not spool in full, or at all."""

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=100), SingleLine]
    reason: HealthProblem
    at: HealthTime


class CameraHealthIn(InputModel):
    """An edge box's health record for one camera: its ``<spool>/health.json`` as the box wrote it
    (see ``detector/sinks/health.py``), plus what its uploader adds (``clock_offset_s``,
    ``clock_held``).  ``status`` is the worst of ``not_spooled`` > ``disk_low`` > ``view_moved`` >
    ``attention`` > ``ok``.  Times are the box's clock."""

    status: HealthStatus
    since: HealthTime = Field(description="when the box entered this status (its clock)")
    updated_at: HealthTime = Field(description="when the box wrote this record (its clock)")
    camera_id: Key = Field(description="the camera's key; must match the URL's")
    free_bytes: Count = Field(description="free space on the spool's disk, bytes")
    reserve_bytes: Count = Field(description="the evidence reserve below which evidence is cut, bytes")
    problems: list[HealthProblem] = Field(default_factory=list, max_length=HEALTH_LIST_MAX)
    events_not_spooled: list[EdgeEventNote] = Field(default_factory=list, max_length=HEALTH_LIST_MAX)
    not_spooled: Count = Field(default=0, description="how many events wait in staging, unspooled")
    events_reduced: list[EdgeEventNote] = Field(default_factory=list, max_length=HEALTH_LIST_MAX)
    pending: Count = Field(description="events spooled and not yet uploaded")
    incomplete: Count = Field(description="staged entries kept for a person to look at")
    last_frame_at: HealthTime | None = Field(default=None, description="capture time of the latest frame")
    frames_processed_at: HealthTime | None = Field(
        default=None,
        description="when (the box's clock) the worker last recorded frames flowing; it stops advancing "
        "when the stream is down or the worker has stopped",
    )
    worker_started_at: HealthTime | None = Field(
        default=None, description="when (the box's clock) the detection worker's current run began"
    )
    view_moves: Count = Field(default=0, description="times the whole picture shifted in this run")
    view_moved_at: HealthTime | None = Field(default=None, description="capture time of the latest shift")
    clock_offset_s: Annotated[float, Field(ge=-1e10, le=1e10)] | None = Field(
        default=None,
        description="how far the box's clock runs ahead of the API's (negative: behind), seconds, "
        "measured from the Date header of the API's answers (±1 s)",
    )
    clock_held: Count = Field(
        default=0, description="events the box holds because their times lie ahead of the API's clock"
    )
    clock_unset_held: Count = Field(
        default=0, description="events the box holds because they were captured before its clock was set"
    )


class CameraHealthPeriodOut(BaseModel):
    status: str
    first_received_at: datetime
    last_received_at: datetime
    reports: int
    problems: list[str]


class CameraHealthOut(BaseModel):
    """A camera's health: its latest report, the warnings a person should act on, and the periods of
    each status, newest first."""

    camera: CameraOut
    report: dict[str, object] | None = Field(description="the latest report as the edge box sent it")
    periods: list[CameraHealthPeriodOut]


class AuthorisationIn(InputModel):
    kind: AuthorisationKind
    urn: Annotated[str, StringConstraints(min_length=1, max_length=100), SingleLine]
    title: Title
    subjects: LongText = ""
    authorising_officer_name: ShortText = ""
    authorising_officer_grade: ShortText = ""
    grounds: LongText = ""
    offence_min_months: int | None = Field(None, ge=0, le=1200)
    necessity: LongText = ""
    proportionality: LongText = ""
    collateral_intrusion: LongText = ""
    granted_on: Day | None = None
    magistrate_court: ShortText = ""
    magistrate_date: Day | None = None
    magistrate_decision: Literal["pending", "approved", "refused"] = "pending"
    signage_description: LongText = ""
    dpia_reference: ShortText = ""
    review_date: Day | None = None
    camera_keys: list[Key] = Field(default_factory=list, max_length=200)
    site_keys: list[Key] = Field(default_factory=list, max_length=200)


class AuthorisationReviewIn(InputModel):
    notes: LongText = ""
    next_review_date: Day | None = Field(
        default=None, description="when the next review is due: becomes the authorisation's review_date"
    )


class AuthorisationRenewalIn(InputModel):
    magistrate_court: ShortText = ""
    magistrate_date: Day
    notes: LongText = ""


class CancelIn(InputModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=20000), Text]


class AuthorisationOut(BaseModel):
    id: uuid.UUID
    kind: str
    urn: str
    title: str
    subjects: str
    authorising_officer_name: str
    authorising_officer_grade: str
    grounds: str
    offence_min_months: int | None
    necessity: str
    proportionality: str
    collateral_intrusion: str
    granted_on: date | None
    magistrate_court: str
    magistrate_date: date | None
    magistrate_decision: str
    approved_at: datetime | None
    expires_at: datetime | None
    cancelled_at: datetime | None
    cancellation_reason: str
    signage_description: str
    dpia_reference: str
    review_date: date | None
    camera_keys: list[str]
    site_keys: list[str]
    reviews: list[dict[str, str]]
    renewals: list[dict[str, str | None]]
    state: str
    days_to_expiry: int | None


class ReviewAction(StrEnum):
    start = "start"
    confirm = "confirm"
    dismiss = "dismiss"


class ReviewIn(InputModel):
    action: ReviewAction
    reason: LongText = ""


class OverrideIn(InputModel):
    reasons: Annotated[str, StringConstraints(min_length=10, max_length=20000), Text]


def _registration_as_written(value: object) -> object:
    """A registration as it is written on a plate: capitals, single spaces (``ab12  cde`` -> ``AB12 CDE``)."""
    return " ".join(value.upper().split()) if isinstance(value, str) else value


# A vehicle registration mark as seen: letters, digits and spaces (a foreign or trade plate included).
Registration = Annotated[
    str,
    BeforeValidator(_registration_as_written),
    StringConstraints(max_length=12, pattern=r"^[A-Z0-9 ]*$"),
]
# The suspect vehicle's make, model and colour, as the officer describes it.
VehicleDescription = Annotated[str, StringConstraints(max_length=200), SingleLine]
Actions = Annotated[list[EnforcementAction], Field(max_length=len(EnforcementAction))]


class CaseIn(InputModel):
    title: Title
    officer_in_charge: ShortText = ""
    notes: LongText = ""
    suspect_vehicle: VehicleDescription = ""
    suspect_registration: Registration = ""
    size_band: SizeBand | None = None
    waste_type: WasteType | None = None
    land_type: LandType | None = None
    enforcement_actions: Actions = Field(default_factory=list)
    event_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500)


class CaseUpdate(InputModel):
    title: Title | None = None
    officer_in_charge: ShortText | None = None
    notes: LongText | None = None
    suspect_vehicle: VehicleDescription | None = None
    suspect_registration: Registration | None = None
    outcome: Outcome | None = None
    size_band: SizeBand | None = None
    waste_type: WasteType | None = None
    land_type: LandType | None = None
    enforcement_actions: Actions | None = Field(
        default=None, description="every enforcement action taken so far (replaces the list); null: unchanged"
    )
    status: Literal["open", "closed"] | None = None


class CaseEventsIn(InputModel):
    event_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


class CaseOut(BaseModel):
    id: uuid.UUID
    reference: str
    title: str
    status: str
    officer_in_charge: str
    notes: str
    suspect_vehicle: str
    suspect_registration: str
    outcome: str | None
    size_band: str | None
    waste_type: str | None
    land_type: str | None
    enforcement_actions: list[str]
    created_at: datetime
    created_by: str
    closed_at: datetime | None
    event_ids: list[uuid.UUID]


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    head_hash: str | None
    error: str | None
    checkpoint: int | None = Field(
        default=None, description="number of the newest signed checkpoint the log matched; null: none yet"
    )
    result: str = Field(default="", description="what was checked, or what is wrong, in words")


class PurgeOut(BaseModel):
    events_purged: int
    blobs_deleted: int


__all__ = ["ReviewStatus"]


class PublicReportIn(InputModel):
    """A fly-tip reported by a member of the public (the ``/report`` form): where, what, whether they
    saw who left it and would give a statement, and how to reach them (all optional)."""

    location_description: Annotated[str, StringConstraints(max_length=2000), Text] = ""
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    description: Annotated[str, StringConstraints(min_length=1, max_length=5000), Text]
    saw_who: Literal["yes", "no", "unsure"]
    will_give_statement: bool
    contact_name: Annotated[str, StringConstraints(max_length=200), SingleLine] = ""
    contact_email: Annotated[
        str, StringConstraints(max_length=320, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"), SingleLine
    ] = ""
    contact_phone: Annotated[str, StringConstraints(max_length=40, pattern=r"^[0-9 +()-]*$"), SingleLine] = ""

    @model_validator(mode="after")
    def _both_coordinates(self) -> PublicReportIn:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self
