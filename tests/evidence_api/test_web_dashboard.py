"""The dashboard (issue 11): confirmed fly-tips per site per month, the busiest hours and days in UK
local time, and confirmed against dismissed per site; each chart an SVG drawn by the server, with its
numbers in a table beside it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from evidence_testutil import Api, event_body, upload
from web_testutil import sign_in, unlabelled_fields, unscoped_table_headers

from evidence_api.services import dashboard

LONDON = ZoneInfo("Europe/London")


def _event(api: Api, media: dict[str, bytes], started_at: datetime, *, back_lane: bool = False) -> str:
    body = event_body({"act.jpg": ("act", media["bus"])}, started_at=started_at)
    role = "device"
    if back_lane:
        body = event_body(
            {"act.jpg": ("act", media["bus"])}, started_at=started_at, camera="cam-9", site="back-lane"
        )
        api.tokens["cam-9 device"] = api.other_device_token
        role = "cam-9 device"
    upload(api, body, {"a": media["bus"]}, token_role=role)
    return str(body["id"])


def _review(api: Api, event_id: str, action: str) -> None:
    r = api.client.post(
        f"/api/v1/events/{event_id}/review",
        json={"action": action, "reason": "test"},
        headers=api.h("officer"),
    )
    assert r.status_code == 200, r.text


def test_fly_tips_are_counted_by_uk_local_month_hour_and_day(api: Api, media: dict[str, bytes]) -> None:
    midnight_tip = _event(api, media, datetime(2026, 6, 30, 23, 30, tzinfo=UTC))  # Wed 1 Jul 00:30 BST
    winter_tip = _event(api, media, datetime(2026, 1, 15, 23, 30, tzinfo=UTC))  # Thu 15 Jan 23:30 GMT
    lane_tip = _event(api, media, datetime(2026, 8, 14, 10, 0, tzinfo=UTC), back_lane=True)  # Fri 11:00 BST
    passing = _event(api, media, datetime(2026, 7, 1, 12, 0, tzinfo=UTC), back_lane=True)
    waiting = _event(api, media, datetime(2026, 7, 2, 12, 0, tzinfo=UTC))
    for event_id in (midnight_tip, winter_tip, lane_tip):
        _review(api, event_id, "confirm")
    _review(api, passing, "dismiss")
    assert waiting

    with api.sessionmaker() as session:
        d = dashboard.dashboard(
            session=session, tz="Europe/London", now=datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
        )
    assert [f"{m:%b %Y}" for m in (d.months[0], d.months[-1])] == ["Dec 2025", "Nov 2026"]
    months = {
        s.site_key: {f"{m:%b}": n for m, n in zip(d.months, s.counts, strict=True) if n} for s in d.per_site
    }
    assert months == {"lay-by-a123": {"Jan": 1, "Jul": 1}, "back-lane": {"Aug": 1}}  # July's, not June's
    assert {h: n for h, n in enumerate(d.by_hour) if n} == {0: 1, 11: 1, 23: 1}
    assert {dashboard.DAYS[i]: n for i, n in enumerate(d.by_day) if n} == {
        "Wednesday": 1,
        "Thursday": 1,
        "Friday": 1,
    }
    review = {s.site_key: (s.confirmed, s.dismissed, s.awaiting_review) for s in d.review}
    assert review == {"lay-by-a123": (2, 0, 1), "back-lane": (1, 1, 0)}

    with api.sessionmaker() as session:  # a year on, these months have left the chart
        later = dashboard.dashboard(
            session=session, tz="Europe/London", now=datetime(2027, 12, 1, tzinfo=UTC)
        )
    assert later.incidents == 0 and sum(later.by_hour) == 0


def _cell(html: str, table: str, row: str) -> list[str]:
    body = html[html.index(f'id="{table}"') :]
    body = body[: body.index("</table>")]
    m = re.search(rf'<tr><th scope="row">{re.escape(row)}</th>(.*?)</tr>', body, re.S)
    assert m, f"{row!r} not in {table}"
    return re.findall(r'<td class="num">(\d+)</td>', m.group(1))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_dashboard_page_draws_each_chart_with_its_numbers_beside_it(
    api: Api, media: dict[str, bytes]
) -> None:
    started = datetime.now(UTC) - timedelta(days=1)
    _review(api, _event(api, media, started), "confirm")
    _review(api, _event(api, media, started, back_lane=True), "dismiss")
    assert api.client.get("/dashboard", follow_redirects=False).status_code == 303
    sign_in(api)
    page = api.client.get("/dashboard")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert '<a href="/dashboard">Dashboard</a>' in html
    assert unlabelled_fields(html) == [] and unscoped_table_headers(html) == 0
    for chart in ("chart-months", "chart-hours", "chart-days", "chart-review"):
        svg = re.search(rf'<figure class="chart" id="{chart}">.*?<svg (.*?)</svg>', html, re.S)
        assert (
            svg
            and 'role="img"' in svg.group(1)
            and f'aria-labelledby="{chart}-title {chart}-desc"' in svg.group(1)
        )
    local = started.astimezone(LONDON)
    assert '<strong id="incidents">1</strong>' in html
    assert _cell(html, "table-months", "lay-by-a123")[-2:] == ["1", "1"]  # this month, and the total
    assert _cell(html, "table-hours", f"{local.hour:02d}:00–{local.hour:02d}:59") == ["1"]
    assert _cell(html, "table-days", f"{local:%A}") == ["1"]
    assert _cell(html, "table-review", "back-lane") == ["0", "1", "0"]
    # the chart says the same as its table: one bar of 1 for this hour
    assert f"<title>{local.hour:02d}: 1</title>" in html
