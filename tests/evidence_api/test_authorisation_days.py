"""RIPA periods end at the end of a UK civil day (GMT or BST), three months beginning with approval."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from evidence_testutil import Api
from sqlalchemy import select

from evidence_api import models
from evidence_api.services.authorisations import decide_at_capture, ripa_period_end, start_of_day


@pytest.mark.parametrize(
    ("approved", "ends_utc"),
    [
        # summer: three months beginning with 3 July end at the end of 2 October, BST (23:00 UTC)
        (date(2026, 7, 3), datetime(2026, 10, 2, 23, 0, tzinfo=UTC)),
        # winter: beginning with 15 November, ending at the end of 14 February, GMT
        (date(2026, 11, 15), datetime(2027, 2, 15, 0, 0, tzinfo=UTC)),
        # across the clocks going forward: beginning 1 January, ending at the end of 31 March (BST)
        (date(2027, 1, 1), datetime(2027, 3, 31, 23, 0, tzinfo=UTC)),
        # no corresponding date: beginning 30 November, ending at the end of 28 February
        (date(2026, 11, 30), datetime(2027, 3, 1, 0, 0, tzinfo=UTC)),
        # leap year: beginning 30 November 2027, ending at the end of 29 February 2028
        (date(2027, 11, 30), datetime(2028, 3, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_three_months_beginning_with_the_day_of_approval(approved: date, ends_utc: datetime) -> None:
    assert ripa_period_end(approved) == ends_utc


def test_the_day_of_approval_begins_at_uk_midnight() -> None:
    assert start_of_day(date(2026, 7, 3)) == datetime(2026, 7, 2, 23, 0, tzinfo=UTC)  # 00:00 BST
    assert start_of_day(date(2026, 12, 3)) == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # 00:00 GMT


def test_captures_either_side_of_the_last_uk_midnight(api: Api) -> None:
    r = api.client.post(
        "/api/v1/authorisations",
        json={
            "kind": "ripa_directed_surveillance",
            "urn": "DS/2026/077",
            "title": "Back lane tipping",
            "offence_min_months": 12,
            "magistrate_decision": "approved",
            "magistrate_date": "2026-07-03",
            "camera_keys": ["cam-9"],
        },
        headers=api.h("legal"),
    )
    assert r.status_code == 201, r.text
    with api.sessionmaker() as session:
        camera = session.execute(select(models.Camera).where(models.Camera.key == "cam-9")).scalar_one()

        def covered(at: datetime) -> bool:
            return decide_at_capture(session=session, camera=camera, at=at).authorised

        assert covered(datetime(2026, 7, 2, 23, 30, tzinfo=UTC))  # 00:30 BST on the day of approval
        assert not covered(datetime(2026, 7, 2, 22, 30, tzinfo=UTC))  # 23:30 BST the day before
        assert covered(datetime(2026, 10, 2, 22, 30, tzinfo=UTC))  # 23:30 BST on the last day
        # 00:30 BST on 3 October: after the period, although before 00:00 UTC (covered until now)
        assert not covered(datetime(2026, 10, 2, 23, 30, tzinfo=UTC))


def test_a_renewal_runs_three_months_beginning_with_the_day_it_would_have_ended() -> None:
    from evidence_api.services.authorisations import legal_day

    first_end = ripa_period_end(date(2026, 7, 3))  # end of 2 October (BST)
    assert legal_day(first_end) == date(2026, 10, 3)  # the renewal's first day
    # ending at the end of 2 January, GMT
    assert ripa_period_end(legal_day(first_end)) == datetime(2027, 1, 3, 0, 0, tzinfo=UTC)
