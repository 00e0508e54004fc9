"""Review pages: sign-in with CSRF, queue badges, event stills and clip, confirm, case."""

from __future__ import annotations

import re

import pytest
from evidence_testutil import PASSWORD, Api, event_body, upload


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m
    return m.group(1)


def _login(api: Api, username: str = "officer") -> str:
    page = api.client.get("/login")
    token = _csrf(page.text)
    r = api.client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/review"
    return token


def test_review_pages_end_to_end(api: Api, media: dict[str, bytes]) -> None:
    ok = event_body({"act.jpg": ("act", media["bus"]), "clip.mp4": ("clip", media["clip"])})
    upload(api, ok, {"a": media["bus"], "c": media["clip"]})
    covert = event_body({"after.jpg": ("after", media["zidane"])}, camera="cam-9", site="back-lane")
    other = {"Authorization": f"Bearer {api.other_device_token}"}
    assert api.client.post("/api/v1/events", json=covert, headers=other).status_code == 201

    assert api.client.get("/review", follow_redirects=False).headers["location"] == "/login"
    csrf = _login(api)
    queue = api.client.get("/review").text
    assert ok["id"] in queue and covert["id"] in queue
    assert "NOT AUTHORISED AT CAPTURE" in queue
    assert "GMT" in queue and "UTC" in queue

    page = api.client.get(f"/review/events/{ok['id']}").text
    assert "<video" in page and media_sha(media["clip"]) in page and "rules/1" in page
    img = api.client.get(f"/review/blobs/{media_sha(media['bus'])}")
    assert img.status_code == 200 and img.content == media["bus"]

    r = api.client.post(
        f"/review/events/{ok['id']}/decision", data={"action": "confirm"}, follow_redirects=False
    )
    assert r.status_code == 400 and "security token" in r.text  # no CSRF token: refused
    r = api.client.post(
        f"/review/events/{ok['id']}/decision",
        data={"action": "confirm", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = api.client.post(
        f"/review/events/{ok['id']}/case",
        data={"title": "Lay-by A123", "csrf_token": csrf},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "Lay-by A123" in r.text and ok["id"] in r.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_device_tokens_cannot_use_the_pages(api: Api) -> None:
    api.client.cookies.set("tipwatch_session", api.tokens["device"])
    assert api.client.get("/review", follow_redirects=False).headers["location"] == "/login"


def media_sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
