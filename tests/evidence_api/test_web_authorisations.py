"""The authorisations pages (issue 11): the legal team and admins record a RIPA authorisation or an overt
camera's signage/DPIA record, review, renew and cancel it with reasons, each audited and CSRF-checked;
officers read them and are refused the rest; the list shows where each stands; the expiry banner links
to the page where it can be renewed or cancelled."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from evidence_testutil import Api
from sqlalchemy import select
from web_testutil import sign_in, unlabelled_fields, unscoped_table_headers

from evidence_api.models import AuditEntry, Authorisation
from evidence_api.services.authorisations import add_months

UK = ZoneInfo("Europe/London")


def _uk_today() -> date:
    return datetime.now(UK).date()


def _approval_day(days_ago: int) -> date:
    """A day ``days_ago`` before today, moved earlier to the 28th or before, so its three months have a
    corresponding date (the end-of-month rule has its own tests in test_authorisation_days)."""
    day = _uk_today() - timedelta(days=days_ago)
    while day.day > 28:
        day -= timedelta(days=1)
    return day


def _ripa_form(csrf: str, urn: str, approved: date | None, **extra: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "kind": "ripa_directed_surveillance",
        "urn": urn,
        "title": "Back lane tipping",
        "subjects": "Persons depositing waste in the back lane",
        "authorising_officer_name": "Alex Morgan",
        "authorising_officer_grade": "Head of Environmental Services",
        "granted_on": (approved - timedelta(days=2)).isoformat() if approved else "",
        "offence_min_months": "60",
        "grounds": "Repeated fly-tipping, s.33 EPA 1990",
        "necessity": "Overt measures and patrols failed",
        "proportionality": "One camera on the lane only",
        "collateral_intrusion": "Passers-by; footage of them is not kept",
        "magistrate_court": "Westminster Magistrates' Court",
        "magistrate_decision": "approved" if approved else "pending",
        "magistrate_date": approved.isoformat() if approved else "",
        "review_date": (_uk_today() + timedelta(days=28)).isoformat(),
        "camera:cam-9": "on",
        "site:back-lane": "on",
    }
    return form | extra


def _authorisation(api: Api, urn: str) -> Authorisation:
    with api.sessionmaker() as session:
        auth: Authorisation = session.execute(
            select(Authorisation).where(Authorisation.urn == urn)
        ).scalar_one()
        session.expunge(auth)
        return auth


def _audited(api: Api, action: str, target: uuid.UUID) -> list[tuple[str, str]]:
    with api.sessionmaker() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.details)
            .where(AuditEntry.action == action, AuditEntry.target_id == str(target))
            .order_by(AuditEntry.seq)
        )
        return [(actor, details) for actor, details in rows]


def _create_via_api(api: Api, urn: str, approved: date, **extra: Any) -> uuid.UUID:
    body = {
        "kind": "ripa_directed_surveillance",
        "urn": urn,
        "title": "Lay-by watch",
        "offence_min_months": 60,
        "magistrate_decision": "approved",
        "magistrate_date": approved.isoformat(),
        "camera_keys": ["cam-9"],
    }
    r = api.client.post("/api/v1/authorisations", json=body | extra, headers=api.h("legal"))
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["id"])


def _listed(api: Api, query: str = "") -> set[str]:
    """The URNs in the list page's table (not the banner) for ``query``."""
    page = api.client.get(f"/authorisations{query}")
    assert page.status_code == 200, page.text
    return set(re.findall(r'<th scope="row"><a href="/authorisations/[0-9a-f-]+">([^<]+)</a>', page.text))


def _text(page: str) -> str:
    """The page's text with tags dropped and entities decoded, spaces collapsed."""
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    return re.sub(r" ([,.;:])", r"\1", text)


def test_legal_records_a_ripa_authorisation_that_is_active_to_the_end_of_the_uk_day(api: Api) -> None:
    csrf = sign_in(api, "legal")
    form_page = api.client.get("/authorisations/new?kind=ripa_directed_surveillance")
    assert form_page.status_code == 200 and form_page.headers["cache-control"] == "no-store"
    assert unlabelled_fields(form_page.text) == []
    for label in (
        "Authorising officer",
        "rank or grade",
        "Necessity",
        "Proportionality",
        "Collateral intrusion",
    ):
        assert label in form_page.text
    approved = _approval_day(10)

    created = api.client.post(
        "/authorisations", data=_ripa_form(csrf, "DS/2026/101", approved), follow_redirects=False
    )
    assert created.status_code == 303, created.text
    auth = _authorisation(api, "DS/2026/101")
    assert created.headers["location"] == f"/authorisations/{auth.id}?done=created"
    # three months beginning with the day of approval: to the end of the day before the corresponding
    # date, i.e. until that date's first moment in UK local time (GMT or BST)
    corresponding = add_months(approved, 3)
    assert auth.expires_at == datetime.combine(corresponding, time(0), tzinfo=UK).astimezone(UTC)
    assert auth.approved_at == datetime.combine(approved, time(0), tzinfo=UK).astimezone(UTC)
    assert auth.authorising_officer_grade == "Head of Environmental Services"
    assert _audited(api, "authorisation.create", auth.id)[0][0] == "user:legal"

    page = api.client.get(created.headers["location"])
    assert page.status_code == 200 and "Recorded." in page.text
    text = _text(page.text)
    last_day = corresponding - timedelta(days=1)
    assert f"to the end of {last_day:%A %d %b %Y}, UK time" in text
    assert '<span class="badge ok">active</span>' in page.text
    assert "cam-9 (covert)" in text and "Alex Morgan, Head of Environmental Services" in text
    assert unlabelled_fields(page.text) == [] and unscoped_table_headers(page.text) == 0

    listed = api.client.get("/authorisations")
    row = listed.text[listed.text.index(f'id="authorisation-{auth.id}"') :].split("</tr>")[0]
    assert "DS/2026/101" in row and '<span class="badge ok">active</span>' in row
    assert f"to the end of {last_day:%d %b %Y}" in row
    assert unlabelled_fields(listed.text) == [] and unscoped_table_headers(listed.text) == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_overt_record_takes_the_signage_and_dpia(api: Api) -> None:
    csrf = sign_in(api, "admin")
    form_page = api.client.get("/authorisations/new?kind=overt")
    assert "Signage" in form_page.text and "DPIA" in form_page.text and "Necessity" not in form_page.text
    r = api.client.post(
        "/authorisations",
        data={
            "csrf_token": csrf,
            "kind": "overt",
            "urn": "OV/2026/3",
            "title": "Lay-by signs",
            "signage_description": "Two A3 signs at the lay-by entrance",
            "dpia_reference": "DPIA-44",
            "site:lay-by-a123": "on",
        },
    )
    assert r.status_code == 200 and '<span class="badge ok">active</span>' in r.text
    auth = _authorisation(api, "OV/2026/3")
    assert auth.kind == "overt" and auth.dpia_reference == "DPIA-44" and auth.expires_at is None


def test_an_officer_reads_authorisations_but_cannot_create_review_renew_or_cancel(api: Api) -> None:
    auth_id = _create_via_api(api, "DS/2026/102", _approval_day(10))
    csrf = sign_in(api, "officer")
    assert api.client.get("/authorisations").status_code == 200
    page = api.client.get(f"/authorisations/{auth_id}")
    assert page.status_code == 200 and "DS/2026/102" in page.text
    assert "/cancel" not in page.text and "Record it" not in page.text  # no forms to act with
    refusal = "only the legal team or an admin changes authorisations"

    new = api.client.get("/authorisations/new")
    assert new.status_code == 403 and refusal in new.text and '<nav aria-label="Main">' in new.text
    created = api.client.post("/authorisations", data=_ripa_form(csrf, "DS/2026/666", _approval_day(3)))
    assert created.status_code == 403 and refusal in created.text
    for action, form in (
        ("cancel", {"reason": "no longer needed"}),
        ("renewals", {"magistrate_date": _uk_today().isoformat(), "notes": "still needed"}),
        ("reviews", {"notes": "reviewed"}),
    ):
        r = api.client.post(f"/authorisations/{auth_id}/{action}", data={**form, "csrf_token": csrf})
        assert r.status_code == 403 and refusal in r.text, action

    with api.sessionmaker() as session:
        auth = session.get(Authorisation, auth_id)
        assert auth is not None and auth.cancelled_at is None and auth.renewals == [] and auth.reviews == []
        assert (
            session.execute(select(Authorisation).where(Authorisation.urn == "DS/2026/666")).first() is None
        )
    assert _audited(api, "authorisation.cancel", auth_id) == []


def test_review_renew_and_cancel_each_need_reasons_and_are_audited(api: Api) -> None:
    approved = _approval_day(10)
    auth_id = _create_via_api(api, "DS/2026/103", approved)
    before = _authorisation(api, "DS/2026/103").expires_at
    assert before is not None
    csrf = sign_in(api, "admin")
    base = f"/authorisations/{auth_id}"

    next_review = _uk_today() + timedelta(days=28)
    reviewed = api.client.post(
        f"{base}/reviews",
        data={"notes": "Still necessary", "next_review_date": next_review.isoformat(), "csrf_token": csrf},
    )
    assert reviewed.status_code == 200 and "The review is recorded." in reviewed.text
    assert "Still necessary" in reviewed.text and f"{next_review:%d %b %Y}" in reviewed.text
    assert _authorisation(api, "DS/2026/103").review_date == next_review
    audited_review = _audited(api, "authorisation.review", auth_id)
    assert [a for a, _ in audited_review] == ["user:admin"] and next_review.isoformat() in audited_review[0][
        1
    ]

    no_reasons = api.client.post(
        f"{base}/renewals",
        data={"magistrate_date": _uk_today().isoformat(), "magistrate_court": "Leeds", "csrf_token": csrf},
    )
    assert no_reasons.status_code == 422 and "give the reasons for the renewal" in no_reasons.text
    assert 'value="Leeds"' in no_reasons.text  # what was typed is kept
    assert _authorisation(api, "DS/2026/103").expires_at == before

    renewed = api.client.post(
        f"{base}/renewals",
        data={
            "magistrate_date": _uk_today().isoformat(),
            "magistrate_court": "Leeds",
            "notes": "Tipping continues",
            "csrf_token": csrf,
        },
    )
    assert renewed.status_code == 200 and "Renewed for a further three months." in renewed.text
    after = _authorisation(api, "DS/2026/103").expires_at
    # the renewal's three months begin with the day it would have ended
    first_new_day = before.astimezone(UK).date()
    assert after == datetime.combine(add_months(first_new_day, 3), time(0), tzinfo=UK).astimezone(UTC)
    assert [a for a, _ in _audited(api, "authorisation.renew", auth_id)] == ["user:admin"]

    stale = api.client.post(f"{base}/cancel", data={"reason": "done"})
    assert stale.status_code == 400 and "security token" in stale.text
    empty = api.client.post(f"{base}/cancel", data={"reason": "  ", "csrf_token": csrf})
    assert empty.status_code == 422 and "give the reasons for cancelling" in empty.text
    assert _authorisation(api, "DS/2026/103").cancelled_at is None

    cancelled = api.client.post(
        f"{base}/cancel", data={"reason": "Offender identified; no longer needed", "csrf_token": csrf}
    )
    assert cancelled.status_code == 200 and '<span class="badge bad">cancelled</span>' in cancelled.text
    assert "Offender identified; no longer needed" in cancelled.text
    assert "/renewals" not in cancelled.text and "/cancel" not in cancelled.text  # nothing more to do
    auth = _authorisation(api, "DS/2026/103")
    assert (
        auth.cancelled_at is not None and auth.cancellation_reason == "Offender identified; no longer needed"
    )
    audited = _audited(api, "authorisation.cancel", auth_id)
    assert len(audited) == 1 and audited[0][0] == "user:admin"
    assert "Offender identified" in audited[0][1]
    assert _listed(api, "?status=cancelled") == {"DS/2026/103"}
    assert _listed(api, "?status=active") == set()

    again = api.client.post(f"{base}/cancel", data={"reason": "twice", "csrf_token": csrf})
    assert again.status_code == 409 and "already cancelled" in again.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_expiry_banner_links_to_where_it_is_renewed_or_cancelled(api: Api) -> None:
    # approved three months ago, less ten days: it ends within the 14 days' warning
    approved = add_months(_uk_today(), -3) + timedelta(days=10)
    auth_id = _create_via_api(api, "DS/2026/104", approved)
    _create_via_api(api, "DS/2026/105", _approval_day(10))  # in force, not expiring

    sign_in(api, "legal")
    queue = api.client.get("/review").text
    assert f'<a href="/authorisations/{auth_id}#act">Renew or cancel it</a>' in queue
    target = api.client.get(f"/authorisations/{auth_id}")
    assert 'id="act"' in target.text and f'action="/authorisations/{auth_id}/renewals"' in target.text
    assert '<span class="badge warn">expiring soon</span>' in target.text

    assert _listed(api, "?status=expiring") == {"DS/2026/104"}
    assert _listed(api, "?status=active") == {"DS/2026/104", "DS/2026/105"}  # in force: both
    assert _listed(api, "?status=expired") == set() == _listed(api, "?kind=overt")
    assert _listed(api, "?site=back-lane&kind=ripa_directed_surveillance") == {"DS/2026/104", "DS/2026/105"}
    assert _listed(api, "?site=lay-by-a123") == set()

    sign_in(api, "officer")
    officer_banner = api.client.get("/review").text
    assert f'<a href="/authorisations/{auth_id}">see DS/2026/104</a>' in officer_banner
    assert "Renew or cancel it</a>" not in officer_banner


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_refused_authorisation_is_shown_on_the_form_with_what_was_typed(api: Api) -> None:
    csrf = sign_in(api, "legal")
    _create_via_api(api, "DS/2026/106", _approval_day(10))
    duplicate = api.client.post("/authorisations", data=_ripa_form(csrf, "DS/2026/106", _approval_day(5)))
    assert duplicate.status_code == 409 and "already exists" in duplicate.text
    assert 'id="create-error"' in duplicate.text and "Westminster Magistrates" in duplicate.text
    assert 'name="camera:cam-9" checked' in duplicate.text

    no_date = _ripa_form(csrf, "DS/2026/107", None, magistrate_decision="approved")
    missing = api.client.post("/authorisations", data=no_date)
    assert missing.status_code == 422 and "needs the magistrate&#39;s approval date" in missing.text

    bad_date = api.client.post(
        "/authorisations", data=_ripa_form(csrf, "DS/2026/108", None, review_date="next week")
    )
    assert bad_date.status_code == 422 and "Next review date:" in bad_date.text
    assert 'value="next week"' in bad_date.text
    with api.sessionmaker() as session:
        urns = set(session.execute(select(Authorisation.urn)).scalars())
    assert urns == {"DS/2026/106"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_review_through_the_api_sets_when_the_next_is_due_as_the_page_does(api: Api) -> None:
    auth_id = _create_via_api(api, "DS/2026/109", _approval_day(10))
    due = _uk_today() + timedelta(days=30)
    r = api.client.post(
        f"/api/v1/authorisations/{auth_id}/reviews",
        json={"notes": "Reviewed by the SRO", "next_review_date": due.isoformat()},
        headers=api.h("legal"),
    )
    assert r.status_code == 201 and r.json()["review_date"] == due.isoformat()
    kept = api.client.post(
        f"/api/v1/authorisations/{auth_id}/reviews", json={"notes": "Interim"}, headers=api.h("legal")
    )
    assert kept.json()["review_date"] == due.isoformat()  # a review without a date leaves it as it was
