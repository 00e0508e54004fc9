"""The users page (admins only): list users with their role, state and last sign-in; create a user,
disable or enable one, change a role, reset a password.

Each action is one call to :mod:`evidence_api.services.users` (which audits it and refuses to leave
the system without an active admin).  A refusal is shown on the users page beside the form that asked,
with the error's status and what was typed (never a password); a new user's or a reset password is a
temporary one, shown on the page this once (the page is ``no-store``; only its hash is kept).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from evidence_api.deps import STAFF_ROLES, Principal, SessionDep, require_page_roles
from evidence_api.models import Role
from evidence_api.services import users
from evidence_api.services.errors import DomainError, Invalid
from evidence_api.web.rendering import CheckedForm, render

logger = logging.getLogger(__name__)

USERS_PAGE = "/admin/users"
CREATE_FORM = "create"  # which form a refusal is shown beside: this, or a user's id
# What the page says after an action that redirected back to it (?done=...&user=<id>).
DONE = {
    "enabled": "{name} is enabled: they can sign in again.",
    "disabled": "{name} is disabled and their sessions have ended.",
    "role": "{name} is now {role}.",
}
ROLE_CHOICES = tuple(sorted(r.value for r in STAFF_ROLES))

router = APIRouter(include_in_schema=False)

Admin = Annotated[Principal, Depends(require_page_roles(Role.admin, refusal="only an admin manages users"))]


@dataclass(frozen=True, slots=True)
class ShownOnce:
    """A temporary password for the admin to hand over, on the page this once."""

    username: str
    password: str
    created: bool


def _users_page(
    request: Request,
    *,
    me: Principal,
    session: Session,
    status_code: int = 200,
    notice: str | None = None,
    error: DomainError | None = None,
    error_for: str | None = None,
    typed: dict[str, str] | None = None,
    shown_once: ShownOnce | None = None,
) -> Response:
    context: dict[str, Any] = {
        "me": me,
        "rows": users.list_users(session=session),
        "roles": ROLE_CHOICES,
        "notice": notice,
        "error": str(error) if error else None,
        "error_for": error_for,
        "typed": typed or {"role": Role.officer.value},
        "shown_once": shown_once,
    }
    return render(request, "users.html", context, status_code=status_code)


def _done_notice(request: Request, session: Session) -> str | None:
    """The message for ``?done=`` (fixed wording; the user named by id, never echoed from the URL)."""
    template = DONE.get(request.query_params.get("done", ""))
    try:
        user_id = uuid.UUID(request.query_params.get("user", ""))
        user = users.get_user(session=session, user_id=user_id)
    except (ValueError, DomainError):
        return None
    return template.format(name=user.username, role=user.role) if template else None


def _role(value: str) -> Role:
    if value not in ROLE_CHOICES:
        raise Invalid(f"choose a role: {', '.join(ROLE_CHOICES)}")
    return Role(value)


def _done(action: str, user_id: uuid.UUID) -> Response:
    return RedirectResponse(f"{USERS_PAGE}?done={action}&user={user_id}#user-{user_id}", status_code=303)


@router.get(USERS_PAGE, response_class=HTMLResponse)
def users_page(request: Request, me: Admin, session: SessionDep) -> Response:
    return _users_page(request, me=me, session=session, notice=_done_notice(request, session))


@router.post(USERS_PAGE, response_class=HTMLResponse)
def create_user(request: Request, form: CheckedForm, me: Admin, session: SessionDep) -> Response:
    typed = {k: form.get(k, "").strip() for k in ("username", "full_name", "role")}
    password = users.temporary_password()
    try:
        user = users.create_user(
            session=session,
            username=typed["username"],
            password=password,
            role=_role(typed["role"]),
            full_name=typed["full_name"],
            actor=me.actor,
        )
    except DomainError as exc:
        session.rollback()
        return _users_page(
            request,
            me=me,
            session=session,
            status_code=exc.status_code,
            error=exc,
            error_for=CREATE_FORM,
            typed=typed,
        )
    shown = ShownOnce(user.username, password, created=True)
    return _users_page(request, me=me, session=session, status_code=201, shown_once=shown)


def _row_refused(
    request: Request, me: Principal, session: Session, exc: DomainError, user_id: uuid.UUID
) -> Response:
    session.rollback()
    return _users_page(
        request, me=me, session=session, status_code=exc.status_code, error=exc, error_for=str(user_id)
    )


@router.post(USERS_PAGE + "/{user_id}/active", response_class=HTMLResponse)
def set_active(
    request: Request, user_id: uuid.UUID, form: CheckedForm, me: Admin, session: SessionDep
) -> Response:
    active = form.get("active") == "1"
    try:
        users.set_active(session=session, user_id=user_id, active=active, actor=me.actor)
    except DomainError as exc:
        return _row_refused(request, me, session, exc, user_id)
    return _done("enabled" if active else "disabled", user_id)


@router.post(USERS_PAGE + "/{user_id}/role", response_class=HTMLResponse)
def change_role(
    request: Request, user_id: uuid.UUID, form: CheckedForm, me: Admin, session: SessionDep
) -> Response:
    try:
        users.change_role(session=session, user_id=user_id, role=_role(form.get("role", "")), actor=me.actor)
    except DomainError as exc:
        return _row_refused(request, me, session, exc, user_id)
    return _done("role", user_id)


@router.post(USERS_PAGE + "/{user_id}/password", response_class=HTMLResponse)
def reset_password(
    request: Request, user_id: uuid.UUID, _form: CheckedForm, me: Admin, session: SessionDep
) -> Response:
    try:
        user, password = users.reset_password(session=session, user_id=user_id, actor=me.actor)
    except DomainError as exc:
        return _row_refused(request, me, session, exc, user_id)
    shown = ShownOnce(user.username, password, created=False)
    return _users_page(request, me=me, session=session, shown_once=shown)
