"""Users, devices and tokens: create, authenticate, issue (shown once, stored hashed), revoke; an admin's
user management (list with the last sign-in, disable/enable, change role, reset to a temporary password)
that never leaves the system without an active admin."""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
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
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,119}")
MAX_FULL_NAME_CHARS = 200
# A temporary password is read out or copied by the admin: no look-alike characters (0/O, 1/l/I).
TEMPORARY_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 - an alphabet, not a secret
TEMPORARY_PASSWORD_GROUPS = 4  # of 4 characters: 16 from 31, about 79 bits


def create_user(
    *, session: Session, username: str, password: str, role: Role, full_name: str = "", actor: str
) -> User:
    if not USERNAME.fullmatch(username):
        raise Invalid(
            "a user name is 1 to 120 letters, digits and . _ @ - (starting with a letter or digit), "
            f"not {username[:40]!r}"
        )
    if len(full_name) > MAX_FULL_NAME_CHARS:
        raise Invalid(f"a full name is at most {MAX_FULL_NAME_CHARS} characters")
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


# -- an admin's user management -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class UserSummary:
    """A user as the users page lists them: the row, and when they last signed in (the newest session
    token issued to them, through the page or the API; ``None`` if never)."""

    user: User
    last_sign_in: datetime | None


def list_users(*, session: Session) -> list[UserSummary]:
    """Every user, by user name, with their last sign-in."""
    last = (
        select(ApiToken.user_id, func.max(ApiToken.created_at).label("at"))
        .where(ApiToken.kind == "session", ApiToken.user_id.is_not(None))
        .group_by(ApiToken.user_id)
        .subquery()
    )
    rows = session.execute(
        select(User, last.c.at).outerjoin(last, last.c.user_id == User.id).order_by(User.username)
    ).all()
    return [UserSummary(user, at) for user, at in rows]


def get_user(*, session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def _keep_an_admin(session: Session, user: User, change: str) -> None:
    """Conflict if ``user`` is the last active admin: ``change`` would leave nobody to manage users.

    Every active admin's row is locked, in one order (PostgreSQL; SQLite has one writer anyway), so two
    admins disabling each other at once are checked one after the other and the second is refused."""
    if Role(user.role) != Role.admin or not user.active:
        return
    admins = session.execute(
        select(User.id)
        .where(User.role == Role.admin.value, User.active.is_(True))
        .order_by(User.id)
        .with_for_update()
    ).scalars()
    if not [a for a in admins if a != user.id]:
        raise Conflict(
            f"{user.username} is the last active admin: {change} would leave nobody able to manage users; "
            "make another user an admin first"
        )


def _revoke_tokens(session: Session, user: User) -> int:
    """End every live token of ``user`` (their sessions on the pages and the API); how many."""
    now = datetime.now(UTC)
    live = session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).scalars()
    count = 0
    for token in live:
        token.revoked_at = now
        count += 1
    return count


def set_active(*, session: Session, user_id: uuid.UUID, active: bool, actor: str) -> User:
    """Enable or disable a user.  Disabling ends their sessions at once (a re-enabled user signs in
    again) and is refused for the last active admin."""
    user = get_user(session=session, user_id=user_id)
    if user.active == active:
        return user
    details: dict[str, object] = {"username": user.username}
    if not active:
        _keep_an_admin(session, user, "disabling them")
        details["tokens_revoked"] = _revoke_tokens(session, user)
    user.active = active
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="user.enable" if active else "user.disable",
        target_type="user",
        target_id=str(user.id),
        details=details,
    )
    return user


def change_role(*, session: Session, user_id: uuid.UUID, role: Role, actor: str) -> User:
    """Give a user another staff role; refused for ``device`` and for demoting the last active admin."""
    if role == Role.device:
        raise Invalid("role 'device' is for devices: choose officer, legal or admin")
    user = get_user(session=session, user_id=user_id)
    before = Role(user.role)
    if before == role:
        return user
    if role != Role.admin:
        _keep_an_admin(session, user, f"making them {role.value}")
    user.role = role.value
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="user.role_change",
        target_type="user",
        target_id=str(user.id),
        details={"username": user.username, "from": before.value, "to": role.value},
    )
    return user


def temporary_password() -> str:
    """A new random password for an admin to hand over, e.g. ``k7dq-m2xv-9hwt-c3pa``."""
    groups = (
        "".join(secrets.choice(TEMPORARY_PASSWORD_ALPHABET) for _ in range(4))
        for _ in range(TEMPORARY_PASSWORD_GROUPS)
    )
    return "-".join(groups)


def reset_password(*, session: Session, user_id: uuid.UUID, actor: str) -> tuple[User, str]:
    """Give a user a new temporary password and end their sessions; the password is returned this once
    for the admin to hand over (only its hash is kept)."""
    user = get_user(session=session, user_id=user_id)
    password = temporary_password()
    user.password_hash = hash_password(password)
    revoked = _revoke_tokens(session, user)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="user.password_reset",
        target_type="user",
        target_id=str(user.id),
        details={"username": user.username, "tokens_revoked": revoked},
    )
    return user, password
