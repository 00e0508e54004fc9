"""Evidence bundles for the legal team: export a case to a signed zip, then download it.

Thin: the services decide (:mod:`evidence_api.services.bundle_export`, ``bundle_history``); their
DomainErrors become 404 (no such case or bundle) and 409 (cannot be exported) in the app's handler.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Query, status
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from evidence_api.bundle.verify import format_fingerprint
from evidence_api.deps import BackgroundExportsDep, ExportSetupDep, LegalUser, SessionDep, SettingsDep
from evidence_api.services import bundle_export, bundle_history, bundle_spec
from evidence_api.services.bundle_spec import ExportOptions

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


class BundleAccepted(BaseModel):
    bundle_id: str
    case_id: str
    status: Literal["running"]
    status_url: str = Field(description="the case's exports: this one shows as exported or failed when done")


@router.post(
    "/cases/{case_id}/bundles",
    response_model=BundleOut,
    status_code=status.HTTP_201_CREATED,
    responses={202: {"model": BundleAccepted, "description": "begun in the background (?background=true)"}},
)
def export_bundle(
    case_id: str,
    principal: LegalUser,
    session: SessionDep,
    setup: ExportSetupDep,
    exports: BackgroundExportsDep,
    blur_people: Annotated[bool, Query(description="add working copies with people blurred")] = False,
    crop_vehicle: Annotated[bool, Query(description="add working copies cropped to the vehicle")] = True,
    print_stills: Annotated[bool, Query(description="embed the stills in the PDF exhibit list")] = True,
    background: Annotated[
        bool, Query(description="answer 202 at once and export in the background (slow exports: blurring)")
    ] = False,
) -> BundleOut | JSONResponse:
    """Export a case's confirmed events to a signed evidence bundle (legal or admin)."""
    started = bundle_export.start_export(
        session=session,
        case=case_id,
        setup=setup,
        exported_by=principal.actor,
        options=ExportOptions(crop_vehicle=crop_vehicle, blur_people=blur_people, print_stills=print_stills),
        background=exports if background else None,
    )
    ticket, result = started.ticket, started.result
    if result is None:
        accepted = BundleAccepted(
            bundle_id=ticket.bundle_id,
            case_id=str(ticket.case_id),
            status="running",
            status_url=f"/api/v1/cases/{ticket.case_id}/bundles",
        )
        return JSONResponse(accepted.model_dump(), status_code=status.HTTP_202_ACCEPTED)
    assert result.sha256 is not None
    return BundleOut(
        bundle_id=result.bundle_id,
        case_id=str(ticket.case_id),
        case_reference=ticket.case_reference,
        sha256=result.sha256,
        size=result.size,
        exhibits=result.exhibit_references,
        excluded=[
            ExcludedExhibit(event_id=x["event_id"], role=x["role"], sha256=x["sha256"], reason=x["reason"])
            for x in result.excluded
        ],
        signing_key=result.key_id,
        fingerprint=format_fingerprint(result.fingerprint),
        download_url=f"/api/v1/cases/{ticket.case_id}/bundles/{result.bundle_id}",
    )


class BundleListed(BaseModel):
    bundle_id: str
    status: Literal["running", "exported", "failed"]
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
    """A case's exports (running, exported or failed), newest first, from the audit log (legal or admin)."""
    case = bundle_spec.find_case(session=session, case=case_id)
    return [
        BundleListed(
            bundle_id=r.bundle_id,
            status=cast(Literal["running", "exported", "failed"], r.status),
            at=r.at,
            by=r.by,
            sha256=r.sha256,
            exhibits=r.exhibits,
            signing_key=r.signing_key,
            error=r.error,
            download_url=f"/api/v1/cases/{case.id}/bundles/{r.bundle_id}" if r.available else None,
        )
        for r in bundle_history.list_exports(session=session, case=case, data_dir=settings.data_dir)
    ]


@router.get("/cases/{case_id}/bundles/{bundle_id}", response_class=FileResponse)
def download_bundle(
    case_id: uuid.UUID, bundle_id: uuid.UUID, principal: LegalUser, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """Download an exported bundle (legal or admin); each download is recorded in the audit log."""
    path = bundle_history.open_download(
        session=session,
        case_id=case_id,
        bundle_id=bundle_id,
        data_dir=settings.data_dir,
        actor=principal.actor,
    )
    return FileResponse(path, media_type="application/zip", filename=f"bundle-{bundle_id}.zip")
