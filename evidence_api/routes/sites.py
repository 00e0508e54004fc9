"""Sites (hotspots) and cameras."""

from __future__ import annotations

from fastapi import APIRouter

from evidence_api.deps import AdminUser, SessionDep, Staff
from evidence_api.routes.views import camera_out
from evidence_api.schemas import CameraIn, CameraOut, SiteIn, SiteOut
from evidence_api.services import sites

router = APIRouter(tags=["sites"])


@router.post("/sites", response_model=SiteOut, status_code=201, responses={409: {}})
def create_site(data: SiteIn, principal: AdminUser, session: SessionDep) -> SiteOut:
    """Register a hotspot site."""
    return SiteOut.model_validate(sites.create_site(session=session, data=data, actor=principal.actor))


@router.get("/sites", response_model=list[SiteOut])
def list_sites(principal: Staff, session: SessionDep) -> list[SiteOut]:
    """All sites."""
    return [SiteOut.model_validate(s) for s in sites.list_sites(session=session)]


@router.post("/cameras", response_model=CameraOut, status_code=201, responses={404: {}, 409: {}})
def create_camera(data: CameraIn, principal: AdminUser, session: SessionDep) -> CameraOut:
    """Register a camera at a site (overt or covert)."""
    return camera_out(sites.create_camera(session=session, data=data, actor=principal.actor))


@router.get("/cameras", response_model=list[CameraOut])
def list_cameras(principal: Staff, session: SessionDep) -> list[CameraOut]:
    """All cameras with status and last-seen time."""
    return [camera_out(c) for c in sites.list_cameras(session=session)]
