"""Sites (hotspots) and cameras."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from evidence_api.models import Camera, Site
from evidence_api.schemas import CameraIn, SiteIn
from evidence_api.services import audit
from evidence_api.services.errors import Conflict, NotFound

logger = logging.getLogger(__name__)


def create_site(*, session: Session, data: SiteIn, actor: str) -> Site:
    if session.execute(select(Site.id).where(Site.key == data.key)).first():
        raise Conflict(f"site {data.key!r} already exists")
    site = Site(**data.model_dump(mode="json"))
    session.add(site)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="site.create",
        target_type="site",
        target_id=str(site.id),
        after_hash=audit.hash_state(data.model_dump(mode="json")),
        details={"key": site.key},
    )
    return site


def get_site(*, session: Session, key: str) -> Site:
    site = session.execute(select(Site).where(Site.key == key)).scalar_one_or_none()
    if site is None:
        raise NotFound(f"site {key!r} not found")
    return site


def list_sites(*, session: Session) -> list[Site]:
    return list(session.execute(select(Site).order_by(Site.key)).scalars())


def create_camera(*, session: Session, data: CameraIn, actor: str) -> Camera:
    if session.execute(select(Camera.id).where(Camera.key == data.key)).first():
        raise Conflict(f"camera {data.key!r} already exists")
    site = get_site(session=session, key=data.site_key)
    cam = Camera(
        key=data.key,
        site_id=site.id,
        covert=data.covert,
        device_identity=data.device_identity,
        clock_source=data.clock_source,
    )
    session.add(cam)
    session.flush()
    session.refresh(cam)
    audit.append(
        session,
        actor=actor,
        action="camera.create",
        target_type="camera",
        target_id=str(cam.id),
        after_hash=audit.hash_state(data.model_dump(mode="json")),
        details={"key": cam.key, "site": site.key, "covert": cam.covert},
    )
    return cam


def list_cameras(*, session: Session) -> list[Camera]:
    stmt = select(Camera).options(selectinload(Camera.site), selectinload(Camera.device)).order_by(Camera.key)
    return list(session.execute(stmt).scalars())


def get_camera(*, session: Session, key: str) -> Camera:
    """The camera registered as ``key``; NotFound otherwise."""
    stmt = (
        select(Camera)
        .where(Camera.key == key)
        .options(selectinload(Camera.site), selectinload(Camera.device))
    )
    camera = session.execute(stmt).scalar_one_or_none()
    if camera is None:
        raise NotFound(f"camera {key!r} not found")
    return camera
