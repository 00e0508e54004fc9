"""Sign in (session token for users), sign out, who am I."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from evidence_api.deps import CurrentPrincipal, SessionDep, SettingsDep
from evidence_api.models import Role
from evidence_api.schemas import LoginIn, Me, TokenOut
from evidence_api.services import users

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=TokenOut, responses={401: {}})
def login(data: LoginIn, session: SessionDep, settings: SettingsDep) -> TokenOut:
    """Exchange a username and password for a session token."""
    user = users.authenticate(session=session, username=data.username, password=data.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown user or wrong password")
    token, row = users.issue_user_token(
        session=session, user=user, pepper=settings.secret_key, hours=settings.session_hours
    )
    return TokenOut(access_token=token, role=Role(user.role), expires_at=row.expires_at)


@router.post("/logout", status_code=204)
def logout(principal: CurrentPrincipal, session: SessionDep) -> None:
    """Revoke the token used for this request."""
    users.revoke_token(session=session, token_id=principal.token_id, actor=principal.actor)  # type: ignore[arg-type]


@router.get("/me", response_model=Me)
def me(principal: CurrentPrincipal) -> Me:
    """The caller's name and role."""
    return Me(name=principal.name, role=principal.role, kind="user" if principal.user else "device")
