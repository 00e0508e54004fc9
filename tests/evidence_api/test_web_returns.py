"""The DEFRA WasteDataFlow return page (issue 11): a member of staff chooses a quarter, sees its confirmed
fly-tips counted by the DEFRA categories the officers recorded on the cases (and the enforcement actions
recorded in it), and downloads the CSV named for the quarter."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from evidence_testutil import Api
from web_testutil import case_with_an_event, sign_in, unlabelled_fields, unscoped_table_headers

from evidence_api.services.returns import quarter_bounds, quarter_of
from evidence_api.web.return_pages import last_complete_quarter

IN_Q2_2026 = datetime(2026, 8, 14, 10, 0, tzinfo=UTC)  # financial 2026/27 Q2 (July–September)
IN_Q1_2026 = datetime(2026, 5, 2, 23, 30, tzinfo=UTC)  # Q1 (April–June)


def _count(html: str, table: str, name: str) -> int:
    """The number beside ``name`` in the page's table ``table``."""
    body = html[html.index(f'id="{table}"') :]
    body = body[: body.index("</table>")]
    m = re.search(rf'<th scope="row">{re.escape(name)}</th><td class="num">(\d+)</td>', body)
    assert m, f"{name!r} not in {table}"
    return int(m.group(1))


def test_staff_see_the_quarters_counts_by_category_and_download_its_csv(
    api: Api, media: dict[str, bytes]
) -> None:
    assert api.client.get("/returns?year=2026&quarter=2", follow_redirects=False).status_code == 303
    csrf = sign_in(api)
    recorded = case_with_an_event(api, media, csrf, started_at=IN_Q2_2026)
    api.client.post(
        f"/review/cases/{recorded}/details",
        data={
            "size_band": "transit_van_load",
            "waste_type": "chemical_drums_oil_fuel",
            "land_type": "watercourse_bank",
            "action_investigation": "on",
            "action_fixed_penalty_notice": "on",
            "csrf_token": csrf,
        },
    )
    case_with_an_event(api, media, csrf, started_at=IN_Q2_2026, title="Not yet recorded")
    case_with_an_event(api, media, csrf, started_at=IN_Q1_2026, title="The quarter before")

    sign_in(api, "legal")  # every member of staff reads the return
    page = api.client.get("/returns", params={"year": "2026", "quarter": "2"})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert '<a href="/returns">DEFRA return</a>' in html  # in the navigation
    assert unlabelled_fields(html) == [] and unscoped_table_headers(html) == 0
    assert '<strong id="return-total">2</strong>' in html
    assert _count(html, "by-size", "Transit Van Load") == 1 and _count(html, "by-size", "not recorded") == 1
    assert _count(html, "by-size", "Single Black Bag") == 0  # every DEFRA category listed
    assert _count(html, "by-waste", "Chemical Drums, Oil, Fuel") == 1
    assert _count(html, "by-land", "Watercourse/Bank") == 1 and _count(html, "by-land", "Highway") == 1
    assert "<small>2026/27 Q2</small>" in html
    assert 'href="/returns/wastedataflow-2026-27-Q2.csv"' in html

    download = api.client.get("/returns/wastedataflow-2026-27-Q2.csv")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"] == 'attachment; filename="wastedataflow-2026-27-Q2.csv"'
    assert download.headers["cache-control"] == "no-store"
    assert list(csv.reader(io.StringIO(download.text))) == [
        ["land_type", "size_band", "waste_type", "incidents"],
        ["highway", "not_recorded", "not_recorded", "1"],
        ["watercourse_bank", "transit_van_load", "chemical_drums_oil_fuel", "1"],
    ]
    q1 = api.client.get("/returns/wastedataflow-2026-27-Q1.csv").text.splitlines()
    assert q1[1:] == ["highway,not_recorded,not_recorded,1"]
    assert api.client.get("/returns/wastedataflow-2026-28-Q1.csv").status_code == 422  # not a financial year

    # enforcement actions count in the quarter they were recorded (today's), not the incident's
    now = datetime.now(UTC)
    year, quarter = quarter_of(now)
    this_quarter = api.client.get("/returns", params={"year": year, "quarter": quarter})
    assert _count(this_quarter.text, "actions", "investigation") == 1
    assert _count(this_quarter.text, "actions", "fixed penalty notice") == 1
    assert _count(this_quarter.text, "actions", "prosecution") == 0
    if (year, quarter) != (2026, 2):
        assert _count(html, "actions", "investigation") == 0

    # opens on the last complete quarter
    default = last_complete_quarter(now)
    assert f"<small>{default.name}</small>" in api.client.get("/returns").text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_quarter_that_is_not_one_is_refused_on_the_page_with_the_reason(api: Api) -> None:
    sign_in(api)
    for params, reason in (
        ({"year": "twenty", "quarter": "3"}, "choose a year (such as 2026) and a quarter, Q1 to Q4"),
        ({"year": "2026", "quarter": "5"}, "quarter must be 1, 2, 3 or 4"),
        ({"year": "1999", "quarter": "1"}, "year must be between 2000 and 2100"),
    ):
        r = api.client.get("/returns", params=params)
        assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
        assert f'<p class="error" role="alert" id="quarter-error">{reason}</p>' in r.text
        assert 'id="quarter-form"' in r.text and "Download" not in r.text
    bad_csv = api.client.get("/returns/wastedataflow-2026-27-Q7.csv")
    assert bad_csv.status_code == 422 and "quarter must be 1, 2, 3 or 4" in bad_csv.text


def test_quarters_are_the_financial_years_by_uk_local_dates() -> None:
    """WasteDataFlow counts April to March; before, Q1 was January–March (calendar) with UTC bounds."""
    start, end = quarter_bounds(2026, 2)
    assert (start, end) == (
        datetime(2026, 6, 30, 23, 0, tzinfo=UTC),
        datetime(2026, 9, 30, 23, 0, tzinfo=UTC),
    )
    q4 = quarter_bounds(2026, 4)
    assert q4 == (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), datetime(2027, 3, 31, 23, 0, tzinfo=UTC))
    assert quarter_of(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == (2026, 2)  # 00:30 BST on 1 July
    assert quarter_of(datetime(2027, 2, 1, tzinfo=UTC)) == (2026, 4)
    assert last_complete_quarter(datetime(2026, 5, 1, tzinfo=UTC)).name == "2025/26 Q4"
