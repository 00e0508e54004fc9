"""Review → case, authorisations at capture, retention purge, and the admin CLI (both databases)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta

from evidence_testutil import Api, event_body, sha, upload
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_api.main import create_app
from evidence_api.models import Blob, Case, User
from evidence_api.services import audit, retention
from evidence_api.services.bundle_spec import officer_initials


def test_confirm_dismiss_and_case(api: Api, media: dict[str, bytes]) -> None:
    a = event_body({"act.jpg": ("act", media["bus"])})
    b = event_body({"act.jpg": ("act", media["zidane"])})
    upload(api, a, {"x": media["bus"]})
    upload(api, b, {"x": media["zidane"]})
    off = api.h("officer")
    r = api.client.post(f"/api/v1/events/{b['id']}/review", json={"action": "dismiss"}, headers=off)
    assert r.status_code == 422 and "reason" in r.text
    r = api.client.post(
        f"/api/v1/events/{b['id']}/review", json={"action": "dismiss", "reason": "fox"}, headers=off
    )
    assert r.json()["review_status"] == "dismissed"
    r = api.client.post("/api/v1/cases", json={"title": "A123", "event_ids": [b["id"]]}, headers=off)
    assert r.status_code == 409
    assert (
        api.client.post(f"/api/v1/events/{a['id']}/review", json={"action": "start"}, headers=off).status_code
        == 200
    )
    assert (
        api.client.post(
            f"/api/v1/events/{a['id']}/review", json={"action": "confirm"}, headers=off
        ).status_code
        == 200
    )
    r = api.client.post(
        "/api/v1/cases",
        json={
            "title": "A123 lay-by",
            "event_ids": [a["id"]],
            "size_band": "small_van_load",
            "land_type": "highway",
        },
        headers=off,
    )
    assert r.status_code == 201 and r.json()["event_ids"] == [a["id"]]
    assert r.json()["officer_in_charge"] == "officer"  # the person who opened it, not an audit actor id
    case_id = r.json()["id"]
    r = api.client.patch(
        f"/api/v1/cases/{case_id}", json={"outcome": "fixed_penalty_notice", "status": "closed"}, headers=off
    )
    assert r.json()["status"] == "closed" and r.json()["outcome"] == "fixed_penalty_notice"
    with api.sessionmaker() as s:
        audit.verify_chain(s)


def test_covert_capture_inside_and_outside_an_approved_authorisation(
    api: Api, media: dict[str, bytes]
) -> None:
    other = {"Authorization": f"Bearer {api.other_device_token}"}
    approved = date.today() - timedelta(days=80)
    r = api.client.post(
        "/api/v1/authorisations",
        json={
            "kind": "ripa_directed_surveillance",
            "urn": "DS/2026/001",
            "title": "Back lane tipping",
            "offence_min_months": 12,
            "magistrate_decision": "approved",
            "magistrate_date": approved.isoformat(),
            "camera_keys": ["cam-9"],
        },
        headers=api.h("legal"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "active" and r.json()["days_to_expiry"] <= 14
    inside = event_body({"act.jpg": ("act", media["bus"])}, camera="cam-9", site="back-lane")
    before = event_body(
        {"act.jpg": ("act", media["zidane"])},
        camera="cam-9",
        site="back-lane",
        started_at=datetime.now(UTC) - timedelta(days=100),
    )
    for body in (inside, before):
        assert api.client.post("/api/v1/events", json=body, headers=other).status_code == 201
    items = {i["id"]: i for i in api.client.get("/api/v1/events", headers=api.h("officer")).json()["items"]}
    assert items[inside["id"]]["authorised_at_capture"] is True
    assert items[inside["id"]]["authorisation_urn"] == "DS/2026/001"
    assert items[before["id"]]["authorised_at_capture"] is False
    warn = api.client.get("/api/v1/authorisations/expiring", headers=api.h("officer")).json()
    assert [w["urn"] for w in warn] == ["DS/2026/001"]
    r = api.client.post(
        f"/api/v1/events/{before['id']}/legal-override", json={"reasons": "short"}, headers=api.h("legal")
    )
    assert r.status_code == 422
    r = api.client.post(
        f"/api/v1/events/{before['id']}/legal-override",
        json={"reasons": "public interest outweighs; magistrate informed"},
        headers=api.h("legal"),
    )
    assert r.status_code == 201 and r.json()["legal_override"] is True


def test_purge_removes_old_unconfirmed_events_and_their_blobs(api: Api, media: dict[str, bytes]) -> None:
    body = event_body({"act.jpg": ("act", media["bus"])})
    upload(api, body, {"x": media["bus"]})
    store = api.client.app.state.store  # type: ignore[attr-defined]
    assert store.exists(sha(media["bus"]))
    with api.sessionmaker() as s:
        print_copy = s.get(Blob, sha(media["bus"])).preview_sha256
    assert print_copy and store.exists(print_copy)
    with api.sessionmaker() as s:
        assert retention.purge(session=s, store=store, retention_days=31, actor="test") == {
            "events_purged": 0,
            "blobs_deleted": 0,
        }
        later = datetime.now(UTC) + timedelta(days=32)
        out = retention.purge(session=s, store=store, retention_days=31, actor="test", now=later)
        s.commit()
        assert out == {"events_purged": 1, "blobs_deleted": 1}
        audit.verify_chain(s)
    assert not store.exists(sha(media["bus"]))
    assert not store.exists(print_copy)  # the print copy goes with its master
    assert api.client.get(f"/api/v1/events/{body['id']}", headers=api.h("officer")).status_code == 404


def test_admin_cli_creates_a_user_and_verifies_the_audit_chain(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = [sys.executable, "-m", "tipwatch.cli", "admin", "--db", db_url, "--data", str(tmp_path)]
    # the deployment's own secret (a PostgreSQL deployment refuses the published development one)
    env = {**os.environ, "TIPWATCH_SECRET_KEY": "flow-test-secret-0123456789"}
    r = subprocess.run(
        [*base, "user", "create", "alice", "--role", "officer", "--password-stdin"],
        input="a long password\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*base, "print-copies"], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and json.loads(r.stdout) == {"made": 0, "not_decodable": 0}, r.stderr
    r = subprocess.run([*base, "audit", "verify"], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and '"entries": 2' in r.stdout, r.stdout + r.stderr


def test_wastedataflow_return_and_hotspots(api: Api, media: dict[str, bytes]) -> None:
    off = api.h("officer")
    when = datetime(2026, 8, 14, 10, 0, tzinfo=UTC)  # financial 2026/27 Q2 (July–September)
    bodies = [
        event_body({"act.jpg": ("act", data)}, started_at=when) for data in (media["bus"], media["zidane"])
    ]
    for body, data in zip(bodies, (media["bus"], media["zidane"]), strict=True):
        upload(api, body, {"x": data})
        api.client.post(f"/api/v1/events/{body['id']}/review", json={"action": "confirm"}, headers=off)
    api.client.post(
        "/api/v1/cases",
        json={
            "title": "Van load",
            "event_ids": [bodies[0]["id"]],
            "size_band": "small_van_load",
            "waste_type": "construction_demolition_excavation",
            "land_type": "back_alleyway",
        },
        headers=off,
    )
    r = api.client.get("/api/v1/returns/wastedataflow", params={"year": 2026, "quarter": 2}, headers=off)
    assert r.status_code == 200
    assert r.json()["total_incidents"] == 2
    rows = {(x["land_type"], x["size_band"], x["waste_type"]): x["incidents"] for x in r.json()["rows"]}
    assert rows == {
        ("back_alleyway", "small_van_load", "construction_demolition_excavation"): 1,
        ("highway", "not_recorded", "not_recorded"): 1,
    }
    csv_text = api.client.get(
        "/api/v1/returns/wastedataflow", params={"year": 2026, "quarter": 2, "format": "csv"}, headers=off
    ).text
    assert csv_text.splitlines()[0] == "land_type,size_band,waste_type,incidents"
    assert "back_alleyway,small_van_load,construction_demolition_excavation,1" in csv_text
    q1 = api.client.get("/api/v1/returns/wastedataflow", params={"year": 2026, "quarter": 1}, headers=off)
    assert q1.json()["total_incidents"] == 0
    spots = {s["site_key"]: s for s in api.client.get("/api/v1/dashboard/hotspots", headers=off).json()}
    assert spots["lay-by-a123"]["confirmed"] == 2 and spots["back-lane"]["events"] == 0


def test_a_case_is_in_the_charge_of_the_officer_who_opened_it_by_name(
    api: Api, media: dict[str, bytes]
) -> None:
    with api.sessionmaker() as s:
        officer = s.execute(select(User).where(User.username == "officer")).scalar_one()
        officer.full_name = "Sam Green"
        s.commit()
    a = event_body({"act.jpg": ("act", media["bus"])})
    upload(api, a, {"x": media["bus"]})
    off = api.h("officer")
    api.client.post(f"/api/v1/events/{a['id']}/review", json={"action": "confirm"}, headers=off)
    r = api.client.post("/api/v1/cases", json={"title": "A123", "event_ids": [a["id"]]}, headers=off)
    assert r.status_code == 201 and r.json()["officer_in_charge"] == "Sam Green"
    assert officer_initials(r.json()["officer_in_charge"]) == "SG"  # exhibit references SG/1, SG/2, ...
    named = api.client.post(
        "/api/v1/cases", json={"title": "B", "event_ids": [], "officer_in_charge": "Jo Bloggs"}, headers=off
    )
    assert named.status_code == 201 and named.json()["officer_in_charge"] == "Jo Bloggs"


def test_the_api_records_an_export_it_was_stopped_in_as_failed_when_it_starts_again(api: Api) -> None:
    with api.sessionmaker() as s:
        case = Case(reference="FT/2026/0999", title="Lay-by", officer_in_charge="Sam Green")
        s.add(case)
        s.flush()
        ended = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
        )
        audit.append(
            s,
            actor="user:legal",
            action="bundle.export_started",
            target_type="case",
            target_id=str(case.id),
            details={
                "bundle_id": str(uuid.uuid4()),
                "signing_key": "k",
                "host": socket.gethostname(),
                "pid": int(ended.stdout),
            },
        )
        s.commit()
        case_id = str(case.id)
    restarted = create_app(api.settings)
    with TestClient(restarted) as client:  # start-up runs the check
        listed = client.get(f"/api/v1/cases/{case_id}/bundles", headers=api.h("legal")).json()
    restarted.state.engine.dispose()
    assert [b["status"] for b in listed] == ["failed"] and "interrupted" in listed[0]["error"]
