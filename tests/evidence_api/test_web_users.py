"""The users page (issue 11): an admin creates a user, resets a password, disables, enables and changes
a role, each audited and CSRF-checked; nobody else may, and the last active admin cannot be disabled
or demoted."""

from __future__ import annotations

import re
import uuid

import pytest
from evidence_testutil import PASSWORD, Api
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_testutil import csrf_of, sign_in, unlabelled_fields, unscoped_table_headers

from evidence_api.models import AuditEntry, User


def _user_id(api: Api, username: str) -> uuid.UUID:
    with api.sessionmaker() as session:
        user_id: uuid.UUID = session.execute(select(User.id).where(User.username == username)).scalar_one()
        return user_id


def _user(api: Api, username: str) -> User:
    with api.sessionmaker() as session:
        user: User = session.execute(select(User).where(User.username == username)).scalar_one()
        session.expunge(user)
        return user


def _audited(api: Api, action: str, target: uuid.UUID) -> list[str]:
    """Who did ``action`` to ``target``, oldest first."""
    with api.sessionmaker() as session:
        rows = session.execute(
            select(AuditEntry.actor)
            .where(AuditEntry.action == action, AuditEntry.target_id == str(target))
            .order_by(AuditEntry.seq)
        )
        return list(rows.scalars())


def _temporary_password(html: str) -> str:
    m = re.search(r'<code id="temporary-password">([^<]+)</code>', html)
    assert m, "no temporary password on the page"
    return m.group(1)


def _can_sign_in(api: Api, username: str, password: str) -> bool:
    """Whether ``username`` signs in with ``password``, in a browser of their own."""
    browser = TestClient(api.client.app)  # the app is already started by the fixture's client
    token = csrf_of(browser.get("/login").text)
    r = browser.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return r.status_code == 303


def test_an_admin_creates_a_user_resets_the_password_disables_and_changes_the_role(api: Api) -> None:
    csrf = sign_in(api, "admin")
    page = api.client.get("/admin/users")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert 'href="/admin/users">Users</a>' in page.text  # in the admin's navigation
    for name in ("admin", "officer", "legal"):
        assert f'<th scope="row">{name}' in page.text
    assert unlabelled_fields(page.text) == [] and unscoped_table_headers(page.text) == 0

    created = api.client.post(
        "/admin/users",
        data={"username": "jo.bloggs", "full_name": "Jo Bloggs", "role": "officer", "csrf_token": csrf},
    )
    assert created.status_code == 201 and "shown only this once" in created.text
    first = _temporary_password(created.text)
    assert "never" in created.text  # jo has not signed in yet
    jo = _user_id(api, "jo.bloggs")
    assert _user(api, "jo.bloggs").full_name == "Jo Bloggs"
    assert _audited(api, "user.create", jo) == ["user:admin"]
    assert _can_sign_in(api, "jo.bloggs", first)
    assert first not in api.client.get("/admin/users").text  # shown once, not again

    reset = api.client.post(f"/admin/users/{jo}/password", data={"csrf_token": csrf})
    assert reset.status_code == 200
    second = _temporary_password(reset.text)
    assert second != first and "their sessions have been ended" in reset.text
    assert not _can_sign_in(api, "jo.bloggs", first) and _can_sign_in(api, "jo.bloggs", second)
    assert _audited(api, "user.password_reset", jo) == ["user:admin"]

    disabled = api.client.post(f"/admin/users/{jo}/active", data={"active": "0", "csrf_token": csrf})
    assert disabled.status_code == 200 and "jo.bloggs is disabled" in disabled.text
    assert not _user(api, "jo.bloggs").active and not _can_sign_in(api, "jo.bloggs", second)
    enabled = api.client.post(f"/admin/users/{jo}/active", data={"active": "1", "csrf_token": csrf})
    assert "jo.bloggs is enabled" in enabled.text and _can_sign_in(api, "jo.bloggs", second)
    assert _audited(api, "user.disable", jo) == _audited(api, "user.enable", jo) == ["user:admin"]

    promoted = api.client.post(f"/admin/users/{jo}/role", data={"role": "legal", "csrf_token": csrf})
    assert "jo.bloggs is now legal" in promoted.text and _user(api, "jo.bloggs").role == "legal"
    assert _audited(api, "user.role_change", jo) == ["user:admin"]

    # without the form's token, nothing happens
    stale = api.client.post(f"/admin/users/{jo}/role", data={"role": "admin"})
    assert stale.status_code == 400 and "security token" in stale.text
    assert _user(api, "jo.bloggs").role == "legal"


def test_a_disabled_users_open_session_ends_at_once(api: Api) -> None:
    csrf = sign_in(api, "admin")
    officer = TestClient(api.client.app)  # the officer's own browser
    token = csrf_of(officer.get("/login").text)
    officer.post("/login", data={"username": "officer", "password": PASSWORD, "csrf_token": token})
    assert officer.get("/review", follow_redirects=False).status_code == 200
    api.client.post(
        f"/admin/users/{_user_id(api, 'officer')}/active", data={"active": "0", "csrf_token": csrf}
    )
    r = officer.get("/review", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_only_an_admin_sees_or_uses_the_users_page(api: Api) -> None:
    legal = _user_id(api, "legal")
    for role in ("officer", "legal"):
        csrf = sign_in(api, role)
        page = api.client.get("/admin/users")
        assert page.status_code == 403 and "only an admin manages users" in page.text
        assert '<nav aria-label="Main">' in page.text and "Traceback" not in page.text
        assert 'href="/admin/users"' not in api.client.get("/review").text  # not in their navigation
        refused = api.client.post(f"/admin/users/{legal}/role", data={"role": "admin", "csrf_token": csrf})
        assert refused.status_code == 403
        created = api.client.post(
            "/admin/users", data={"username": "sneaky", "role": "admin", "csrf_token": csrf}
        )
        assert created.status_code == 403
    assert _user(api, "legal").role == "legal"
    with api.sessionmaker() as session:
        assert session.execute(select(User).where(User.username == "sneaky")).first() is None


def test_the_last_active_admin_cannot_be_disabled_or_demoted(api: Api) -> None:
    csrf = sign_in(api, "admin")
    admin = _user_id(api, "admin")
    for form in ({"active": "0"}, {"role": "officer"}):
        action = "active" if "active" in form else "role"
        r = api.client.post(f"/admin/users/{admin}/{action}", data={**form, "csrf_token": csrf})
        assert r.status_code == 409, r.text
        assert "admin is the last active admin" in r.text and "make another user an admin first" in r.text
        assert f'<tr id="user-{admin}" class="refused">' in r.text  # on the users page, at the row
    assert _user(api, "admin").active and _user(api, "admin").role == "admin"
    assert _audited(api, "user.disable", admin) == _audited(api, "user.role_change", admin) == []

    # with a second admin, the first may step down
    officer = _user_id(api, "officer")
    api.client.post(f"/admin/users/{officer}/role", data={"role": "admin", "csrf_token": csrf})
    r = api.client.post(f"/admin/users/{admin}/role", data={"role": "legal", "csrf_token": csrf})
    assert _user(api, "admin").role == "legal"
    assert r.status_code == 403  # the page it comes back to is now an admin's only
    # a disabled admin does not count: the remaining one cannot be disabled either
    csrf = sign_in(api, "officer")
    r = api.client.post(f"/admin/users/{officer}/active", data={"active": "0", "csrf_token": csrf})
    assert r.status_code == 409 and _user(api, "officer").active


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("username", "status", "message"),
    [
        ("officer", 409, "user 'officer' already exists"),
        ("two words", 422, "a user name is 1 to 120 letters"),
        ("", 422, "a user name is 1 to 120 letters"),
    ],
)
def test_a_refused_new_user_is_shown_on_the_form_with_what_was_typed(
    api: Api, username: str, status: int, message: str
) -> None:
    csrf = sign_in(api, "admin")
    r = api.client.post(
        "/admin/users",
        data={"username": username, "full_name": "Pat Smith", "role": "legal", "csrf_token": csrf},
    )
    assert r.status_code == status and r.headers["content-type"].startswith("text/html")
    form = r.text[r.text.index('<h2 id="add-user">') :]
    assert f'<p class="error" role="alert" id="create-error">{message}' in form.replace("&#39;", "'")
    assert 'value="Pat Smith"' in form and '<option value="legal" selected>' in form
    assert "temporary-password" not in r.text
    assert unlabelled_fields(r.text) == []
