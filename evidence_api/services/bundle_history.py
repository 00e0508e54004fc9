"""A case's exports as the audit log records them, where their files are kept, and their downloads.

Every export writes ``bundle.export_started``, then ``bundle.exported`` or ``bundle.export_failed``
(see :mod:`evidence_api.services.bundle_export`); an export's latest entry says where it stands.  The
list survives the files: a bundle removed from the server is still listed, no longer downloadable.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_api import models
from evidence_api.services import audit
from evidence_api.services.errors import NotFound

logger = logging.getLogger(__name__)

EXPORT_STARTED = "bundle.export_started"
EXPORTED = "bundle.exported"
EXPORT_FAILED = "bundle.export_failed"
EXPORT_ACTIONS = (EXPORT_STARTED, EXPORTED, EXPORT_FAILED)


def bundle_path(data_dir: Path, case_id: uuid.UUID, bundle_id: uuid.UUID) -> Path:
    """Where the API keeps an exported bundle: ``<data dir>/bundles/<case id>/<bundle id>.zip``."""
    return Path(data_dir) / "bundles" / str(case_id) / f"{bundle_id}.zip"


def latest_export_entries(*, session: Session, case_id: uuid.UUID | None = None) -> list[models.AuditEntry]:
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


def list_exports(*, session: Session, case: models.Case, data_dir: Path) -> list[BundleRecord]:
    """Every export of ``case`` (running, finished or failed), newest first, read from the audit log."""
    records = []
    for row in latest_export_entries(session=session, case_id=case.id):
        details = json.loads(row.details)
        bundle_id = str(details["bundle_id"])
        status = {EXPORT_STARTED: "running", EXPORTED: "exported"}.get(row.action, "failed")
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


def open_download(
    *, session: Session, case_id: uuid.UUID, bundle_id: uuid.UUID, data_dir: Path, actor: str
) -> Path:
    """The path of an exported bundle, its download recorded in the audit log (``bundle.downloaded``,
    in the caller's transaction); NotFound when this server does not have it."""
    path = bundle_path(data_dir, case_id, bundle_id)
    if not path.is_file():
        raise NotFound(f"no bundle {bundle_id} for case {case_id}")
    audit.append(
        session,
        actor=actor,
        action="bundle.downloaded",
        target_type="case",
        target_id=str(case_id),
        details={"bundle_id": str(bundle_id)},
    )
    return path
