"""The camera's health reaches the council: ``health.json`` (a shifted view, a full disk, the heartbeat)
goes from the spool to the real evidence API's camera record, and a fast clock keeps events waiting
instead of losing them."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from edge_fixtures import make_event
from real_api import RealApi, running_api
from sqlalchemy import select

from detector.sinks.health import HEALTH_JSON, SpoolHealth
from detector.sinks.health_report import ClockOffset
from detector.sinks.spool import Spool
from detector.sinks.uploader import Uploader
from evidence_api.models import Camera, CameraHealthPeriod


@pytest.fixture
def real_api(tmp_path: Path) -> Iterator[RealApi]:
    with running_api(tmp_path / "api") as api:
        yield api


def _staff_view(api: RealApi) -> list[CameraHealthPeriod]:
    with api.app.state.sessionmaker() as session:
        rows = session.execute(select(CameraHealthPeriod).order_by(CameraHealthPeriod.first_received_at))
        return list(rows.scalars())


def test_a_shifted_view_is_in_the_health_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    health = SpoolHealth(spool, camera_id="cam-1")
    health.write()
    first = json.loads((spool.root / HEALTH_JSON).read_text())
    assert first["status"] == "ok" and first["view_moves"] == 0
    now = datetime.now(UTC)
    health.frames_seen(now, view_moves=0)
    health.frames_seen(now + timedelta(seconds=1), view_moves=1, view_moved_at=now)
    record = json.loads((spool.root / HEALTH_JSON).read_text())
    assert record["status"] == "view_moved" and record["view_moves"] == 1
    assert record["view_moved_at"] is not None
    assert any("shifted" in p and "covers the hotspot" in p for p in record["problems"])


def test_health_reaches_the_api_when_it_changes_and_not_on_every_round(
    tmp_path: Path, real_api: RealApi
) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    health = SpoolHealth(spool, camera_id="cam-1")
    health.write()
    uploader = Uploader(spool, real_api.url, real_api.token, health_every_s=3600)
    try:
        assert uploader.run_once().ok
        uploader.run_once()  # unchanged, not due: not sent again
        (period,) = _staff_view(real_api)
        assert (period.status, period.reports) == ("ok", 1)
        with real_api.app.state.sessionmaker() as session:  # as if "ok" had lasted 5 min (see MIN_PERIOD_S)
            session.get(CameraHealthPeriod, period.id).first_received_at -= timedelta(minutes=5)
            session.commit()
        health.frames_seen(datetime.now(UTC), view_moves=1)  # a knock
        uploader.run_once()
        periods = _staff_view(real_api)
        assert [p.status for p in periods] == ["ok", "view_moved"]
        # the API measured nothing wrong with a clock on the same machine
        assert uploader.clock.seconds is not None and abs(uploader.clock.seconds) <= 2.0
    finally:
        uploader.close(last_round=False)


def test_heartbeat_goes_out_when_due(tmp_path: Path, real_api: RealApi) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    SpoolHealth(spool, camera_id="cam-1").write()
    uploader = Uploader(spool, real_api.url, real_api.token, health_every_s=0.0)
    try:
        for _ in range(3):
            uploader.run_once()
    finally:
        uploader.close(last_round=False)
    (period,) = _staff_view(real_api)
    assert period.reports == 3


@pytest.mark.parametrize(
    ("shift", "said", "counted"),
    [
        (timedelta(hours=1), "CLOCK RAN FAST", "clock_held"),
        (timedelta(days=-365 * 56), "CLOCK WAS NOT SET", "clock_unset_held"),
    ],
    ids=["clock ahead", "clock never set (1970)"],
)
def test_an_event_from_a_wrong_clock_is_held_without_blocking_the_next(
    tmp_path: Path,
    real_api: RealApi,
    caplog: pytest.LogCaptureFixture,
    shift: timedelta,
    said: str,
    counted: str,
) -> None:
    """Before: the API's 422 was taken as final and the event moved to dead/ (lost to the council);
    and a held event at the head of the spool must not keep the events behind it from going."""
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    wrong = make_event(tmp_path / "staging")
    at = datetime.now(UTC) + shift
    spool.put(dataclasses.replace(wrong, started_at=at, ended_at=at + timedelta(seconds=10)))
    right = make_event(tmp_path / "staging")
    spool.put(right)
    SpoolHealth(spool, camera_id="cam-1").write()
    uploader = Uploader(spool, real_api.url, real_api.token, clock_retry_s=3600)
    try:
        with caplog.at_level(logging.ERROR, logger="detector.sinks.uploader"):
            report = uploader.run_once()
        assert report.clock_held == [wrong.event_id] and report.dead == []
        assert report.sent == [right.event_id], "the event behind the held one is not blocked"
        assert [e.event_id for e in spool.pending()] == [wrong.event_id]
        assert said in caplog.text and caplog.text.count(said) == 1
        again = uploader.run_once()  # held: not asked again before clock_retry_s, nor logged again
        assert again.clock_held == [wrong.event_id] and again.sent == []
        assert caplog.text.count(said) == 1
    finally:
        uploader.close(last_round=False)
    with real_api.app.state.sessionmaker() as session:
        camera = session.execute(select(Camera).where(Camera.key == "cam-1")).scalar_one()
        assert camera.health_report is not None and camera.health_report[counted] == 1


def test_the_last_frame_time_survives_a_restart(tmp_path: Path) -> None:
    """A worker restarted while the camera is down must not forget how long there has been no picture."""
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    first = SpoolHealth(spool, camera_id="cam-1")
    first.frames_seen(datetime.now(UTC))
    written = first.write()["frames_processed_at"]
    assert written is not None
    again = SpoolHealth(spool, camera_id="cam-1").write()  # the next start, no frame yet
    assert again["frames_processed_at"] == written
    assert again["worker_started_at"] >= written


def test_disk_low_does_not_flap_at_the_reserve(tmp_path: Path) -> None:
    """A box hovering at its reserve stays disk_low until free space is clearly above it."""
    import shutil

    free = shutil.disk_usage(tmp_path).free
    spool = Spool(tmp_path / "spool", min_free_bytes=free + 10**9)
    health = SpoolHealth(spool, camera_id="cam-1")
    assert health.write()["status"] == "disk_low"
    spool.min_free_bytes = int(free * 0.95)  # now just above the reserve, within the hysteresis
    assert health.write()["status"] == "disk_low"
    spool.min_free_bytes = int(free * 0.5)  # well above it
    assert health.write()["status"] == "ok"


def test_the_clock_offset_is_read_from_the_date_header() -> None:
    clock = ClockOffset()
    server = datetime.now(UTC) - timedelta(seconds=120)
    request = httpx.Request("GET", "http://api.invalid/")
    date = server.strftime("%a, %d %b %Y %H:%M:%S GMT")
    clock.note(httpx.Response(200, headers={"Date": date}, request=request))
    assert clock.seconds is not None and 118.5 <= clock.seconds <= 121.5  # this box is 2 min ahead
    clock.note(httpx.Response(200, headers={"Date": "not a date"}, request=request))
    assert clock.seconds is not None and 118.5 <= clock.seconds <= 121.5, "a bad header changes nothing"


def test_tipwatch_upload_lists_held_events_and_says_a_person_is_needed(
    tmp_path: Path, real_api: RealApi, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: exit 1 ("retry later") for ever, and the held event was not named."""
    from tipwatch.cli import main as tipwatch

    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    event = make_event(tmp_path / "staging")
    at = datetime(1970, 1, 1, 0, 5, tzinfo=UTC)
    spool.put(dataclasses.replace(event, started_at=at, ended_at=at + timedelta(seconds=10)))
    code = tipwatch(["upload", "--spool", str(spool.root), "--api", real_api.url, "--token", real_api.token])
    out = capsys.readouterr().out
    assert code == 4, out
    assert f"held {event.event_id}: captured while this box's clock was not set" in out
    assert [e.event_id for e in spool.pending()] == [event.event_id], "kept, never lost"
