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
from evidence_api.models import CameraHealthPeriod


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


def test_an_event_from_a_fast_clock_waits_instead_of_going_to_dead(
    tmp_path: Path, real_api: RealApi, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: the API's 422 was taken as final and the event moved to dead/ (lost to the council)."""
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    event = make_event(tmp_path / "staging")
    ahead = datetime.now(UTC) + timedelta(hours=1)
    spool.put(dataclasses.replace(event, started_at=ahead, ended_at=ahead + timedelta(seconds=10)))
    uploader = Uploader(spool, real_api.url, real_api.token)
    try:
        with caplog.at_level(logging.ERROR, logger="detector.sinks.uploader"):
            report = uploader.run_once()
    finally:
        uploader.close(last_round=False)
    assert report.retry == [event.event_id] and report.dead == []
    assert [e.event_id for e in spool.pending()] == [event.event_id]
    assert "CLOCK IS AHEAD" in caplog.text


def test_the_clock_offset_is_read_from_the_date_header() -> None:
    clock = ClockOffset()
    server = datetime.now(UTC) - timedelta(seconds=120)
    request = httpx.Request("GET", "http://api.invalid/")
    date = server.strftime("%a, %d %b %Y %H:%M:%S GMT")
    clock.note(httpx.Response(200, headers={"Date": date}, request=request))
    assert clock.seconds is not None and 118.5 <= clock.seconds <= 121.5  # this box is 2 min ahead
    clock.note(httpx.Response(200, headers={"Date": "not a date"}, request=request))
    assert clock.seconds is not None and 118.5 <= clock.seconds <= 121.5, "a bad header changes nothing"
