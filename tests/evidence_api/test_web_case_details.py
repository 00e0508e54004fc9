"""The case page's DEFRA details (issue 11): an officer records the size, waste type, land type and
enforcement actions, the suspect vehicle, notes and outcome, and closes the case; each change audited and
CSRF-checked; the quarter's WasteDataFlow return then counts the case's categories instead of
``not_recorded``.  Only officers and admins change a case; a category that is not DEFRA's is refused on
the form with the reason, and nothing is saved."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from evidence_testutil import Api
from sqlalchemy import select
from web_testutil import case_with_an_event, sign_in, unlabelled_fields

from evidence_api import defra
from evidence_api.models import AuditEntry, Case

IN_JULY_SEPT_2026 = datetime(2026, 8, 14, 10, 0, tzinfo=UTC)  # financial 2026/27 Q2 (July–September)
# The categories as issue 11 lists them (DEFRA's WasteDataFlow fly-tipping form), spelling included.
ISSUE_SIZES = (
    "Single Black Bag, Single Item, Car Boot or Less, Small Van Load, Transit Van Load, Tipper Lorry Load, "
    "Significant/Multi Loads"
)
ISSUE_LAND = (
    "Highway, Footpath/Bridleway, Back Alleyway, Railway, Council Land, Agricultural, Private/Residential, "
    "Commercial/Industrial, Watercourse/Bank, Other (unidentified)"
)
ISSUE_WASTE = (
    "Animal Carcass; Green; Vehicle Parts; White Goods; Other Electrical; Tyres; Asbestos; Clinical; "
    "Constr/Demol/Excav; Black Bags \u2013 Commercial; Black Bags \u2013 Household; "
    "Chemical Drums, Oil, Fuel; Other Household Waste; Other Commercial Waste; Other (unidentified)"
)
ISSUE_ACTIONS = (
    "investigation, warning letter, fixed penalty notice, statutory notice, duty of care inspection, "
    "formal caution, injunction, stop and search, vehicle seized, prosecution"
)


def test_the_categories_are_defras_as_the_issue_lists_them() -> None:
    assert list(defra.SIZE_BANDS.values()) == ISSUE_SIZES.split(", ")
    assert list(defra.LAND_TYPES.values()) == ISSUE_LAND.split(", ")
    assert list(defra.WASTE_TYPES.values()) == ISSUE_WASTE.split("; ")
    assert list(defra.ENFORCEMENT_ACTIONS.values()) == ISSUE_ACTIONS.split(", ")


def _case_with_an_event(api: Api, media: dict[str, bytes], csrf: str) -> str:
    return case_with_an_event(api, media, csrf, started_at=IN_JULY_SEPT_2026)


def _return_rows(api: Api) -> dict[tuple[str, str, str], int]:
    r = api.client.get(
        "/api/v1/returns/wastedataflow", params={"year": 2026, "quarter": 2}, headers=api.h("officer")
    )
    assert r.status_code == 200, r.text
    return {(x["land_type"], x["size_band"], x["waste_type"]): x["incidents"] for x in r.json()["rows"]}


def _case(api: Api, case_id: str) -> Case:
    with api.sessionmaker() as session:
        case = session.get(Case, uuid.UUID(case_id))
        assert case is not None
        _ = case.actions
        session.expunge(case)
        return case


def _audited(api: Api, case_id: str) -> list[tuple[str, str]]:
    with api.sessionmaker() as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.actor)
            .where(AuditEntry.target_id == case_id)
            .order_by(AuditEntry.seq)
        )
        return [(action, actor) for action, actor in rows]


DETAILS: dict[str, Any] = {
    "size_band": "small_van_load",
    "waste_type": "white_goods",
    "land_type": "back_alleyway",
    "action_investigation": "on",
    "action_warning_letter": "on",
    "suspect_registration": "ab12  cde",
    "suspect_vehicle": "white Ford Transit, roof rack",
    "notes": "Seen on camera at 10:02.\nOwner traced through DVLA.",
    "outcome": "warning_letter",
}


def test_an_officer_records_the_defra_details_and_the_quarters_return_counts_them(
    api: Api, media: dict[str, bytes]
) -> None:
    csrf = sign_in(api)
    case_id = _case_with_an_event(api, media, csrf)
    assert _return_rows(api) == {("highway", "not_recorded", "not_recorded"): 1}  # before: nothing to count

    page = api.client.get(f"/review/cases/{case_id}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert 'id="details-form"' in page.text and unlabelled_fields(page.text) == []
    for name in (*defra.SIZE_BANDS.values(), *defra.ENFORCEMENT_ACTIONS.values()):
        assert name in page.text

    without_csrf = api.client.post(f"/review/cases/{case_id}/details", data=DETAILS)
    assert without_csrf.status_code == 400 and _case(api, case_id).size_band is None

    saved = api.client.post(
        f"/review/cases/{case_id}/details", data={**DETAILS, "csrf_token": csrf}, follow_redirects=False
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved#details")
    shown = api.client.get(saved.headers["location"]).text
    assert "The case&#39;s details are saved." in shown
    facts = shown[shown.index('id="case-facts"') : shown.index("</dl>")]
    for words in ("Small Van Load", "White Goods", "Back Alleyway", "investigation, warning letter"):
        assert words in facts
    assert "<strong>AB12 CDE</strong>, white Ford Transit, roof rack" in facts
    case = _case(api, case_id)
    assert (case.size_band, case.waste_type, case.land_type, case.outcome) == (
        "small_van_load",
        "white_goods",
        "back_alleyway",
        "warning_letter",
    )
    assert sorted(a.action for a in case.actions) == ["investigation", "warning_letter"]
    assert case.suspect_registration == "AB12 CDE" and case.notes.startswith("Seen on camera")

    assert _return_rows(api) == {("back_alleyway", "small_van_load", "white_goods"): 1}
    csv_text = api.client.get(
        "/api/v1/returns/wastedataflow",
        params={"year": 2026, "quarter": 2, "format": "csv"},
        headers=api.h("officer"),
    ).text
    assert "back_alleyway,small_van_load,white_goods,1" in csv_text and "not_recorded" not in csv_text

    # one action unticked: removed; the others kept
    api.client.post(
        f"/review/cases/{case_id}/details",
        data={**{k: v for k, v in DETAILS.items() if k != "action_investigation"}, "csrf_token": csrf},
    )
    assert [a.action for a in _case(api, case_id).actions] == ["warning_letter"]

    closed = api.client.post(
        f"/review/cases/{case_id}/status",
        data={"status": "closed", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert closed.status_code == 303
    closed_page = api.client.get(closed.headers["location"]).text
    assert "The case is closed." in closed_page and 'id="details-form"' not in closed_page
    assert "Reopen the case" in closed_page
    assert _case(api, case_id).closed_at is not None
    late = api.client.post(f"/review/cases/{case_id}/details", data={**DETAILS, "csrf_token": csrf})
    assert late.status_code == 409 and "is closed: reopen it to change its details" in late.text
    assert [a.action for a in _case(api, case_id).actions] == ["warning_letter"]  # unchanged

    assert _audited(api, case_id) == [
        ("case.create", "user:officer"),
        ("case.update", "user:officer"),
        ("case.update", "user:officer"),
        ("case.close", "user:officer"),
    ]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_legal_user_reads_the_case_but_cannot_change_it(api: Api, media: dict[str, bytes]) -> None:
    case_id = _case_with_an_event(api, media, sign_in(api))
    csrf = sign_in(api, "legal")
    page = api.client.get(f"/review/cases/{case_id}")
    assert page.status_code == 200 and "Fridge" in page.text
    assert 'id="details-form"' not in page.text and "Close the case" not in page.text
    for path, data in (("details", DETAILS), ("status", {"status": "closed"})):
        refused = api.client.post(f"/review/cases/{case_id}/{path}", data={**data, "csrf_token": csrf})
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
        assert "only officers manage cases" in refused.text and '<nav aria-label="Main">' in refused.text
    case = _case(api, case_id)
    assert case.size_band is None and case.status == "open" and case.actions == []
    assert [action for action, _ in _audited(api, case_id)] == ["case.create"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_category_that_is_not_defras_is_refused_on_the_form_with_the_reason(
    api: Api, media: dict[str, bytes]
) -> None:
    csrf = sign_in(api)
    case_id = _case_with_an_event(api, media, csrf)
    wrong = {
        **DETAILS,
        "size_band": "half_a_lorry",
        "action_tickled": "on",
        "suspect_registration": "AB12-CDE!",
        "csrf_token": csrf,
    }
    refused = api.client.post(f"/review/cases/{case_id}/details", data=wrong)
    assert refused.status_code == 422 and refused.headers["cache-control"] == "no-store"
    error = re.search(r'<p class="error" role="alert" id="details-error">(.*?)</p>', refused.text, re.S)
    assert error, refused.text
    for where in ("Size:", "Enforcement actions taken:", "Registration:"):
        assert where in error.group(1)
    assert 'aria-describedby="details-error"' in refused.text
    # what was typed is still there to correct
    assert "white Ford Transit, roof rack" in refused.text and "AB12-CDE!" in refused.text
    assert '<option value="white_goods" selected>' in refused.text
    case = _case(api, case_id)
    assert case.size_band is None and case.waste_type is None and case.actions == [] and case.notes == ""
    assert [action for action, _ in _audited(api, case_id)] == ["case.create"]

    # a case is closed only with its outcome recorded
    not_yet = api.client.post(
        f"/review/cases/{case_id}/status", data={"status": "closed", "csrf_token": csrf}
    )
    assert not_yet.status_code == 409
    said = re.search(
        r'id="status-error">record the outcome of case TW-\d{4}-\d{5} before closing it<', not_yet.text
    )
    assert said, not_yet.text
    assert _case(api, case_id).status == "open"
