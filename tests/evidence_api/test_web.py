"""Review pages: sign-in with CSRF, queue badges, event stills and clip, confirm, case."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from evidence_testutil import Api, event_body, upload
from web_testutil import sign_in

from evidence_api.bundle.signing import KeyStore
from evidence_api.bundle.verify import verify_bundle


def test_review_pages_end_to_end(api: Api, media: dict[str, bytes]) -> None:
    ok = event_body({"act.jpg": ("act", media["bus"]), "clip.mp4": ("clip", media["clip"])})
    upload(api, ok, {"a": media["bus"], "c": media["clip"]})
    covert = event_body({"after.jpg": ("after", media["zidane"])}, camera="cam-9", site="back-lane")
    other = {"Authorization": f"Bearer {api.other_device_token}"}
    assert api.client.post("/api/v1/events", json=covert, headers=other).status_code == 201

    assert api.client.get("/review", follow_redirects=False).headers["location"] == "/login?next=%2Freview"
    csrf = sign_in(api)
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
    # a case id that is not one (a hand-made or stale form) is a clear refusal page, not a 500
    r = api.client.post(
        f"/review/events/{ok['id']}/case",
        data={"case_id": "zzz", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 422 and "is not a case id" in r.text and "text/html" in r.headers["content-type"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_device_tokens_cannot_use_the_pages(api: Api) -> None:
    api.client.cookies.set("tipwatch_session", api.tokens["device"])
    location = api.client.get("/review", follow_redirects=False).headers["location"]
    assert location == "/login?next=%2Freview&reason=expired"


def media_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_legal_team_exports_and_downloads_a_bundle_from_the_case_page(
    api: Api, media: dict[str, bytes], tmp_path: Path
) -> None:
    today = date.today()
    r = api.client.post(
        "/api/v1/authorisations",
        headers=api.h("admin"),
        json={
            "kind": "overt",
            "urn": "OVERT-WEB-1",
            "title": "Overt camera, A123 lay-by",
            "signage_description": "Two signs",
            "dpia_reference": "DPIA-1",
            "granted_on": (today - timedelta(days=30)).isoformat(),
            "camera_keys": ["cam-1"],
            "site_keys": ["lay-by-a123"],
        },
    )
    assert r.status_code == 201, r.text
    body = event_body({"act.jpg": ("act", media["bus"])})
    upload(api, body, {"a": media["bus"]})
    csrf = sign_in(api, "officer")
    # the queue's thumbnail is the reduced print copy, not the master
    thumb = api.client.get(f"/review/blobs/{media_sha(media['bus'])}?copy=print")
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"
    assert len(thumb.content) < len(media["bus"]) and f"{media_sha(media['bus'])}?copy=print" in (
        api.client.get("/review").text
    )
    api.client.post(f"/review/events/{body['id']}/decision", data={"action": "confirm", "csrf_token": csrf})
    page = api.client.post(
        f"/review/events/{body['id']}/case", data={"title": "Lay-by A123", "csrf_token": csrf}
    )
    case_url = str(page.url)
    assert "Evidence bundles" not in page.text  # officers do not export
    refused = api.client.post(f"{case_url}/bundles", data={"csrf_token": csrf, "print_stills": "on"})
    assert refused.status_code == 403 and "legal team" in refused.text

    KeyStore(api.settings.data_dir).generate()
    csrf = sign_in(api, "legal")
    page = api.client.post(
        f"{case_url}/bundles", data={"csrf_token": csrf, "print_stills": "on", "crop_vehicle": "on"}
    )
    assert page.status_code == 200 and "Evidence bundles" in page.text  # exported in the background
    deadline = time.monotonic() + 60
    while "being exported" in page.text and time.monotonic() < deadline:
        time.sleep(0.05)
        page = api.client.get(case_url)
    assert "export failed" not in page.text and "being exported" not in page.text
    (link,) = re.findall(r'href="(/api/v1/cases/[^"]+/bundles/[^"]+)" download', page.text)
    zip_bytes = api.client.get(link).content  # the API accepts the page's cookie session
    assert hashlib.sha256(zip_bytes).hexdigest() in page.text
    (tmp_path / "b.zip").write_bytes(zip_bytes)
    assert verify_bundle(tmp_path / "b.zip").ok


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_refusal_is_a_page_for_the_pages_and_json_for_the_api(api: Api) -> None:
    csrf = sign_in(api, "officer")
    missing = uuid.uuid4()
    page = api.client.get(f"/review/events/{missing}")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert f"event {missing} not found" in page.text and "Back to the review queue" in page.text
    gone = api.client.get(f"/review/blobs/{'0' * 64}")
    assert gone.status_code == 404 and "no stored file" in gone.text and "<html" in gone.text
    stale = api.client.post(f"/review/events/{missing}/decision", data={"action": "confirm"})
    assert stale.status_code == 400 and "security token" in stale.text and "<html" in stale.text
    unknown = api.client.post(
        f"/review/events/{missing}/decision", data={"action": "shrug", "csrf_token": csrf}
    )
    assert unknown.status_code == 400 and "unknown review action" in unknown.text
    same = api.client.get(f"/api/v1/events/{missing}", headers=api.h("officer"))
    assert same.status_code == 404 and same.json() == {"detail": f"event {missing} not found"}


def test_a_read_that_fits_no_uk_format_is_never_shown_as_the_plate(api: Api, media: dict[str, bytes]) -> None:
    """Issue 13: the minibus's "cero emisiones" paintwork, read as "CERO0" at 83 %, was in the queue's
    Plate column like a registration."""
    paint = event_body(
        {"act.jpg": ("act", media["bus"])},
        plate={"text": "CERO0", "confidence": 0.83, "valid_uk_format": False},
    )
    upload(api, paint, {"a": media["bus"]})
    plate = event_body({"after.jpg": ("after", media["zidane"])})  # plate AB12CDE, a UK format
    upload(api, plate, {"a": media["zidane"]})
    sign_in(api)

    queue = api.client.get("/review").text
    assert paint["id"] in queue and "AB12CDE" in queue
    assert "CERO0" not in queue
    page = api.client.get(f"/review/events/{paint['id']}").text
    plate_row = page[page.index("<dt>Plate</dt>") :].split("</dd>")[0]
    assert "unreadable/unverified text: CERO0 (83% OCR confidence), fits no UK format" in plate_row
    assert plate_row.startswith("<dt>Plate</dt><dd>—")
    valid = api.client.get(f"/review/events/{plate['id']}").text
    assert "<dt>Plate</dt><dd>AB12CDE (91%)</dd>" in valid
