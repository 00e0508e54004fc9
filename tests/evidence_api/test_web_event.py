"""The event page: a supervisor reopens a mistaken dismissal with a reason, the event's own audit trail,
and linked events shown from both ends (issue 11: a vehicle visit linked from a confirmed dumping
event was dismissed as "passing through" because its own page did not show the link)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from evidence_testutil import Api, event_body, upload
from sqlalchemy import select
from web_testutil import sign_in, unlabelled_fields, unscoped_table_headers

from evidence_api.models import AuditEntry, Event


def _visit_and_dumping(api: Api) -> tuple[str, str]:
    start = datetime.now(UTC) - timedelta(hours=2)
    visit = event_body({}, type="vehicle_visit", started_at=start)
    upload(api, visit, {})
    dumping = event_body({}, started_at=start + timedelta(minutes=1), linked_event_ids=[visit["id"]])
    upload(api, dumping, {})
    return str(visit["id"]), str(dumping["id"])


def test_a_supervisor_reopens_a_mistaken_dismissal_with_a_reason(api: Api) -> None:
    visit, dumping = _visit_and_dumping(api)
    csrf = sign_in(api, "officer")
    r = api.client.post(
        f"/review/events/{visit}/decision",
        data={"action": "dismiss", "reason": "passing through", "csrf_token": csrf},
    )
    page = r.text
    # the visit's own page shows the dumping event that links to it, and the dumping event's the visit
    assert f'href="/review/events/{dumping}">dumping' in page and "(links to this event)" in page
    assert f'href="/review/events/{visit}">vehicle visit' in api.client.get(f"/review/events/{dumping}").text
    # the actions come before the stills and the facts, and every field is labelled
    assert page.index("Reopen for review") < page.index('<dl class="facts">')
    assert not unlabelled_fields(page) and not unscoped_table_headers(page)

    # a reopening without a reason is refused, and changes nothing
    refused = api.client.post(f"/review/events/{visit}/reopen", data={"reason": " ", "csrf_token": csrf})
    assert refused.status_code == 422 and "needs a reason" in refused.text and "<html" in refused.text
    no_token = api.client.post(f"/review/events/{visit}/reopen", data={"reason": "a mistake"})
    assert no_token.status_code == 400 and "security token" in no_token.text

    legal = sign_in(api, "legal")
    forbidden = api.client.post(f"/review/events/{visit}/reopen", data={"reason": "x", "csrf_token": legal})
    assert forbidden.status_code == 403 and "only officers and supervisors reopen events" in forbidden.text
    assert "Reopen for review" not in api.client.get(f"/review/events/{visit}").text

    admin = sign_in(api, "admin")
    r = api.client.post(
        f"/review/events/{visit}/reopen",
        data={"reason": "the van left the waste: see the linked dumping", "csrf_token": admin},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with api.sessionmaker() as session:
        assert session.get(Event, uuid.UUID(visit)).review_status == "under_review"
        (entry,) = session.scalars(
            select(AuditEntry).where(AuditEntry.target_id == visit, AuditEntry.action == "event.reopen")
        )
        assert entry.actor == "user:admin"
        assert json.loads(entry.details) == {
            "reason": "the van left the waste: see the linked dumping",
            "was": "dismissed",
        }

    # the event's own trail: who viewed it, who dismissed and reopened it and why, in UK local time
    page = api.client.get(f"/review/events/{visit}").text
    trail = page[page.index("Audit trail") :]
    assert "user:officer</td><td>dismissed it</td><td>passing through" in trail
    assert "user:admin</td><td>reopened it</td><td>the van left the waste" in trail
    assert "user:legal</td><td>viewed the event page" in trail
    assert ("GMT" in trail or "BST" in trail) and trail.index("dismissed it") < trail.index("reopened it")
    assert dumping not in trail  # another event's entries are not this one's trail
    assert "Confirm fly-tip" in page  # back under review: it can be decided again
