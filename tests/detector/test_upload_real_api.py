"""The uploader against the real evidence API (``evidence_api.main.create_app``) over real HTTP."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from edge_fixtures import make_event
from real_api import RealApi, running_api
from sqlalchemy import select

from detector.sinks.spool import Spool
from detector.sinks.uploader import Uploader
from evidence_api.models import Event as EventRow


@pytest.fixture
def real_api(tmp_path: Path) -> Iterator[RealApi]:
    with running_api(tmp_path / "api") as api:
        yield api


def test_spooled_events_reach_the_real_api_complete_and_intact(tmp_path: Path, real_api: RealApi) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    events = [make_event(tmp_path / "staging") for _ in range(2)]
    for e in events:
        spool.put(e)
    uploader = Uploader(spool, real_api.url, real_api.token, base_backoff=0.05, max_backoff=0.2)
    report = uploader.run_once()
    assert report.ok, report.error
    # The two events carry byte-identical evidence (same frames); the API stores blobs by content,
    # so it asks for the five files once.
    assert report.sent == [e.event_id for e in events] and report.files_uploaded == 5
    with real_api.app.state.sessionmaker() as session:
        rows = {str(r.id): r for r in session.execute(select(EventRow)).scalars()}
        assert set(rows) == {e.event_id for e in events}
        assert {r.upload_status for r in rows.values()} == {"complete"}
    store = real_api.app.state.store
    for e in events:
        for f in e.files:
            data = store.path(f.sha256).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f.sha256 and data == f.path.read_bytes()
    # Re-uploading the same event (a restart that lost the 'sent' move) stores nothing twice.
    again = Spool(tmp_path / "spool2", min_free_bytes=0)
    again.put(events[0])
    assert uploader.__class__(again, real_api.url, real_api.token).run_once().sent == [events[0].event_id]
    with real_api.app.state.sessionmaker() as session:
        assert len(session.execute(select(EventRow)).scalars().all()) == 2
    uploader.close()


def test_real_api_conflict_goes_to_dead(tmp_path: Path, real_api: RealApi) -> None:
    first = make_event(tmp_path / "staging")
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    spool.put(first)
    assert Uploader(spool, real_api.url, real_api.token).run_once().sent == [first.event_id]
    clash = make_event(tmp_path / "other", event_id=first.event_id)
    clash.zone = "car-park"
    other = Spool(tmp_path / "spool2", min_free_bytes=0)
    other.put(clash)
    report = Uploader(other, real_api.url, real_api.token).run_once()
    assert report.dead == [first.event_id]
    assert "409" in other.dead_reason(first.event_id)
    assert uuid.UUID(first.event_id).version == 7
