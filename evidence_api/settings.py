"""Settings from the environment (``TIPWATCH_*``), refusing development secrets in production."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)

DEVELOPMENT_SECRET = "tipwatch-development-secret-change-me"  # noqa: S105 - refused outside development


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
    blob_dir: Path | None = Field(default=None, description="blob store directory; default data_dir/blobs")
    secret_key: str = Field(default=DEVELOPMENT_SECRET, description="pepper for token hashes and CSRF")
    max_image_bytes: int = Field(default=20 * 1024 * 1024, gt=0, description="largest still accepted")
    max_clip_bytes: int = Field(default=200 * 1024 * 1024, gt=0, description="largest clip accepted")
    max_files_per_event: int = Field(default=64, gt=0, description="most files one event may declare")
    retention_days: int = Field(default=31, gt=0, description="days before unconfirmed events are purged")
    session_hours: int = Field(default=12, gt=0, description="lifetime of a login session token")
    expiry_warning_days: int = Field(
        default=14, ge=0, description="warn this many days before an authorisation expires"
    )
    display_timezone: str = Field(default="Europe/London", description="time zone shown to people")
    run_migrations: bool = Field(default=True, description="run Alembic migrations when the app starts")

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env != "development" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError(
                f"TIPWATCH_SECRET_KEY must be set to a private random value when TIPWATCH_ENV={self.env}"
            )
        if len(self.secret_key) < 16:
            raise ValueError("TIPWATCH_SECRET_KEY must be at least 16 characters")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+pysqlite:///{(self.data_dir / 'tipwatch.db').resolve()}"

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir if self.blob_dir is not None else self.data_dir / "blobs"
