"""In-process bootstrap for the demo and tests: users, a site, a camera and its device token."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_api.models import Camera, LandType, Role, Site, User
from evidence_api.schemas import CameraIn, SiteIn
from evidence_api.services import sites, users

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceCredentials:
    site_key: str
    camera_key: str
    device_name: str
    token: str  # shown once; only its hash is stored


def ensure_user(
    *, session: Session, username: str, password: str, role: Role, actor: str = "system:bootstrap"
) -> User:
    """The user, created if missing (an existing user is returned unchanged)."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is not None:
        return user
    return users.create_user(session=session, username=username, password=password, role=role, actor=actor)


def ensure_staff(*, session: Session, password: str, actor: str = "system:bootstrap") -> dict[str, User]:
    """Users ``admin``, ``officer`` and ``legal`` with the given password and matching roles."""
    return {
        name: ensure_user(session=session, username=name, password=password, role=Role(name), actor=actor)
        for name in ("admin", "officer", "legal")
    }


def ensure_site_camera_device(
    *,
    session: Session,
    site_key: str,
    camera_key: str,
    pepper: str,
    site_name: str | None = None,
    land_type: LandType = LandType.highway,
    covert: bool = False,
    device_name: str | None = None,
    actor: str = "system:bootstrap",
) -> DeviceCredentials:
    """Site + camera (created if missing), a device bound to the camera, and a new device token."""
    site = session.execute(select(Site).where(Site.key == site_key)).scalar_one_or_none()
    if site is None:
        sites.create_site(
            session=session,
            data=SiteIn(key=site_key, name=site_name or site_key, land_type=land_type),
            actor=actor,
        )
    cam = session.execute(select(Camera).where(Camera.key == camera_key)).scalar_one_or_none()
    if cam is None:
        sites.create_camera(
            session=session, data=CameraIn(key=camera_key, site_key=site_key, covert=covert), actor=actor
        )
    name = device_name or f"edge-{site_key}-{camera_key}"
    try:
        device = users.get_device(session=session, name=name)
    except users.NotFound:
        device = users.create_device(session=session, name=name, actor=actor)
    users.bind_camera(session=session, device=device, camera_key=camera_key, actor=actor)
    token, _ = users.issue_device_token(session=session, device=device, pepper=pepper, actor=actor)
    return DeviceCredentials(site_key=site_key, camera_key=camera_key, device_name=name, token=token)
