"""Event sinks: the spool keeps each event and frees its staging; the fan-out survives a broken sink;
the uploader sends a new event at once and makes a last round when the worker stops."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from edge_fixtures import make_event
from ingest_server import IngestServer

from detector.evidence import EvidenceWriter
from detector.sinks import Dispatcher, EventSink
from detector.sinks.spool import Spool, SpoolSink
from detector.sinks.uploader import Uploader
from detector.types import Event

TOKEN = "device-token"


class BrokenSink:
    """A sink whose broker is down: every call fails."""

    def publish(self, event: Event) -> None:
        raise ConnectionError("broker unreachable")

    def close(self) -> None:
        raise ConnectionError("broker unreachable")


class RecordingSink:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.closed = False

    def publish(self, event: Event) -> None:
        self.events.append(event.event_id)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def server(tmp_path: Path) -> Iterator[IngestServer]:
    srv = IngestServer(tmp_path / "server", token=TOKEN)
    srv.start()
    yield srv
    srv.stop()


def test_spool_sink_keeps_the_event_and_frees_its_staging(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    event = make_event(staging)
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    sink = SpoolSink(spool, staging=EvidenceWriter(staging, min_free_bytes=0))
    assert isinstance(sink, EventSink)
    sink.publish(event)
    [spooled] = spool.pending()
    assert spooled.event_id == event.event_id and spooled.verify() == []
    assert not (staging / event.event_id).exists()


def test_an_event_the_spool_refuses_keeps_its_staged_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    staging = tmp_path / "staging"
    event = make_event(staging)
    full = Spool(tmp_path / "spool", min_free_bytes=shutil.disk_usage(tmp_path).free + 10**9)
    with caplog.at_level(logging.ERROR):
        SpoolSink(full, staging=EvidenceWriter(staging)).publish(event)
    assert full.pending() == []
    assert all(f.path.is_file() for f in event.files)
    assert f"event {event.event_id} (dumping) NOT spooled: disk almost full" in caplog.text
    assert str(staging) in caplog.text


def test_a_failing_sink_costs_only_itself(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    after = RecordingSink()
    dispatcher = Dispatcher([SpoolSink(spool), BrokenSink(), after])
    event = make_event(tmp_path / "staging")
    with caplog.at_level(logging.ERROR):
        dispatcher.publish(event)
        dispatcher.close()
    assert [p.event_id for p in spool.pending()] == [event.event_id]
    assert after.events == [event.event_id] and after.closed
    assert f"sink BrokenSink failed on event {event.event_id}" in caplog.text
    assert "sink BrokenSink failed to close" in caplog.text


def test_a_spooled_event_is_uploaded_at_once_not_at_the_next_poll(
    tmp_path: Path, server: IngestServer
) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    uploader = Uploader(spool, server.url, TOKEN, poll_interval=600)
    uploader.start()
    dispatcher = Dispatcher([SpoolSink(spool), uploader])
    try:
        time.sleep(0.2)  # the first round (nothing pending) is over; the next poll is 10 min away
        event = make_event(tmp_path / "staging")
        dispatcher.publish(event)
        deadline = time.monotonic() + 20
        while spool.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [s.event_id for s in spool.sent()] == [event.event_id]
        assert server.complete_ids() == {event.event_id}
    finally:
        dispatcher.close()


def test_closing_the_uploader_sends_what_is_still_pending(tmp_path: Path, server: IngestServer) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    dispatcher = Dispatcher([SpoolSink(spool), Uploader(spool, server.url, TOKEN)])  # thread not started
    event = make_event(tmp_path / "staging")
    dispatcher.publish(event)
    assert [p.event_id for p in spool.pending()] == [event.event_id]
    dispatcher.close()
    assert spool.pending() == [] and server.complete_ids() == {event.event_id}
