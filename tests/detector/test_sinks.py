"""Event sinks: the spool keeps each event and frees its staging; a low disk keeps the event (with what
fits) and says so in health.json; the fan-out survives a broken sink; the uploader sends a new event at
once and makes a last round when the worker stops."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from edge_fixtures import make_event
from ingest_server import IngestServer

import detector.sinks.spool as spool_module
from detector.evidence import EvidenceWriter
from detector.sinks import Dispatcher, EventSink
from detector.sinks.health import SpoolHealth
from detector.sinks.spool import Spool
from detector.sinks.spool_sink import SpoolSink
from detector.sinks.staging import StagingArea, recover_staging
from detector.sinks.uploader import Uploader
from detector.storage import DiskFullError
from detector.types import Event, StillRole

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


def _health(spool: Spool) -> dict[str, object]:
    return dict(json.loads((spool.root / "health.json").read_text()))


def test_below_the_reserve_an_event_is_still_spooled_whole_and_health_says_disk_low(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: 'NOT spooled: disk almost full' in the log and nothing else.  The staged files are
    hard-linked into the spool (no second copy), so only the metadata needs room."""
    low = Spool(tmp_path / "spool", min_free_bytes=shutil.disk_usage(tmp_path).free + 10**9)
    area = StagingArea(low)
    event = make_event(area.path)
    sink = SpoolSink(low, staging=EvidenceWriter(area.path), health=SpoolHealth(low, camera_id="cam-1"))
    with caplog.at_level(logging.ERROR):
        sink.publish(event)
    [spooled] = low.pending()
    assert spooled.event_id == event.event_id and spooled.verify() == []
    assert len(spooled.files) == len(event.files) == 5
    assert not (area.path / event.event_id).exists()  # the spool holds every file: staging freed
    health = _health(low)
    assert health["status"] == "disk_low" and health["camera_id"] == "cam-1"
    assert "below the" in str(health["problems"]) and health["pending"] == 1
    assert "EDGE HEALTH DISK_LOW" in caplog.text and "health.json" in caplog.text


def test_without_hard_links_a_low_disk_keeps_the_stills_and_keeps_the_clip_outside_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system that cannot hard-link (exFAT): stills are copied into the reserve, the clip does
    not fit; the event is spooled without it, saying so, and the staged clip is kept, not deleted."""
    monkeypatch.setattr(spool_module, "try_link", lambda src, dst: False)
    free = shutil.disk_usage(tmp_path).free
    low = Spool(tmp_path / "spool", min_free_bytes=free + 10**9, min_free_still_bytes=0)
    area = StagingArea(low)
    event = make_event(area.path)
    health = SpoolHealth(low)
    SpoolSink(low, staging=EvidenceWriter(area.path), health=health).publish(event)
    [spooled] = low.pending()
    assert spooled.verify() == [] and {f.media_type for f in spooled.files} == {"image/jpeg"}
    assert len(spooled.files) == 4
    assert spooled.payload["details"]["evidence_incomplete"] is True
    assert "clip.mp4" in str(spooled.payload["details"]["not_spooled"])
    assert (area.path / event.event_id / "clip.mp4").is_file()  # the only copy of the clip stays
    assert [e["event_id"] for e in _health(low)["events_reduced"]] == [event.event_id]  # type: ignore[union-attr]
    # When the worker stops, the clip nobody else holds goes to incomplete/ for an operator.
    report = area.close()
    assert report.kept_incomplete == [event.event_id] and not area.path.exists()
    kept = low.incomplete_dir / event.event_id
    clip = next(f for f in event.files if f.media_type == "video/mp4")
    assert hashlib.sha256((kept / clip.path.name).read_bytes()).hexdigest() == clip.sha256
    assert "without some files" in (kept / "incomplete.json").read_text()
    assert health.write()["status"] == "disk_low"


def test_when_not_even_the_metadata_fits_the_event_waits_in_staging_and_is_spooled_at_the_next_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    huge = shutil.disk_usage(tmp_path).free + 10**9
    full = Spool(tmp_path / "spool", min_free_bytes=huge, min_free_metadata_bytes=huge)
    area = StagingArea(full)
    event = make_event(area.path)
    with caplog.at_level(logging.ERROR):
        SpoolSink(full, staging=EvidenceWriter(area.path), health=SpoolHealth(full)).publish(event)
    assert full.pending() == []
    assert all(f.path.is_file() for f in event.files)
    assert f"event {event.event_id} (dumping) NOT spooled: disk almost full" in caplog.text
    health = _health(full)
    assert health["status"] == "not_spooled"
    assert [e["event_id"] for e in health["events_not_spooled"]] == [event.event_id]  # type: ignore[union-attr]
    # Space came back; the next start spools it from its staged manifest, with the same payload.
    roomy = Spool(tmp_path / "spool", min_free_bytes=0)
    report = recover_staging(roomy)
    assert report.respooled == [event.event_id] and not area.path.exists()
    [spooled] = roomy.pending()
    assert spooled.verify() == [] and spooled.payload == spool_module.event_to_payload(
        event, reserved_names=spool_module.RESERVED_NAMES
    )


def test_below_the_reserve_the_writer_keeps_stills_and_refuses_only_the_clip(tmp_path: Path) -> None:
    from edge_fixtures import small_frames

    from detector.frame_ring import FrameRing

    writer = EvidenceWriter(tmp_path / "staging", min_free_bytes=shutil.disk_usage(tmp_path).free + 10**9)
    frames = small_frames(20)
    assert len(writer.still("evt", StillRole.ACT, frames[5])) == 2
    ring = FrameRing(30)
    for f in frames:
        ring.push(f)
    with pytest.raises(DiskFullError):
        writer.clip("evt", 0.0, 1.0, captured_at_of=lambda t: frames[0].captured_at, frames=ring)


def test_an_event_processed_again_is_stored_once_even_if_a_file_renders_to_other_bytes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The spooled (and perhaps already sent) first rendering is kept; the second is not an orphan."""
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    first_area, again_area = StagingArea(spool), StagingArea(spool)
    first = make_event(first_area.path)
    SpoolSink(spool, staging=EvidenceWriter(first_area.path)).publish(first)
    again = make_event(again_area.path, event_id=first.event_id)
    clip = next(f for f in again.files if f.media_type == "video/mp4")
    data = clip.path.read_bytes() + b"\0"  # an encoder that is not byte-reproducible
    clip.path.write_bytes(data)
    again.files = [
        dataclasses.replace(f, sha256=hashlib.sha256(data).hexdigest(), size=len(data)) if f is clip else f
        for f in again.files
    ]
    with caplog.at_level(logging.WARNING):
        SpoolSink(spool, staging=EvidenceWriter(again_area.path), health=SpoolHealth(spool)).publish(again)
    [spooled] = spool.pending()
    assert spooled.payload == spool_module.event_to_payload(first, reserved_names=spool_module.RESERVED_NAMES)
    assert "processed again gave other bytes for clip.mp4" in caplog.text
    assert not (again_area.path / first.event_id).exists() and _health(spool)["status"] == "ok"


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
