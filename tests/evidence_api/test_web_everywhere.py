"""What every page does (issue 11, "Everywhere"): errors are pages with the navigation and no traceback
(JSON stays JSON), evidence is never cached, every field has a label, a session that ends while a form
is open sends the officer to sign in, says so, and comes back to the page; every answer says nosniff."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from evidence_testutil import PASSWORD, Api, event_body, sha, upload
from fastapi.testclient import TestClient
from sqlalchemy import update
from web_testutil import csrf_of, field_count, sign_in, unlabelled_fields, unscoped_table_headers

from evidence_api.models import ApiToken, User
from evidence_api.services import review

SECRET_DETAIL = "an internal detail the page must not show"


def _assert_error_page(r: object, status: int) -> str:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("text/html")  # type: ignore[attr-defined]
    html: str = r.text  # type: ignore[attr-defined]
    assert '<nav aria-label="Main">' in html and 'href="/review"' in html, "no way back from the error"
    assert "Traceback" not in html and 'File "' not in html
    assert '<meta name="viewport"' in html and 'href="#main"' in html
    return html


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_errors_are_pages_with_navigation_and_the_api_keeps_json(api: Api) -> None:
    sign_in(api)
    missing = _assert_error_page(api.client.get("/review/no-such-page"), 404)
    assert "There is no page at this address" in missing
    assert "officer (officer)" in missing and "Sign out" in missing  # the signed-in officer's navigation
    not_a_uuid = _assert_error_page(api.client.get("/review/events/not-a-uuid"), 422)
    assert "event_id" in not_a_uuid
    wrong_method = api.client.get("/logout")
    _assert_error_page(wrong_method, 405)
    assert wrong_method.headers["allow"] == "POST"
    _assert_error_page(api.client.get("/static/no-such.css"), 404)

    json_missing = api.client.get("/api/v1/no-such-route", headers=api.h("officer"))
    assert json_missing.status_code == 404 and json_missing.json() == {"detail": "Not Found"}
    json_invalid = api.client.get("/api/v1/events/not-a-uuid", headers=api.h("officer"))
    assert json_invalid.status_code == 422 and json_invalid.json()["detail"][0]["loc"] == ["path", "event_id"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_crash_is_a_page_without_a_traceback_and_json_for_the_api(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(**_kwargs: object) -> None:
        raise RuntimeError(SECRET_DETAIL)

    monkeypatch.setattr(review, "list_events", crash)
    client = TestClient(api.client.app, raise_server_exceptions=False)
    client.cookies.set("tipwatch_session", api.tokens["officer"])
    page = _assert_error_page(client.get("/review"), 500)
    assert "Something went wrong" in page and SECRET_DETAIL not in page
    crashed = client.get("/api/v1/events", headers=api.h("officer"))
    assert crashed.status_code == 500 and crashed.json() == {"detail": "internal server error"}
    assert crashed.headers["x-content-type-options"] == "nosniff"


def test_evidence_pages_are_never_cached_and_every_answer_says_nosniff(
    api: Api, media: dict[str, bytes]
) -> None:
    body = event_body({"act.jpg": ("act", media["bus"])})
    upload(api, body, {"a": media["bus"]})
    csrf = sign_in(api)
    api.client.post(f"/review/events/{body['id']}/decision", data={"action": "confirm", "csrf_token": csrf})
    case_page = api.client.post(
        f"/review/events/{body['id']}/case", data={"title": "Lay-by", "csrf_token": csrf}
    )
    assert case_page.status_code == 200 and "/review/cases/" in str(case_page.url)
    answers = {
        "queue": api.client.get("/review"),
        "event": api.client.get(f"/review/events/{body['id']}"),
        "case": api.client.get(str(case_page.url)),
        "still": api.client.get(f"/review/blobs/{sha(media['bus'])}"),
    }
    for name, r in answers.items():
        assert r.status_code == 200, name
        assert r.headers["cache-control"] == "no-store", name
    answers["json"] = api.client.get(f"/api/v1/events/{body['id']}", headers=api.h("officer"))
    answers["redirect"] = api.client.get("/", follow_redirects=False)
    answers["error page"] = api.client.get("/nowhere")
    answers["css"] = api.client.get("/static/review.css")
    for name, r in answers.items():
        assert r.headers["x-content-type-options"] == "nosniff", name


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_field_has_a_label_and_every_table_header_a_scope(api: Api, media: dict[str, bytes]) -> None:
    new = event_body({"act.jpg": ("act", media["bus"])})
    upload(api, new, {"a": media["bus"]})
    confirmed = event_body({"after.jpg": ("after", media["zidane"])})
    upload(api, confirmed, {"a": media["zidane"]})
    login = api.client.get("/login").text
    csrf = sign_in(api)
    api.client.post(
        f"/review/events/{confirmed['id']}/decision", data={"action": "confirm", "csrf_token": csrf}
    )
    pages = {
        "login": login,
        "queue": api.client.get("/review").text,
        "event with the dismiss form": api.client.get(f"/review/events/{new['id']}").text,
        "event with the case form": api.client.get(f"/review/events/{confirmed['id']}").text,
    }
    case = api.client.post(f"/review/events/{confirmed['id']}/case", data={"title": "T", "csrf_token": csrf})
    sign_in(api, "legal")
    pages["case with the export form"] = api.client.get(str(case.url)).text
    for name, html in pages.items():
        assert unlabelled_fields(html) == [], name
        assert unscoped_table_headers(html) == 0, name
    assert field_count(pages["event with the dismiss form"]) == 1  # the reason
    # the case, a new case's title, and the reason for reopening the confirmation
    assert field_count(pages["event with the case form"]) == 3
    assert field_count(pages["case with the export form"]) == 3


def _end_sessions(api: Api, username: str) -> None:
    """The user's sessions expire (as they do after ``session_hours``), the cookie still in the browser."""
    with api.sessionmaker() as session:
        user_id = session.query(User.id).filter(User.username == username).scalar()
        session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()


def test_a_session_that_ends_while_a_form_is_open_says_so_and_comes_back(
    api: Api, media: dict[str, bytes]
) -> None:
    body = event_body({"act.jpg": ("act", media["bus"])})
    upload(api, body, {"a": media["bus"]})
    csrf = sign_in(api)
    event_url = f"/review/events/{body['id']}"
    assert api.client.get(event_url).status_code == 200
    _end_sessions(api, "officer")

    r = api.client.post(
        f"{event_url}/decision",
        data={"action": "dismiss", "reason": "a shadow", "csrf_token": csrf},
        headers={"Referer": f"http://testserver{event_url}"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=%2Freview%2Fevents%2F{body['id']}&reason=expired"
    login = api.client.get(r.headers["location"])
    assert "Your session has ended" in login.text and "was not saved" in login.text
    assert f'name="next" value="{event_url}"' in login.text
    with api.sessionmaker() as session:
        assert review.get_event(session=session, event_id=uuid.UUID(body["id"])).review_status == "new"

    signed_in = api.client.post(
        "/login",
        data={
            "username": "officer",
            "password": PASSWORD,
            "next": event_url,
            "csrf_token": csrf_of(login.text),
        },
        follow_redirects=False,
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == event_url

    _end_sessions(api, "officer")  # a page opened from a bookmark after the session ended
    r = api.client.get("/review?status=confirmed", follow_redirects=False)
    assert r.headers["location"] == "/login?next=%2Freview%3Fstatus%3Dconfirmed&reason=expired"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "next_page", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/logout"]
)
def test_signing_in_never_sends_the_browser_off_the_site(api: Api, next_page: str) -> None:
    login = api.client.get("/login", params={"next": next_page})
    assert login.status_code == 200 and 'name="next" value="/review"' in login.text
    r = api.client.post(
        "/login",
        data={
            "username": "officer",
            "password": PASSWORD,
            "next": next_page,
            "csrf_token": csrf_of(login.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/review"


def test_every_scrolling_table_can_be_reached_and_scrolled_from_the_keyboard() -> None:
    """A table too wide for a phone scrolls inside its box; a box with nothing focusable in it (an audit
    trail, a table of counts) cannot be scrolled without a mouse unless the box itself takes the focus
    (axe: scrollable-region-focusable, serious).  Before: the event page's audit trail at 390 px."""
    import re
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "evidence_api" / "web" / "templates"
    wraps = [
        (path.name, tag)
        for path in sorted(templates.glob("*.html"))
        for tag in re.findall(r'<div class="table-wrap"[^>]*>', path.read_text(encoding="utf-8"))
    ]
    assert len(wraps) >= 10
    for name, tag in wraps:
        assert 'tabindex="0"' in tag and 'role="region"' in tag, (name, tag)
        assert "aria-label=" in tag or "aria-labelledby=" in tag, (name, tag)
