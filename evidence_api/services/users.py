"""Users, devices and tokens: create, authenticate, issue (shown once, stored hashed), revoke."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_api.models import ApiToken, Camera, Device, Role, User
from evidence_api.security import (
    hash_password,
    hash_token,
    needs_rehash,
    new_token,
    scrypt_n,
    verify_password,
)
from evidence_api.services import audit
from evidence_api.services.errors import Conflict, Invalid, NotFound

logger = logging.getLogger(__name__)

# spent on unknown usernames so a login's timing does not reveal whether the user exists
_DUMMY_HASH = hash_password("not-a-real-password-0")


def create_user(
    *, session: Session, username: str, password: str, role: Role, full_name: str = "", actor: str
) -> User:
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists")
    if role == Role.device:
        raise Invalid("role 'device' is for devices: create a device instead")
    try:
        pw = hash_password(password)
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    user = User(username=username, role=role.value, full_name=full_name, password_hash=pw)
    session.add(user)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=str(user.id),
        details={"username": username, "role": role.value},
    )
    return user


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        verify_password(password, _DUMMY_HASH)
        return None
    if not user.active or not verify_password(password, user.password_hash):
        return None
    if needs_rehash(user.password_hash):
        # Made at an older, lower cost: the plaintext is at hand only now, so upgrade it now.
        user.password_hash = hash_password(password)
        session.flush()
        audit.append(
            session,
            actor=f"user:{user.username}",
            action="user.password_rehash",
            target_type="user",
            target_id=str(user.id),
            details={"scrypt_n": scrypt_n()},
        )
    return user


def issue_user_token(
    *, session: Session, user: User, pepper: str, hours: int, kind: str = "session", actor: str | None = None
) -> tuple[str, ApiToken]:
    token = new_token()
    row = ApiToken(
        token_hash=hash_token(token, pepper=pepper),
        kind=kind,
        user_id=user.id,
        expires_at=datetime.now(UTC) + timedelta(hours=hours),
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor=actor or f"user:{user.username}",
        action=f"token.issue.{kind}",
        target_type="user",
        target_id=str(user.id),
        details={"token_id": str(row.id)},
    )
    return token, row


def create_device(*, session: Session, name: str, actor: str) -> Device:
    if session.execute(select(Device.id).where(Device.name == name)).first():
        raise Conflict(f"device {name!r} already exists")
    device = Device(name=name)
    session.add(device)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="device.create",
        target_type="device",
        target_id=str(device.id),
        details={"name": name},
    )
    return device


def get_device(*, session: Session, name: str) -> Device:
    device = session.execute(select(Device).where(Device.name == name)).scalar_one_or_none()
    if device is None:
        raise NotFound(f"device {name!r} not found")
    return device


def bind_camera(*, session: Session, device: Device, camera_key: str, actor: str) -> Camera:
    cam = session.execute(select(Camera).where(Camera.key == camera_key)).scalar_one_or_none()
    if cam is None:
        raise NotFound(f"camera {camera_key!r} not found")
    cam.device_id = device.id
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="camera.bind_device",
        target_type="camera",
        target_id=str(cam.id),
        details={"camera": camera_key, "device": device.name},
    )
    return cam


def issue_device_token(
    *, session: Session, device: Device, pepper: str, actor: str, label: str = ""
) -> tuple[str, ApiToken]:
    """A long-lived device token (no expiry; revoke it to stop the device)."""
    token = new_token()
    row = ApiToken(
        token_hash=hash_token(token, pepper=pepper), kind="device", device_id=device.id, label=label
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="token.issue.device",
        target_type="device",
        target_id=str(device.id),
        details={"token_id": str(row.id)},
    )
    return token, row


def revoke_token(*, session: Session, token_id: uuid.UUID, actor: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"token {token_id} not found")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.flush()
        audit.append(session, actor=actor, action="token.revoke", target_type="token", target_id=str(row.id))
    return row


def list_tokens(*, session: Session) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).order_by(ApiToken.created_at)).scalars())
