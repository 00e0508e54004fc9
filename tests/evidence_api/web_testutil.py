"""Helpers for the page tests: the form's CSRF token, signing in through the form, a case made through
the pages, and what a person using a screen reader would miss on a page (a field without a label, a
table header without a scope)."""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser

from evidence_testutil import PASSWORD, Api, event_body, upload

UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "the page has no form with a CSRF token"
    return m.group(1)


def sign_in(api: Api, username: str = "officer", password: str = PASSWORD) -> str:
    """Sign in through the form (the client keeps the session cookie); the CSRF token for later forms."""
    token = csrf_of(api.client.get("/login").text)
    r = api.client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/review", r.text
    return token


def case_with_an_event(
    api: Api, media: dict[str, bytes], csrf: str, *, started_at: datetime, title: str = "Fridge"
) -> str:
    """A dumping event started at ``started_at``, confirmed and put in a new case through the pages (by
    whoever is signed in, with their ``csrf``); the case's id."""
    body = event_body({"act.jpg": ("act", media["bus"])}, started_at=started_at)
    upload(api, body, {"a": media["bus"]})
    api.client.post(f"/review/events/{body['id']}/decision", data={"action": "confirm", "csrf_token": csrf})
    page = api.client.post(f"/review/events/{body['id']}/case", data={"title": title, "csrf_token": csrf})
    assert page.status_code == 200, page.text
    return str(page.url).rsplit("/", 1)[1]


class _Fields(HTMLParser):
    """Every form field, whether a label names it, and every table header's scope."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str | None, bool]] = []  # (name, id, inside a <label>)
        self.label_for: set[str] = set()
        self.unscoped_headers = 0
        self._label_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"] or "")
        elif tag in ("input", "select", "textarea"):
            if (a.get("type") or "text") in UNLABELLED_TYPES or "aria-label" in a:
                return
            self.fields.append((a.get("name") or "?", a.get("id"), self._label_depth > 0))
        elif tag == "th" and a.get("scope") not in ("col", "row", "colgroup", "rowgroup"):
            self.unscoped_headers += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1


def unlabelled_fields(html: str) -> list[str]:
    """The names of the page's form fields that no label names (neither ``for=`` nor around it)."""
    parser = _Fields()
    parser.feed(html)
    return [name for name, id_, wrapped in parser.fields if not wrapped and id_ not in parser.label_for]


def field_count(html: str) -> int:
    parser = _Fields()
    parser.feed(html)
    return len(parser.fields)


def unscoped_table_headers(html: str) -> int:
    parser = _Fields()
    parser.feed(html)
    return parser.unscoped_headers
