"""Sites (hotspots), cameras, and the health each camera's edge box reports."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from evidence_api.deps import AdminUser, DeviceOnly, EventFeedDep, HealthWatchDep, SessionDep, Staff
from evidence_api.routes.views import camera_out
from evidence_api.schemas import (
    CameraHealthIn,
    CameraHealthOut,
    CameraHealthPeriodOut,
    CameraIn,
    CameraOut,
    Key,
    SiteIn,
    SiteOut,
)
from evidence_api.services import camera_health, sites

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
def create_camera(
    data: CameraIn, principal: AdminUser, session: SessionDep, watch: HealthWatchDep
) -> CameraOut:
    """Register a camera at a site (overt or covert)."""
    return camera_out(sites.create_camera(session=session, data=data, actor=principal.actor), watch)


@router.get("/cameras", response_model=list[CameraOut])
def list_cameras(principal: Staff, session: SessionDep, watch: HealthWatchDep) -> list[CameraOut]:
    """All cameras with status, last-seen time, latest reported health and warnings (silent, a shifted
    view, a full disk on the edge box, a wrong clock)."""
    now = datetime.now(UTC)
    return [camera_out(c, watch, now) for c in sites.list_cameras(session=session)]


@router.post("/cameras/{key}/health", response_model=CameraHealthOut, responses={403: {}, 422: {}})
def report_camera_health(
    key: Key,
    data: CameraHealthIn,
    principal: DeviceOnly,
    session: SessionDep,
    watch: HealthWatchDep,
    feed: EventFeedDep,
) -> CameraHealthOut:
    """An edge box reports one camera's health (its spool's ``health.json`` and its clock offset); sent
    when it changes and every minute.  A device may report only for cameras registered to it."""
    camera_health.record_health(
        session=session,
        camera_key=key,
        data=data,
        device=principal.device,
        actor=principal.actor,
        feed=feed,
    )
    return _health_out(session, key, watch)


@router.get("/cameras/{key}/health", response_model=CameraHealthOut, responses={404: {}})
def get_camera_health(
    key: Key, principal: Staff, session: SessionDep, watch: HealthWatchDep
) -> CameraHealthOut:
    """A camera's latest health report, its warnings, and its periods of each status, newest first."""
    return _health_out(session, key, watch)


def _health_out(session: SessionDep, key: str, watch: HealthWatchDep) -> CameraHealthOut:
    camera = sites.get_camera(session=session, key=key)
    periods = camera_health.health_periods(session=session, camera=camera)
    return CameraHealthOut(
        camera=camera_out(camera, watch),
        report=camera.health_report,
        periods=[
            CameraHealthPeriodOut(
                status=p.status,
                first_received_at=p.first_received_at,
                last_received_at=p.last_received_at,
                reports=p.reports,
                problems=list(p.problems),
            )
            for p in periods
        ],
    )
