"""Settings from the environment (``TIPWATCH_*``), refusing development secrets in production."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)

DEVELOPMENT_SECRET = "tipwatch-development-secret-change-me"  # noqa: S105 - refused outside development
DEFAULT_DISPLAY_TIMEZONE = "Europe/London"  # GMT/BST: the time zone people read, unless set otherwise
AUDIT_CHECKPOINT_LOG = Path("audit", "checkpoints.jsonl")  # under the data directory, unless set otherwise


class Settings(BaseSettings):
    """Evidence API configuration; every field can be set as ``TIPWATCH_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TIPWATCH_", extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        default="development", description="deployment kind; a default secret is refused outside development"
    )
    data_dir: Path = Field(
        default=Path("var/tipwatch"), description="directory for the SQLite file and blobs"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite file in data_dir"
    )
    blob_store: Literal["filesystem", "s3"] = Field(
        default="filesystem",
        title="Blob store",
        description="where stills and clips are kept: 'filesystem' (blob_dir, the embedded default) or "
        "'s3', an S3-compatible object store (AWS S3, MinIO, Garage; set s3_bucket, and s3_endpoint_url "
        "for anything but AWS; credentials from the standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
        "variables, an AWS profile or an instance role). See docs/object-storage.md",
    )
    blob_dir: Path | None = Field(
        default=None, description="blob store directory (blob_store 'filesystem'); default data_dir/blobs"
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        title="S3 endpoint",
        description="the object store's URL, e.g. http://127.0.0.1:9000 for MinIO or http://127.0.0.1:3900 "
        "for Garage; unset for AWS S3 (its regional endpoint)",
    )
    s3_bucket: str | None = Field(
        default=None,
        title="S3 bucket",
        description="the bucket that holds the blobs (it must exist; required when blob_store is 's3')",
    )
    s3_region: str | None = Field(
        default=None,
        title="S3 region",
        description="the bucket's region (AWS: e.g. eu-west-2; Garage: its s3_region, default 'garage'; "
        "MinIO: any, e.g. us-east-1); unset: AWS_DEFAULT_REGION or the AWS profile's",
    )
    s3_key_prefix: str = Field(
        default="",
        title="S3 key prefix",
        description="put before every object's key (e.g. 'tipwatch/'), so the bucket can hold other things; "
        "a blob's key is then <prefix>ab/cd/<sha256>",
    )
    s3_addressing_style: Literal["path", "virtual", "auto"] = Field(
        default="path",
        title="S3 addressing style",
        description="'path' (https://host/bucket/key: what MinIO and Garage answer by default, and AWS "
        "still does) or 'virtual' (https://bucket.host/key); 'auto' lets boto3 choose",
    )
    s3_part_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=5 * 1024 * 1024,
        le=5 * 1024 * 1024 * 1024,
        title="S3 part size",
        description="bytes per part of a multipart upload (S3 allows 5 MiB to 5 GiB): a file larger than "
        "this is sent in parts, and this is the most one upload holds in memory",
    )
    s3_connect_timeout_s: float = Field(
        default=5.0,
        gt=0,
        title="S3 connect timeout",
        description="seconds to wait for a connection to the object store before trying again (then 503)",
    )
    s3_read_timeout_s: float = Field(
        default=30.0,
        gt=0,
        title="S3 read timeout",
        description="seconds the object store may go silent during a request before it is tried again",
    )
    s3_max_attempts: int = Field(
        default=3,
        ge=1,
        title="S3 attempts",
        description="attempts of one request (botocore's 'standard' retries, with backoff) before the "
        "object store is taken as unavailable and the API answers 503 with Retry-After",
    )
    secret_key: str = Field(default=DEVELOPMENT_SECRET, description="pepper for token hashes and CSRF")
    max_image_bytes: int = Field(default=20 * 1024 * 1024, gt=0, description="largest still accepted")
    max_clip_bytes: int = Field(default=200 * 1024 * 1024, gt=0, description="largest clip accepted")
    max_still_pixels: int = Field(
        default=40_000_000,
        gt=0,
        description="largest still accepted, in pixels (width × height, read from the JPEG's frame header "
        "before anything is decoded); 40 MP is above any CCTV camera's frame, and decoding a progressive "
        "JPEG holds about 6 bytes a pixel",
    )
    max_request_body_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="largest JSON or form body of a request that needs a sign-in (event metadata, cases, "
        "authorisations, page forms); files have their own limits",
    )
    max_login_body_bytes: int = Field(
        default=16 * 1024,
        gt=0,
        description="largest body of a request that needs no sign-in (the sign-in forms): anyone can send "
        "one, so it is read only this far",
    )
    max_public_report_bytes: int = Field(
        default=32 * 1024 * 1024,
        gt=0,
        description="largest body of a public report (the /report form with its photos, no sign-in): "
        "refused (413) before more than this is read; each photo is also held to max_image_bytes",
    )
    public_report_limit: int = Field(
        default=5,
        gt=0,
        description="most public reports one client address may send within public_report_window_s; "
        "the next is answered 429 with Retry-After (counted in the database, so it holds across replicas)",
    )
    public_report_window_s: int = Field(
        default=3600, gt=0, description="the period, in seconds, over which public_report_limit counts"
    )
    earliest_capture_time: AwareDatetime = Field(
        default=datetime(2000, 1, 1, tzinfo=UTC),
        description="an event or file time before this is refused (422): a camera or edge box clock that "
        "was never set",
    )
    max_clock_ahead_s: float = Field(
        default=300.0,
        ge=0,
        description="how far (seconds) an event or file time may be ahead of this server's clock when it "
        "arrives; later is refused (422): an edge box clock running fast",
    )
    camera_silent_after_s: float = Field(
        default=600.0,
        gt=0,
        description="a camera not heard from (no event, no health report) for longer than this is shown "
        "as silent; an edge box reports its health every minute",
    )
    camera_clock_tolerance_s: float = Field(
        default=10.0,
        gt=0,
        description="an edge box whose clock differs from this server's by more than this (measured by the "
        "box from each answer's Date header) is warned about: event times come from that clock",
    )
    max_files_per_event: int = Field(default=64, gt=0, description="most files one event may declare")
    retention_days: int = Field(default=31, gt=0, description="days before unconfirmed events are purged")
    session_hours: int = Field(default=12, gt=0, description="lifetime of a login session token")
    expiry_warning_days: int = Field(
        default=14, ge=0, description="warn this many days before an authorisation expires"
    )
    display_timezone: str = Field(
        default=DEFAULT_DISPLAY_TIMEZONE,
        description="time zone shown to people (pages, bundle documents); a legal day ends at its midnight",
    )
    audit_checkpoint_path: Path | None = Field(
        default=None,
        title="Audit checkpoint log",
        description="append-only file of signed audit checkpoints, kept outside the database; default "
        "data_dir/audit/checkpoints.jsonl (put it on append-only or write-once storage if you can)",
    )
    audit_checkpoint_interval_s: float = Field(
        default=300.0,
        ge=0,
        title="Audit checkpoint interval",
        description="seconds between the API's signed checkpoints of the audit log (written only when the "
        "log grew); entries newer than the last checkpoint could be cut unnoticed. 0: the API writes none "
        "(run `tipwatch admin audit checkpoint` from cron instead)",
    )
    # -- the event feed (docs/event-feed.md) -------------------------------------------------------
    mqtt_url: SecretStr | None = Field(
        default=None,
        title="MQTT broker",
        description="the broker the event feed publishes to: mqtt://host:1883, or mqtts://host:8883 for "
        "TLS; credentials as mqtt://user:password@host (percent-encoded). Unset: no feed, and nothing is "
        "written to the outbox",
    )
    mqtt_topic_prefix: str = Field(
        default="tipwatch",
        title="MQTT topic prefix",
        description="the first topic levels: events go to <prefix>/<site>/<camera>/events and each camera's "
        "retained health to <prefix>/<site>/<camera>/status",
    )
    mqtt_include_plates: bool = Field(
        default=False,
        title="MQTT: include plates",
        description="put the plate read (text, confidence, UK format) in event messages. A registration "
        "mark is personal data: turn this on only if everyone who can subscribe may see it",
    )
    mqtt_ca_file: Path | None = Field(
        default=None,
        title="MQTT CA file",
        description="PEM file of the certificate authorities an mqtts:// broker's certificate is checked "
        "against; unset: the system's trust store",
    )
    event_feed_retention_hours: float = Field(
        default=24.0,
        gt=0,
        title="Event feed: keep published messages",
        description="hours a published message stays in the outbox table (to see what was sent) before it "
        "is deleted",
    )
    event_feed_backlog_days: float = Field(
        default=7.0,
        gt=0,
        title="Event feed: longest backlog",
        description="days an unpublished message waits for the broker; older ones are deleted (a warning "
        "says how many), so a broker gone for good cannot grow the outbox without end",
    )
    run_migrations: bool = Field(default=True, description="run Alembic migrations when the app starts")

    @field_validator("display_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        """An unknown zone would fail on every page that shows a time: refuse it at start-up."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"display_timezone {value!r} is not an IANA time zone (e.g. Europe/London)"
            ) from exc
        return value

    # -- the council's particulars, as its evidence bundles state them ------------------------------
    council_name: str = Field(
        default="the Council",
        title="Council name",
        description="the organisation producing the exhibits, as the s.9 statement names it "
        "(e.g. 'Anytown District Council')",
    )
    council_address: str = Field(
        default="",
        title="Council address",
        description="the producing organisation's postal address, recorded in each bundle's manifest",
    )
    producer_role: str = Field(
        default="Enforcement Officer",
        title="Producing officer's role",
        description="the job title the s.9 statement gives the officer who produces the exhibits",
    )
    offence_wording: str = Field(
        default="s.33 Environmental Protection Act 1990 (unauthorised deposit of waste)",
        title="Offence",
        description="the offence a case is exported for, as the exhibit list and the manifest state it",
    )
    statement_system: str = Field(
        default=(
            "Tipwatch cameras at fly-tipping hotspots run a detector on an edge box beside the camera; it "
            "flags vehicle visits and deposits, keeps the frames and clip as captured, hashes them and "
            "uploads them to the council's evidence system, where an officer reviews each event."
        ),
        title="Statement: the system",
        description="the s.9 statement's description of how the cameras and the evidence system work",
    )
    statement_clock: str = Field(
        default=(
            "Each edge box keeps its clock with NTP; each event records whether its times come from the "
            "camera's stream clock or the box's own clock when the frame arrived."
        ),
        title="Statement: clocks",
        description="the s.9 statement's account of how the edge boxes keep time",
    )
    statement_storage: str = Field(
        default=(
            "Originals are stored write-once in a content-addressed store, under their SHA-256, read-only; "
            "every access and change is recorded in a hash-chained audit log."
        ),
        title="Statement: storage",
        description="the s.9 statement's account of how the masters are stored and their handling recorded",
    )

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        # The development secret is published in this repository: anyone could forge tokens and CSRF
        # values with it.  It is allowed only for a local development deployment (SQLite); a
        # non-loopback listener is refused by ``tipwatch serve`` itself (see is_local_only).
        if self.uses_development_secret:
            if self.env != "development":
                raise ValueError(
                    f"TIPWATCH_SECRET_KEY must be set to a private random value when TIPWATCH_ENV={self.env}"
                )
            if not self.resolved_database_url.startswith("sqlite"):
                raise ValueError(
                    "TIPWATCH_SECRET_KEY must be set to a private random value: the development secret "
                    "is only for a local SQLite deployment, and this one uses "
                    f"{self.resolved_database_url.split(':', 1)[0]}"
                )
        if len(self.secret_key) < 16:
            raise ValueError("TIPWATCH_SECRET_KEY must be at least 16 characters")
        return self

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        if self.blob_store == "s3" and not self.s3_bucket:
            raise ValueError("TIPWATCH_S3_BUCKET must name the bucket when TIPWATCH_BLOB_STORE=s3")
        return self

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url_parses(cls, value: SecretStr | None) -> SecretStr | None:
        """A broker address that cannot work is refused at start-up, not at the first event."""
        if value is not None and value.get_secret_value().strip():
            from evidence_api.mqtt import BrokerAddress

            BrokerAddress.parse(value.get_secret_value())
            return value
        return None

    @field_validator("mqtt_topic_prefix")
    @classmethod
    def _mqtt_prefix(cls, value: str) -> str:
        if not value or value.startswith("/") or value.endswith("/") or any(c in value for c in "+#\0"):
            raise ValueError(
                f"mqtt_topic_prefix {value!r} must be topic levels without wildcards (+, #) or a leading or "
                "trailing slash, e.g. 'tipwatch' or 'council/tipwatch'"
            )
        return value

    @property
    def uses_development_secret(self) -> bool:
        """The published development secret, however it is padded."""
        return self.secret_key.strip() == DEVELOPMENT_SECRET

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+pysqlite:///{(self.data_dir / 'tipwatch.db').resolve()}"

    @property
    def resolved_audit_checkpoint_path(self) -> Path:
        if self.audit_checkpoint_path is not None:
            return self.audit_checkpoint_path
        return self.data_dir / AUDIT_CHECKPOINT_LOG

    @property
    def resolved_upload_dir(self) -> Path:
        """Where a clip being received is spooled (unnamed files, gone once stored or refused)."""
        return self.data_dir / "uploads"

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir if self.blob_dir is not None else self.data_dir / "blobs"
