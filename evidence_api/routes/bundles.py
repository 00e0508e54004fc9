"""Evidence bundles for the legal team: export a case to a signed zip, then download it."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from evidence_api.bundle.signing import KeyStore
from evidence_api.bundle.verify import format_fingerprint
from evidence_api.deps import LegalUser, SessionDep, SettingsDep, StoreDep
from evidence_api.services import audit, bundles

logger = logging.getLogger(__name__)
router = APIRouter(tags=["bundles"])


class ExcludedExhibit(BaseModel):
    event_id: str
    role: str
    sha256: str
    reason: str


class BundleOut(BaseModel):
    bundle_id: str
    case_id: str
    case_reference: str
    sha256: str = Field(description="SHA-256 of the whole zip, as recorded in the audit log")
    size: int
    exhibits: list[str] = Field(description="exhibit references, e.g. SG/1")
    excluded: list[ExcludedExhibit] = Field(description="left out: not authorised at capture, no override")
    signing_key: str
    fingerprint: str
    download_url: str


@router.post("/cases/{case_id}/bundles", response_model=BundleOut, status_code=status.HTTP_201_CREATED)
def export_bundle(
    case_id: str,
    principal: LegalUser,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    blur_people: Annotated[bool, Query(description="add working copies with people blurred")] = False,
    crop_vehicle: Annotated[bool, Query(description="add working copies cropped to the vehicle")] = True,
    print_stills: Annotated[bool, Query(description="embed the stills in the PDF exhibit list")] = True,
) -> BundleOut:
    """Export a case's confirmed events to a signed evidence bundle (legal or admin)."""
    try:
        case = bundles.find_case(session, case_id)
        bundle_id = uuid.uuid4()
        result = bundles.export_case(
            session,
            str(case.id),
            store=store,
            keys=KeyStore(settings.data_dir),
            out_path=bundles.bundle_path(settings.data_dir, case.id, bundle_id),
            exported_by=principal.actor,
            options=bundles.ExportOptions(
                crop_vehicle=crop_vehicle, blur_people=blur_people, print_stills=print_stills
            ),
            bundle_id=str(bundle_id),
        )
    except bundles.CaseNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except bundles.BundleExportError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    assert result.sha256 is not None
    return BundleOut(
        bundle_id=result.bundle_id,
        case_id=str(case.id),
        case_reference=case.reference,
        sha256=result.sha256,
        size=result.size,
        exhibits=result.exhibit_references,
        excluded=[
            ExcludedExhibit(**{k: x[k] for k in ("event_id", "role", "sha256", "reason")})
            for x in result.excluded
        ],
        signing_key=result.key_id,
        fingerprint=format_fingerprint(result.fingerprint),
        download_url=f"/api/v1/cases/{case.id}/bundles/{result.bundle_id}",
    )


class BundleListed(BaseModel):
    bundle_id: str
    status: Literal["exported", "failed"]
    at: datetime = Field(description="when the export finished (or failed), UTC")
    by: str = Field(description="who exported it")
    sha256: str | None = Field(description="SHA-256 of the whole zip, as recorded in the audit log")
    exhibits: list[str]
    signing_key: str | None
    error: str | None = Field(description="why a failed export failed")
    download_url: str | None = Field(description="absent when the export failed or its file is gone")


@router.get("/cases/{case_id}/bundles", response_model=list[BundleListed])
def list_bundles(
    case_id: str, principal: LegalUser, session: SessionDep, settings: SettingsDep
) -> list[BundleListed]:
    """A case's exports, newest first, from the audit log (legal or admin)."""
    try:
        case = bundles.find_case(session, case_id)
    except bundles.CaseNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return [
        BundleListed(
            bundle_id=r.bundle_id,
            status="exported" if r.status == "exported" else "failed",
            at=r.at,
            by=r.by,
            sha256=r.sha256,
            exhibits=r.exhibits,
            signing_key=r.signing_key,
            error=r.error,
            download_url=f"/api/v1/cases/{case.id}/bundles/{r.bundle_id}" if r.available else None,
        )
        for r in bundles.list_exports(session, case, data_dir=settings.data_dir)
    ]


@router.get("/cases/{case_id}/bundles/{bundle_id}", response_class=FileResponse)
def download_bundle(
    case_id: uuid.UUID, bundle_id: uuid.UUID, principal: LegalUser, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """Download an exported bundle (legal or admin); each download is recorded in the audit log."""
    path = bundles.bundle_path(settings.data_dir, case_id, bundle_id)
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no bundle {bundle_id} for case {case_id}")
    audit.append(
        session,
        actor=principal.actor,
        action="bundle.downloaded",
        target_type="case",
        target_id=str(case_id),
        details={"bundle_id": str(bundle_id)},
    )
    return FileResponse(path, media_type="application/zip", filename=f"bundle-{bundle_id}.zip")
