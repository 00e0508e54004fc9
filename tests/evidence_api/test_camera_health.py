"""The camera health record: an edge box reports each camera's state, staff see warnings a person acts
on (silent, a shifted view, a full disk, a wrong clock), and only the camera's own device may report.

Runs on SQLite and on the real PostgreSQL (the ``db_url`` fixture)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from evidence_testutil import Api, event_body
from sqlalchemy import func, select

from evidence_api.models import AuditEntry, Camera, CameraHealthPeriod


def report(status: str = "ok", **changes: Any) -> dict[str, Any]:
    """A health record as ``detector/sinks/health.py`` writes it, for cam-1."""
    now = datetime.now(UTC).isoformat()
    body: dict[str, Any] = {
        "status": status,
        "since": now,
        "updated_at": now,
        "camera_id": "cam-1",
        "free_bytes": 50_000_000_000,
        "reserve_bytes": 209_715_200,
        "problems": [],
        "events_not_spooled": [],
        "not_spooled": 0,
        "events_reduced": [],
        "pending": 0,
        "incomplete": 0,
        "last_frame_at": now,
        "view_moves": 0,
        "view_moved_at": None,
        "clock_offset_s": 0.4,
    }
    body.update(changes)
    return body


def post(api: Api, body: dict[str, Any], camera: str = "cam-1", token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else api.h("device")
    return api.client.post(f"/api/v1/cameras/{camera}/health", json=body, headers=headers)


def camera_row(api: Api, key: str = "cam-1") -> dict[str, Any]:
    cameras = api.client.get("/api/v1/cameras", headers=api.h("officer")).json()
    return next(c for c in cameras if c["key"] == key)


def audit_count(api: Api) -> int:
    with api.sessionmaker() as session:
        return int(session.execute(select(func.count()).select_from(AuditEntry)).scalar_one())


def _age_periods(api: Api, *, minutes: float) -> None:
    """As if the periods so far had begun ``minutes`` earlier (a status lasting under a minute is
    overwritten by the next)."""
    with api.sessionmaker() as session:
        for period in session.execute(select(CameraHealthPeriod)).scalars():
            period.first_received_at -= timedelta(minutes=minutes)
        session.commit()


def test_heartbeats_extend_one_period_and_a_new_status_opens_the_next(api: Api) -> None:
    before = camera_row(api)
    assert before["health_status"] is None and before["health_reported_at"] is None
    audits = audit_count(api)
    for _ in range(3):
        assert post(api, report("ok")).status_code == 200, "heartbeat"
    assert audit_count(api) == audits, "a status is audited once it has stood a minute, not per heartbeat"
    _age_periods(api, minutes=5)
    problem = "disk low: 104.9 MB free, below the 209.7 MB reserve; free space on the box"
    r = post(api, report("disk_low", free_bytes=104_900_000, problems=[problem]))
    assert r.status_code == 200, r.text
    health = r.json()
    assert [p["status"] for p in health["periods"]] == ["disk_low", "ok"]
    assert [p["reports"] for p in health["periods"]] == [1, 3]
    assert health["periods"][0]["problems"] == [problem]
    assert health["report"]["free_bytes"] == 104_900_000
    assert audit_count(api) == audits + 1, "ok stood 5 min: audited as disk_low began"
    cam = camera_row(api)
    assert cam["health_status"] == "disk_low" and cam["last_seen_at"] is not None
    assert cam["warnings"] == [problem] and cam["silent"] is False
    # the officer's view is the same record
    seen = api.client.get("/api/v1/cameras/cam-1/health", headers=api.h("officer")).json()
    assert seen["periods"] == health["periods"]
    # back to ok: no warning left
    _age_periods(api, minutes=5)
    post(api, report("ok"))
    assert camera_row(api)["warnings"] == []


def test_a_shifted_view_and_a_wrong_clock_are_warnings(api: Api) -> None:
    moved = "the picture shifted (a knock, wind, a turn) 1 time(s), latest at 2026-11-30T10:00:00.000+00:00"
    r = post(
        api,
        report(
            "view_moved",
            problems=[moved],
            view_moves=1,
            view_moved_at="2026-11-30T10:00:00+00:00",
            clock_offset_s=-95.0,
        ),
    )
    assert r.status_code == 200, r.text
    warnings = camera_row(api)["warnings"]
    assert moved in warnings
    assert any("95 s behind" in w and "NTP" in w for w in warnings), warnings


def test_a_box_that_reports_but_has_no_picture_is_warned_about(api: Api) -> None:
    """Before: a box whose stream was down (or whose worker had stopped) but whose uploader kept
    reporting was shown as healthy; ``tipwatch upload`` from cron re-sent a stale record the same way."""
    hours_ago = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    post(api, report("ok", frames_processed_at=hours_ago, clock_offset_s=0.0))
    cam = camera_row(api)
    assert cam["silent"] is False, "the box itself is heard from"
    assert any(w.startswith("no picture for 3 h") for w in cam["warnings"]), cam["warnings"]
    # the box's clock runs 2 h fast: frames processed "2 h ago" by its clock are recent by the server's
    post(api, report("ok", frames_processed_at=datetime.now(UTC).isoformat(), clock_offset_s=0.0))
    assert camera_row(api)["warnings"] == []
    fast = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    post(api, report("ok", frames_processed_at=fast, updated_at=fast, clock_offset_s=7200.0))
    warnings = camera_row(api)["warnings"]
    assert not any(w.startswith("no picture") for w in warnings), warnings
    assert any("7200 s ahead of" in w for w in warnings), warnings


def test_a_worker_that_never_got_a_frame_since_it_started_is_warned_about(api: Api) -> None:
    """Before: a camera down when the worker started (a reboot, a restart loop, a new install) had no
    frame time at all, and the API showed it healthy for ever."""
    started = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    post(api, report("ok", frames_processed_at=None, worker_started_at=started, clock_offset_s=0.0))
    warnings = camera_row(api)["warnings"]
    assert any(w.startswith("no picture for 3 h") and "since the worker started" in w for w in warnings)
    future = (datetime.now(UTC) + timedelta(days=3650)).isoformat()
    post(api, report("ok", frames_processed_at=future, clock_offset_s=0.0))
    assert any("lies in the future" in w for w in camera_row(api)["warnings"])


def test_a_box_whose_clock_was_never_set_is_heard_and_warned_about(api: Api) -> None:
    """Before: its report was refused (times before 2000), so a box online and reporting every few
    seconds was shown as "never heard from"."""
    epoch = "1970-01-01T00:05:00+00:00"
    r = post(
        api,
        report("ok", since=epoch, updated_at=epoch, last_frame_at=epoch, clock_held=3, clock_offset_s=None),
    )
    assert r.status_code == 200, r.text
    warnings = camera_row(api)["warnings"]
    assert any("clock is not set (it reads 1970-01-01)" in w for w in warnings), warnings
    assert any(w.startswith("3 event(s) held on the box") for w in warnings), warnings


def test_a_record_written_in_the_servers_future_shows_a_fast_clock_without_a_measured_offset(
    api: Api,
) -> None:
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    post(api, report("ok", updated_at=ahead, since=ahead, clock_offset_s=None))
    assert any("at least 3" in w and "ahead of" in w for w in camera_row(api)["warnings"])


def test_a_flapping_status_makes_at_most_one_period_and_audit_entry_a_minute(api: Api) -> None:
    """Before: each flip opened a period and an audit entry with every problem in full: 300 flips of a
    hostile token grew the database by 61 MB and the hash-chained (unpurgeable) audit log by 30 MB."""
    audits = audit_count(api)
    problems = ["p" * 500] * 20
    for i in range(30):
        status = "disk_low" if i % 2 else "attention"
        assert post(api, report(status, problems=problems)).status_code == 200
    assert audit_count(api) == audits, "nothing has stood a minute yet"
    _age_periods(api, minutes=2)
    post(api, report("disk_low", problems=problems))  # the status that stands
    with api.sessionmaker() as session:
        periods = list(session.execute(select(CameraHealthPeriod)).scalars())
        entries = list(
            session.execute(select(AuditEntry).where(AuditEntry.action == "camera.health")).scalars()
        )
    assert len(periods) == 1 and periods[0].reports == 31 and periods[0].status == "disk_low"
    assert audit_count(api) == audits + 1
    (entry,) = entries
    assert len(entry.details) < 2_000, "the audit entry names a few problems, shortened"


def test_the_status_that_finally_stands_is_audited_with_the_one_before(api: Api) -> None:
    """Before: disk_low followed within a minute by not_spooled (the usual order as a disk fills)
    audited disk_low and never not_spooled, however long it lasted."""
    post(api, report("attention", problems=["1 entry in incomplete/"]))
    _age_periods(api, minutes=5)
    post(api, report("disk_low", problems=["disk low"]))  # attention stood: audited now
    post(api, report("not_spooled", problems=["1 event NOT spooled"]))  # replaces disk_low at once
    _age_periods(api, minutes=2)
    post(api, report("not_spooled", problems=["1 event NOT spooled"]))  # it has stood a minute
    with api.sessionmaker() as session:
        rows = session.execute(
            select(AuditEntry).where(AuditEntry.action == "camera.health").order_by(AuditEntry.seq)
        ).scalars()
        audited = [json.loads(e.details) for e in rows]
    assert [(d["status"], d["previous"]) for d in audited] == [
        ("attention", None),
        ("not_spooled", "attention"),
    ]


def test_a_camera_not_heard_from_is_silent(api: Api) -> None:
    post(api, report("ok"))
    assert camera_row(api)["silent"] is False
    with api.sessionmaker() as session:
        camera = session.execute(select(Camera).where(Camera.key == "cam-1")).scalar_one()
        camera.last_seen_at = datetime.now(UTC) - timedelta(hours=3)
        session.commit()
    cam = camera_row(api)
    assert cam["silent"] is True
    assert cam["warnings"][0].startswith("silent for 3 h"), cam["warnings"]


def test_only_the_cameras_own_device_may_report(api: Api) -> None:
    refused = post(api, report("ok"), token=api.other_device_token)
    assert refused.status_code == 403, refused.text
    assert post(api, report("ok", camera_id="cam-9"), camera="cam-9").status_code == 403
    unknown = post(api, report("ok", camera_id="cam-nowhere"), camera="cam-nowhere")
    assert unknown.status_code == 403, "a device learns nothing about cameras that are not its own"
    mismatch = post(api, report("ok", camera_id="cam-9"))
    assert mismatch.status_code == 422 and "not 'cam-1'" in mismatch.text
    assert camera_row(api)["health_status"] is None


HOSTILE = [
    pytest.param({"clock_offset_s": math.nan}, id="NaN clock offset"),
    pytest.param({"clock_offset_s": 1e300}, id="absurd clock offset"),
    pytest.param({"updated_at": "2101-01-01T00:00:00+00:00"}, id="after 2100"),
    pytest.param({"updated_at": "0001-01-01T00:00:00+01:00"}, id="time without a UTC equivalent"),
    pytest.param({"last_frame_at": "2026-11-30T10:00:00"}, id="time without an offset"),
    pytest.param({"status": "fine"}, id="unknown status"),
    pytest.param({"problems": ["x"] * 21}, id="too many problems"),
    pytest.param(
        {"events_reduced": [{"event_id": "e", "reason": "r", "at": "2026-11-30T10:00:00+00:00"}] * 21},
        id="too many reduced events",
    ),
    pytest.param({"pending": True}, id="a boolean for a count"),
    pytest.param({"pending": 1.0}, id="a float for a count"),
    pytest.param({"updated_at": "1969-12-31T23:59:59+00:00"}, id="before the epoch"),
    pytest.param({"problems": ["a\x00b"]}, id="NUL in a problem"),
    pytest.param({"problems": ["\ud800"]}, id="lone surrogate"),
    pytest.param({"problems": ["x" * 501]}, id="problem too long"),
    pytest.param({"free_bytes": -1}, id="negative bytes"),
    pytest.param({"pending": 2**63}, id="count beyond 64 bits"),
    pytest.param({"extra": 1}, id="unknown field"),
    pytest.param({"events_reduced": [{"event_id": "e", "reason": "r"}]}, id="note without a time"),
]


@pytest.mark.parametrize("change", HOSTILE)
def test_a_malformed_report_is_a_422_and_changes_nothing(api: Api, change: dict[str, Any]) -> None:
    audits = audit_count(api)
    r = api.client.post(
        "/api/v1/cameras/cam-1/health",
        content=json.dumps({**report("ok"), **change}, allow_nan=True),
        headers={**api.h("device"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert audit_count(api) == audits
    with api.sessionmaker() as session:
        assert session.execute(select(func.count()).select_from(CameraHealthPeriod)).scalar_one() == 0
    assert camera_row(api)["health_status"] is None


def test_an_event_from_a_fast_clock_is_refused_as_clock_ahead_to_retry(api: Api) -> None:
    """Before: a plain 422, which the edge takes as final: the event went to dead/ and was lost."""
    ahead = datetime.now(UTC) + timedelta(minutes=20)
    body = event_body({}, started_at=ahead)
    r = api.client.post("/api/v1/events", json=body, headers=api.h("device"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["type"] == "clock_ahead"
    retry = int(r.headers["Retry-After"])
    assert 14 * 60 <= retry <= 16 * 60, "seconds until real time reaches the event, less the allowance"
    # within the allowance: stored
    near = event_body({}, started_at=datetime.now(UTC) + timedelta(minutes=2))
    assert api.client.post("/api/v1/events", json=near, headers=api.h("device")).status_code == 201
