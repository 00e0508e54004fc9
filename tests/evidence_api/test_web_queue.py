"""The review queue's filters and paging, as an officer uses them from the form (a GET address)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from evidence_testutil import Api, event_body, upload
from web_testutil import sign_in, unlabelled_fields, unscoped_table_headers


def _event(api: Api, *, started_at: datetime, other_camera: bool = False, **extra: Any) -> str:
    """An event without files; ``other_camera``: cam-9 at back-lane (the other device) instead of cam-1
    at the A123 lay-by."""
    if other_camera:
        body = event_body({}, camera="cam-9", site="back-lane", started_at=started_at, **extra)
        other = {"Authorization": f"Bearer {api.other_device_token}"}
        r = api.client.post("/api/v1/events", json=body, headers=other)
        assert r.status_code == 201, r.text
    else:
        body = event_body({}, started_at=started_at, **extra)
        upload(api, body, {})
    return str(body["id"])


def _shown(html: str) -> set[str]:
    return set(re.findall(r'<tr data-event="([0-9a-f-]+)"', html))


def test_each_filter_narrows_the_queue_and_the_form_keeps_it(api: Api) -> None:
    summer = datetime(2026, 7, 14, 22, 30, tzinfo=UTC)  # 14 Jul 23:30 BST
    late = _event(api, started_at=summer)
    after_midnight = _event(api, started_at=summer + timedelta(hours=1))  # 15 Jul 00:30 BST
    visit = _event(
        api,
        started_at=summer - timedelta(days=3),
        type="vehicle_visit",
        plate={"text": "XY65ABC", "confidence": 0.9, "valid_uk_format": True},
    )
    paint = _event(
        api,
        started_at=summer - timedelta(days=2),
        plate={"text": "XY65ABC", "confidence": 0.6, "valid_uk_format": False},
    )
    lane = _event(api, started_at=summer - timedelta(days=1), other_camera=True)
    winter = _event(api, started_at=datetime(2026, 1, 10, 23, 30, tzinfo=UTC))  # 10 Jan 23:30 GMT
    everything = {late, after_midnight, visit, paint, lane, winter}
    csrf = sign_in(api)
    dismissed = api.client.post(
        f"/review/events/{winter}/decision",
        data={"action": "dismiss", "reason": "a fox", "csrf_token": csrf},
    )
    assert dismissed.status_code == 200

    page = api.client.get("/review").text
    assert _shown(page) == everything - {winter}  # the open queue leaves out decided events
    assert not unlabelled_fields(page) and not unscoped_table_headers(page)

    def shown(**params: str) -> set[str]:
        r = api.client.get("/review", params=params)
        assert r.status_code == 200, r.text
        return _shown(r.text)

    assert shown(status="all") == everything
    assert shown(status="dismissed") == {winter}
    assert shown(status="all", site="back-lane") == {lane}
    assert shown(status="all", camera="cam-1") == everything - {lane}
    assert shown(status="all", type="vehicle_visit") == {visit}
    # UK local days: 23:30 BST on the 14th is the 14th, 00:30 BST on the 15th (23:30 UTC) the 15th
    assert shown(status="all", **{"from": "2026-07-15", "to": "2026-07-15"}) == {after_midnight}
    assert shown(status="all", **{"from": "2026-07-14", "to": "2026-07-14"}) == {late}
    assert shown(status="all", to="2026-01-10") == {winter}
    assert shown(status="all", **{"from": "2026-01-11"}) == everything - {winter}
    # a plate matches only a read that fits a UK format; spaces and case do not matter
    assert shown(status="all", plate="xy65 abc") == {visit}
    assert shown(status="all", plate="AB12CDE") == {late, after_midnight, lane, winter}

    # the filters stay in the address and in the form, so a filtered view can be bookmarked
    r = api.client.get("/review", params={"site": "lay-by-a123", "type": "dumping", "plate": "AB12CDE"})
    assert _shown(r.text) == {late, after_midnight}
    assert '<option value="lay-by-a123" selected>' in r.text and 'value="AB12CDE"' in r.text
    assert '<option value="dumping" selected>' in r.text
    # the unverified read is marked as such in the queue, never shown as the plate
    row = page.split(f'<tr data-event="{paint}">')[1].split("</tr>")[0]
    assert "unverified read" in row and "XY65ABC" not in row

    bad = api.client.get("/review", params={"from": "14/07/2026"})
    assert bad.status_code == 422 and "is not a date" in bad.text and "<html" in bad.text
    backwards = api.client.get("/review", params={"from": "2026-07-15", "to": "2026-07-14"})
    assert backwards.status_code == 422 and "is before" in backwards.text


def test_the_queue_pages_fifty_at_a_time_newest_first(api: Api) -> None:
    start = datetime.now(UTC) - timedelta(days=1)
    ids = [_event(api, started_at=start + timedelta(minutes=i)) for i in range(52)]
    sign_in(api)
    first = api.client.get("/review", params={"site": "lay-by-a123"}).text
    assert "Showing 1–50 of 52" in first and "Page 1 of 2" in first
    order = re.findall(r'<tr data-event="([0-9a-f-]+)"', first)
    assert order == ids[::-1][:50]  # newest first
    (older,) = re.findall(r'<a rel="next" href="([^"]+)"', first)
    older = older.replace("&amp;", "&")
    assert "site=lay-by-a123" in older and "page=2" in older
    second = api.client.get(older).text
    assert re.findall(r'<tr data-event="([0-9a-f-]+)"', second) == ids[1::-1]
    assert "Showing 51–52 of 52" in second and 'rel="prev"' in second and 'rel="next"' not in second


def test_keyboard_decisions_come_back_to_the_filtered_queue_and_the_queue_works_without_them(
    api: Api,
) -> None:
    event = _event(api, started_at=datetime.now(UTC) - timedelta(hours=1))
    csrf = sign_in(api)
    page = api.client.get("/review", params={"site": "lay-by-a123"}).text
    assert '<script src="/static/queue-keys.js" defer></script>' in page
    assert f'<a class="open-event" href="/review/events/{event}">' in page  # a plain link without script
    (back,) = re.findall(r'<input type="hidden" name="next" value="([^"]+)">', page)
    back = back.replace("&amp;", "&")
    script = api.client.get("/static/queue-keys.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert 'case "j"' in script.text and 'case "d"' in script.text and "prompt(" in script.text

    # what the script posts for "d" with a reason typed, then for "c": back to the same view
    r = api.client.post(
        f"/review/events/{event}/decision",
        data={"action": "dismiss", "reason": "", "next": back, "csrf_token": csrf},
    )
    assert r.status_code == 422 and "needs a reason" in r.text
    r = api.client.post(
        f"/review/events/{event}/decision",
        data={"action": "confirm", "reason": "", "next": back, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/review?site=lay-by-a123&status=open"
    assert event not in api.client.get(r.headers["location"]).text  # decided: off the open queue
    # a "next" that leaves the site goes to the queue instead
    other = _event(api, started_at=datetime.now(UTC) - timedelta(hours=2))
    r = api.client.post(
        f"/review/events/{other}/decision",
        data={"action": "confirm", "next": "//evil.example/", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/review"

    sign_in(api, "legal")  # the legal team does not decide: no quick-decision form for them
    assert 'id="quick-decision"' not in api.client.get("/review").text
