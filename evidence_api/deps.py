"""FastAPI dependencies: settings, session (commit on success), blob store, bundle exports, the current
principal and roles, for the JSON routes (bearer token) and the review pages (``PageUser``, cookie) alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from evidence_api.models import ApiToken, Device, Role, User
from evidence_api.security import hash_token
from evidence_api.services.bundle_export import BackgroundExports, ExportSetup
from evidence_api.services.camera_health import HealthWatch
from evidence_api.services.errors import Forbidden
from evidence_api.services.event_feed import EventFeed
from evidence_api.settings import Settings
from evidence_api.storage import BlobStore

logger = logging.getLogger(__name__)

SESSION_COOKIE = "tipwatch_session"
STAFF_ROLES = frozenset({Role.officer, Role.legal, Role.admin})
NOT_SIGNED_IN = "not signed in: send Authorization: Bearer <token>"
TOKEN_REFUSED = "token unknown, expired or revoked"  # noqa: S105 - a message, not a secret


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed if the route returns, rolled back if it raises."""
    with request.app.state.sessionmaker() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def get_store(request: Request) -> BlobStore:
    store: BlobStore = request.app.state.store
    return store


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]  # commit before the answer is sent
StoreDep = Annotated[BlobStore, Depends(get_store)]


def get_export_setup(request: Request, settings: SettingsDep, store: StoreDep) -> ExportSetup:
    """What a bundle export needs: the store, keys and council particulars, and the person finder the
    app was given (``create_app(person_finder_factory=...)``)."""
    return ExportSetup.from_settings(
        settings, store=store, person_finder_factory=request.app.state.person_finder_factory
    )


def get_health_watch(settings: SettingsDep) -> HealthWatch:
    """When a camera needs a person, from the settings."""
    return HealthWatch(
        silent_after=timedelta(seconds=settings.camera_silent_after_s),
        clock_tolerance_s=settings.camera_clock_tolerance_s,
        display_timezone=settings.display_timezone,
    )


HealthWatchDep = Annotated[HealthWatch, Depends(get_health_watch)]


def get_event_feed(request: Request) -> EventFeed | None:
    """The event feed the app was configured with (``TIPWATCH_MQTT_URL``), or None: nothing to tell."""
    feed: EventFeed | None = request.app.state.event_feed
    return feed


EventFeedDep = Annotated[EventFeed | None, Depends(get_event_feed)]


def get_background_exports(request: Request) -> BackgroundExports:
    exports: BackgroundExports = request.app.state.bundle_exports
    return exports


ExportSetupDep = Annotated[ExportSetup, Depends(get_export_setup)]
BackgroundExportsDep = Annotated[BackgroundExports, Depends(get_background_exports)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (with a role) or a device (role ``device``)."""

    role: Role
    user: User | None
    device: Device | None
    token_id: object

    @property
    def actor(self) -> str:
        if self.user is not None:
            return f"user:{self.user.username}"
        assert self.device is not None
        return f"device:{self.device.name}"

    @property
    def name(self) -> str:
        return self.user.username if self.user else self.device.name if self.device else ""

    @property
    def display_name(self) -> str:
        """The person's name as it goes on paper (full name, else user name)."""
        return (self.user.full_name or self.user.username) if self.user else self.name


def principal_from_token(session: Session, token: str, *, pepper: str) -> Principal | None:
    row = session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token, pepper=pepper))
    ).scalar_one_or_none()
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.user_id is not None:
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        return Principal(Role(user.role), user, None, row.id)
    if row.device_id is not None:
        device = session.get(Device, row.device_id)
        if device is None:
            return None
        return Principal(Role.device, None, device, row.id)
    return None


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def get_principal(request: Request, session: SessionDep, settings: SettingsDep) -> Principal:
    token = bearer_token(request) or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            NOT_SIGNED_IN,
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = principal_from_token(session, token, pepper=settings.secret_key)
    # end the read transaction: on SQLite it holds the write lock while the request body streams in
    session.commit()
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            TOKEN_REFUSED,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets only the given roles through (403 otherwise)."""
    allowed = set(roles)

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs one of the roles: {names}")
        return principal

    return check


DeviceOnly = Annotated[Principal, Depends(require_roles(Role.device))]
Staff = Annotated[Principal, Depends(require_roles(Role.officer, Role.legal, Role.admin))]
OfficerUser = Annotated[Principal, Depends(require_roles(Role.officer, Role.admin))]
LegalUser = Annotated[Principal, Depends(require_roles(Role.legal, Role.admin))]
AdminUser = Annotated[Principal, Depends(require_roles(Role.admin))]
AuditReader = Annotated[Principal, Depends(require_roles(Role.legal, Role.admin))]


# -- the review pages: a cookie session, and a browser sent to sign in instead of a 401 ---------------
class LoginRequired(Exception):
    """A page was asked for without a staff sign-in: the browser is sent to the sign-in page."""


def get_page_user(request: Request, session: SessionDep, settings: SettingsDep) -> Principal:
    """The signed-in member of staff (officer, legal or admin) behind the page's session cookie;
    LoginRequired (a redirect to ``/login``) for anyone else, a device's token included."""
    token = request.cookies.get(SESSION_COOKIE)
    principal = principal_from_token(session, token, pepper=settings.secret_key) if token else None
    if principal is None or principal.role not in STAFF_ROLES:
        raise LoginRequired
    return principal


PageUser = Annotated[Principal, Depends(get_page_user)]


def known_page_user(request: Request) -> Principal | None:
    """The signed-in member of staff, if any, for an error page's navigation (outside the route's own
    dependencies; ``None`` when there is none or the database cannot say)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    settings: Settings = request.app.state.settings
    try:
        with request.app.state.sessionmaker() as session:
            principal = principal_from_token(session, token, pepper=settings.secret_key)
    except SQLAlchemyError:
        logger.warning("an error page could not look up who is signed in", exc_info=True)
        return None
    return principal if principal is not None and principal.role in STAFF_ROLES else None


def require_page_roles(*roles: Role, refusal: str) -> Callable[[Principal], Principal]:
    """A page dependency that lets only the given roles through; the others see ``refusal`` on an error
    page (403, as the domain's Forbidden)."""
    allowed = set(roles)

    def check(principal: PageUser) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(refusal)
        return principal

    return check
