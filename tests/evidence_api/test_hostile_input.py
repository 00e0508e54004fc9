"""Hostile input on SQLite and PostgreSQL: refused with a clear 4xx, never a 500, and nothing written."""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from evidence_testutil import PASSWORD, Api, event_body, sha
from fastapi.testclient import TestClient
from hostile_corpus import Hostile, controls, corpus
from sqlalchemy import func, select
from tests_support_uvicorn import serve_in_thread

from evidence_api.db import Base
from evidence_api.models import Event, Site
from evidence_api.schemas import EventIn
from evidence_api.services.errors import Invalid
from evidence_api.services.ingest import CaptureWindow, metadata_hash
from evidence_api.validation_errors import safe_errors


def _written(api: Api) -> dict[str, int]:
    """Rows in every table, and files in the blob store."""
    with api.sessionmaker() as s:
        counts = {
            t.name: s.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
        }
    root = api.settings.resolved_blob_dir
    counts["blob files"] = sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0
    return counts


def _send(api: Api, case: Hostile, known: str) -> tuple[int, bytes]:
    headers = dict(case.headers)
    if case.role == "nobody":
        headers["Authorization"] = "Bearer tw_not-a-token"
    elif case.role is not None:
        headers.update(api.h(case.role))
    path = case.path.replace("{known}", known)
    if case.form is not None:
        r = api.client.request(case.method, path, data=case.form, headers=headers, follow_redirects=False)
    else:
        r = api.client.request(
            case.method, path, content=case.content, headers=headers, follow_redirects=False
        )
    return r.status_code, r.content


def _declare(api: Api, case: Hostile) -> str:
    """Post the event that declares the case's file; the upload path for it."""
    assert case.declare is not None
    name, role = ("clip.mp4", "clip") if case.declare_as == "video/mp4" else ("act.jpg", "act")
    body = event_body({name: (role, case.declare)})
    r = api.client.post("/api/v1/events", json=body, headers=api.h("device"))
    assert r.status_code == 201, r.text
    return case.path.replace("{event}", body["id"]).replace("{sha}", sha(case.declare))


def test_the_hostile_corpus_is_refused_and_nothing_is_written(api: Api, media: dict[str, bytes]) -> None:
    cases = corpus(media, api.settings)
    assert len(cases) >= 100 and len({c.name for c in cases}) == len(cases)
    # a stored event to review, captured without an authorisation (so a legal override applies); it holds
    # zidane.jpg: the file cases send bus.jpg, not yet stored
    known = event_body({"act.jpg": ("act", media["zidane"])}, camera="cam-9", site="back-lane")
    covert = {"Authorization": f"Bearer {api.other_device_token}"}
    assert api.client.post("/api/v1/events", json=known, headers=covert).status_code == 201
    r = api.client.put(
        f"/api/v1/events/{known['id']}/files/{sha(media['zidane'])}",
        content=media["zidane"],
        headers={**covert, "Content-Type": "image/jpeg"},
    )
    assert r.status_code == 201, r.text
    api.client.cookies.clear()
    problems = []
    started = time.monotonic()
    for case in cases:
        if case.declare is not None:
            case = replace(case, path=_declare(api, case))
        before = _written(api)
        try:
            status, answer = _send(api, case, known["id"])
        except Exception as exc:  # the test client raises what the server raised: a 500
            problems.append(f"{case.name}: the server raised {type(exc).__name__}: {str(exc)[:200]}")
            continue
        after = _written(api)
        if not 400 <= status < 500 or (case.expect is not None and status not in case.expect):
            problems.append(f"{case.name}: answered {status}: {answer[:200]!r}")
        if after != before:
            changed = {k: (before[k], after[k]) for k in after if after[k] != before.get(k)}
            problems.append(f"{case.name}: refused with {status} but wrote {changed}")
        if len(answer) > 16_384:
            problems.append(f"{case.name}: a {len(answer)}-byte answer (input echoed?)")
        answer.decode("utf-8")  # always encodable: the 422 handler once failed here
    assert not problems, f"{len(problems)} of {len(cases)} hostile requests mishandled:\n" + "\n".join(
        problems
    )
    assert time.monotonic() - started < 60
    for control in controls(media):  # each valid original is accepted: the broken part was refused
        if control.declare is not None:
            control = replace(control, path=_declare(api, control))
        if control.content is not None:
            control = replace(control, content=control.content.replace(b"{password}", PASSWORD.encode()))
        status, answer = _send(api, control, known["id"])
        assert control.expect is not None and status in control.expect, (control.name, status, answer[:300])


def test_a_sign_in_with_a_lone_surrogate_is_refused_and_never_logs_the_password(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "hunter2-secret-password"
    for body in (
        f'{{"username": "officer", "password": "{secret}\\ud800"}}',
        f'{{"username": "officer\\ud800", "password": "{secret}"}}',
        f'{{"username": "officer", "password": "{secret}{"x" * 1000}"}}',
    ):
        r = api.client.post("/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert secret not in r.text
    assert secret not in caplog.text
    ok = api.client.post("/api/v1/auth/login", json={"username": "officer", "password": PASSWORD})
    assert ok.status_code == 200


def test_an_invalid_body_is_answered_with_short_encodable_echoes(api: Api) -> None:
    body = event_body({})
    body["zone"] = "z" * 900_000
    body["details"] = {"k\ud800": "v"}
    r = api.client.post(
        "/api/v1/events",
        content=json.dumps(body).encode(),
        headers={**api.h("device"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and len(r.content) < 4096
    errors = r.json()["detail"]
    zone = next(e for e in errors if e["loc"][-1] == "zone")
    assert zone["type"] == "string_too_long" and len(zone["input"]) <= 64
    key = next(e for e in errors if e["loc"][:2] == ["body", "details"])
    assert key["input"] == "k\\ud800"  # the lone surrogate written as an escape: the answer encodes


@pytest.mark.parametrize("path", ["/api/v1/cameras/cam-1/health", "/api/v1/auth/login"])
def test_a_body_of_many_errors_gets_a_short_answer(api: Api, path: str) -> None:
    """Before: 90,000 unknown keys in 1 MB got a 9 MB 422 in 5 s; 2000 keys to the anonymous sign-in, 12
    times its size back."""
    keys = 2000 if path.endswith("login") else 40_000
    body = json.dumps({f"k{i}": 1 for i in range(keys)}).encode()
    headers = {"Content-Type": "application/json"}
    if not path.endswith("login"):
        headers.update(api.h("device"))
    r = api.client.post(path, content=body, headers=headers)
    assert r.status_code in (413, 422), r.text[:200]
    assert len(r.content) < 8192
    if r.status_code == 422:
        errors = r.json()["detail"]
        assert len(errors) <= 21 and errors[-1]["type"] == "too_many_errors"


def test_times_outside_the_capture_window_are_refused_by_the_settings_window() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    window = CaptureWindow(earliest=datetime(2000, 1, 1, tzinfo=UTC), max_ahead=timedelta(minutes=5))
    body = event_body({"a.jpg": ("act", b"x")}, started_at=now - timedelta(minutes=1))
    window.check(EventIn.model_validate(body), received_at=now)
    for start, why in ((now + timedelta(minutes=6), "ahead"), (datetime(1999, 12, 31, tzinfo=UTC), "before")):
        late = EventIn.model_validate(event_body({"a.jpg": ("act", b"x")}, started_at=start))
        with pytest.raises(Invalid, match=why):
            window.check(late, received_at=now)
    edge = EventIn.model_validate(
        event_body(
            {}, started_at=now + timedelta(minutes=4), ended_at=(now + timedelta(minutes=4)).isoformat()
        )
    )
    window.check(edge, received_at=now)  # a clock a little fast is still accepted


def test_an_edge_payload_hashes_as_it_did_before_the_checks() -> None:
    """The metadata hash of an edge payload is what the version before these checks computed, so an
    event it stored, posted again, is still 'the same content' (200), not a 409."""
    body = {
        "id": "0190f5c2-7a3b-7c4d-8e5f-000000000001",
        "type": "dumping",
        "site_id": "lay-by-a123",
        "camera_id": "cam-1",
        "started_at": "2026-11-24T16:00:00.123+00:00",
        "ended_at": "2026-11-24T16:00:40.500+00:00",
        "clock_source": "stream",
        "model": {"name": "ssd_mobilenet_v2_coco_2018_03_29", "sha256": "a" * 64},
        "rule_version": "rules/1",
        "zone": "verge",
        "linked_event_ids": [],
        "plate": {"text": "AB12CDE", "confidence": 0.91, "valid_uk_format": True},
        "details": {
            "deposit_area_px": 5120,
            "people": 1,
            "persistence_s": 12.5,
            "deposit_box": "1,2,3,4",
            "present_at_start": False,
            "note": "two\nlines",
        },
        "files": [
            {
                "name": "act.jpg",
                "role": "act",
                "kind": "original",
                "media_type": "image/jpeg",
                "sha256": "b" * 64,
                "size": 1234,
                "captured_at": "2026-11-24T16:00:10.000+00:00",
            }
        ],
    }
    expected = "13f9a8c1e401e31fedd620b9c5a07c1c5c036fa7fe00b170b0daa1f257b8d19a"  # computed before
    assert metadata_hash(EventIn.model_validate(body)) == expected


def test_an_event_of_year_one_stored_before_the_checks_does_not_break_the_review_pages(api: Api) -> None:
    body = event_body({})
    assert api.client.post("/api/v1/events", json=body, headers=api.h("device")).status_code == 201
    year_one = datetime(1, 1, 1, tzinfo=UTC)
    with api.sessionmaker() as s:  # as a version without the time window stored it
        event = s.get(Event, uuid.UUID(body["id"]))
        assert event is not None
        event.started_at = event.ended_at = year_one
        s.commit()
    page = api.client.get("/login")
    token = page.cookies.get("tipwatch_csrf") or api.client.cookies.get("tipwatch_csrf")
    r = api.client.post(
        "/login",
        data={"username": "officer", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    queue = api.client.get("/review")
    assert queue.status_code == 200 and body["id"] in queue.text
    assert api.client.get(f"/review/events/{body['id']}").status_code == 200
    assert api.client.get("/api/v1/events", headers=api.h("officer")).status_code == 200


def test_records_stored_before_the_checks_are_still_readable(api: Api) -> None:
    """The input checks apply to what comes in, not to what was stored before they existed."""
    with api.sessionmaker() as s:
        site = s.execute(select(Site).where(Site.key == "lay-by-a123")).scalar_one()
        site.name = "A123 lay-by\x07 (old import)"  # a control character an older version let in
        s.commit()
    r = api.client.get("/api/v1/sites", headers=api.h("officer"))
    assert r.status_code == 200
    assert "A123 lay-by\x07 (old import)" in [x["name"] for x in r.json()]


def test_the_pages_refuse_control_characters_in_a_form(api: Api) -> None:
    page = api.client.get("/login")
    token = api.client.cookies.get("tipwatch_csrf")
    assert page.status_code == 200 and token
    before = _written(api)
    for form in (
        {"username": "officer\x00", "password": PASSWORD},
        {"username": "officer", "password": PASSWORD + "\x1b"},
        {"username\x00": "officer", "password": PASSWORD},
    ):
        r = api.client.post("/login", data={**form, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 422 and "text/html" in r.headers["content-type"], r.text
        assert "U+00" in r.text and PASSWORD not in r.text
    assert _written(api) == before and "tipwatch_session" not in api.client.cookies


# -- a real server: what is read of a body, and when ------------------------------------------------
@pytest.fixture
def served(api: Api) -> Iterator[tuple[str, int]]:
    """The fixture's app behind uvicorn on a free port (its lifespan already runs in the test client)."""
    with serve_in_thread(api.client.app, lifespan="off") as port:
        yield "127.0.0.1", port


def _answer_before_body(address: tuple[str, int], head: str, sent: bytes = b"") -> bytes:
    """Send the request head (and ``sent``), never the rest of the body; what the server answers."""
    with socket.create_connection(address, timeout=10) as conn:
        conn.sendall(head.encode("latin-1") + sent)
        conn.settimeout(5)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def _head(request_line: str, content_type: str, *headers: str) -> str:
    return "\r\n".join(
        [request_line + " HTTP/1.1", "Host: x", f"Content-Type: {content_type}", *headers, "", ""]
    )


def test_an_anonymous_200_mb_body_is_refused_before_it_is_read(api: Api, served: tuple[str, int]) -> None:
    json_type, form_type = "application/json", "application/x-www-form-urlencoded"
    huge = _head("POST /api/v1/events", json_type, f"Content-Length: {200 * 1024 * 1024}")
    assert _answer_before_body(served, huge, b'{"id": ').startswith(b"HTTP/1.1 413")
    small = _head("POST /api/v1/events", json_type, "Content-Length: 1000")
    assert _answer_before_body(served, small, b'{"id": ').startswith(b"HTTP/1.1 401")
    chunked = _head("POST /api/v1/events", json_type, "Transfer-Encoding: chunked")
    assert _answer_before_body(served, chunked).startswith(b"HTTP/1.1 401")
    sign_in = _head("POST /login", form_type, "Content-Length: 300000000")
    assert _answer_before_body(served, sign_in, b"username=").startswith(b"HTTP/1.1 413")
    page = _head(f"POST /review/events/{uuid.uuid4()}/decision", form_type, "Content-Length: 100")
    assert _answer_before_body(served, page, b"action=").startswith(b"HTTP/1.1 303")


def test_a_signed_in_chunked_body_is_cut_off_at_the_cap(api: Api, served: tuple[str, int]) -> None:
    token = api.tokens["device"]
    chunk = b" " * 65536
    head = _head(
        "POST /api/v1/events",
        "application/json",
        f"Authorization: Bearer {token}",
        "Transfer-Encoding: chunked",
    )
    body = b"".join(
        b"%x\r\n%s\r\n" % (len(chunk), chunk)
        for _ in range(api.settings.max_request_body_bytes // len(chunk) + 2)
    )
    answer = _answer_before_body(served, head, body)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_safe_errors_cut_escape_and_hide_what_they_echo() -> None:
    errors = safe_errors(
        [
            {"loc": ("body", "details", "k\ud800"), "msg": "bad", "type": "x", "input": "v\udfff" * 100},
            {"loc": ("body", "password"), "msg": "too long", "type": "string_too_long", "input": "secret"},
            {"loc": ("body", "d"), "msg": "m", "type": "t", "input": {"a": [1] * 1000}},
            {
                "loc": ("body", "n"),
                "msg": "m",
                "type": "t",
                "input": float("nan"),
                "ctx": {"error": ValueError("e")},
            },
        ]
    )
    json.dumps(errors).encode("utf-8")  # encodable
    assert errors[0]["loc"][-1] == "k\\ud800"
    assert errors[0]["input"].startswith("v\\udfff") and len(errors[0]["input"]) == 64
    assert "input" not in errors[1] and "input" not in errors[2]
    assert errors[3]["input"] == "NaN" and errors[3]["ctx"] == {"error": "e"}


def test_the_caps_follow_the_routes_when_a_proxy_mounts_the_api_below_a_prefix(api: Api) -> None:
    client = TestClient(api.client.app, root_path="/tipwatch")  # no lifespan: the fixture's runs
    body = event_body({}, details={f"note{i}": "n" * 1000 for i in range(100)})  # ~100 KB: valid
    assert api.settings.max_login_body_bytes < len(json.dumps(body)) < api.settings.max_request_body_bytes
    r = client.post("/tipwatch/api/v1/events", json=body, headers=api.h("device"))
    assert r.status_code == 201, r.text
    r = client.post("/tipwatch/api/v1/events", json=body)
    assert r.status_code == 401


def test_an_upload_that_cannot_be_stored_is_refused_before_its_body_is_read(
    api: Api, served: tuple[str, int], media: dict[str, bytes]
) -> None:
    """A device (whose token may have been taken from a box in a lay-by) cannot make the API hold
    a large body for an upload that has nowhere to go."""
    token = api.tokens["device"]
    auth = f"Authorization: Bearer {token}"
    nowhere = f"PUT /api/v1/events/{uuid.uuid4()}/files/{'a' * 64}"
    for length in (f"Content-Length: {api.settings.max_clip_bytes - 1}", "Transfer-Encoding: chunked"):
        answer = _answer_before_body(served, _head(nowhere, "image/jpeg", auth, length), b"\xff\xd8")
        assert answer.startswith(b"HTTP/1.1 404"), answer[:200]
    body = event_body({"act.jpg": ("act", media["bus"])})
    assert api.client.post("/api/v1/events", json=body, headers=api.h("device")).status_code == 201
    declared = f"PUT /api/v1/events/{body['id']}/files/{sha(media['bus'])}"
    # more than the metadata declared: refused before it is read
    longer = _head(declared, "image/jpeg", auth, f"Content-Length: {len(media['bus']) + 1}")
    assert _answer_before_body(served, longer, b"\xff\xd8").startswith(b"HTTP/1.1 422")
    # not the declared type: refused before it is read
    wrong = _head(declared, "video/mp4", auth, f"Content-Length: {len(media['bus'])}")
    assert _answer_before_body(served, wrong).startswith(b"HTTP/1.1 422")
    # a chunked body that runs past the declared size is cut off there
    chunk = b"\xff" * 65536
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(len(media["bus"]) // 65536 + 2))
    answer = _answer_before_body(
        served, _head(declared, "image/jpeg", auth, "Transfer-Encoding: chunked"), chunked
    )
    assert answer.startswith(b"HTTP/1.1 422"), answer[:200]
    event = api.client.get(f"/api/v1/events/{body['id']}", headers=api.h("officer")).json()
    assert event["upload_status"] == "awaiting_files"


def test_a_file_larger_than_any_upload_may_be_is_refused_in_the_metadata(
    api: Api, media: dict[str, bytes]
) -> None:
    body = event_body({"act.jpg": ("act", media["bus"])})
    body["files"][0]["size"] = 2**40
    before = _written(api)
    r = api.client.post("/api/v1/events", json=body, headers=api.h("device"))
    assert r.status_code == 422 and "could never be uploaded" in r.text
    assert _written(api) == before
