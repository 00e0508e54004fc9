"""`tipwatch upload`: drain a spool to the API without processing footage, with a summary and an exit
code a script can act on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from edge_fixtures import make_event
from ingest_server import IngestServer, free_port

from detector.sinks.spool import Spool
from detector.sinks.staging import StagingArea, write_manifest
from tipwatch.cli import run_command

TOKEN = "device-token"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[IngestServer]:
    srv = IngestServer(tmp_path / "server", token=TOKEN, cameras=("cam-1",))
    srv.start()
    yield srv
    srv.stop()


def _upload(spool: Path, url: str, *extra: str) -> int:
    return run_command(["upload", "--spool", str(spool), "--api", url, "--token", TOKEN, *extra])


def _spool_with(root: Path, n: int) -> list[str]:
    spool = Spool(root, min_free_bytes=0)
    events = [make_event(root.parent / "staging", with_clip=False) for _ in range(n)]
    for e in events:
        spool.put(e)
    return [e.event_id for e in events]


def test_upload_drains_the_spool_and_what_a_killed_worker_left(
    tmp_path: Path, server: IngestServer, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "spool"
    ids = _spool_with(root, 2)
    # A worker killed after staging an event's manifest, before the spool held it.
    area = StagingArea(Spool(root))
    staged = make_event(area.path)
    write_manifest(staged, area.path / staged.event_id)
    assert _upload(root, server.url) == 0
    out = capsys.readouterr().out
    assert "sent 3 event(s)" in out and "still pending 0" in out and "1 staged event(s) spooled" in out
    assert "total: sent 3, refused 0 (moved to dead/), still pending 0" in out
    assert server.complete_ids() == {*ids, staged.event_id}
    assert Spool(root).pending() == [] and not area.path.exists()
    # Nothing left: a second drain sends nothing and still succeeds.
    assert _upload(root, server.url) == 0
    assert "total: sent 0, refused 0" in capsys.readouterr().out


def test_upload_with_the_api_down_keeps_everything_pending_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "spool"
    ids = _spool_with(root, 2)
    assert _upload(root, f"http://127.0.0.1:{free_port()}", "--retries", "0", "--timeout", "2") == 1
    out = capsys.readouterr().out
    assert "sent 0 event(s)" in out and "still pending 2" in out and "last error: POST" in out
    assert [p.event_id for p in Spool(root).pending()] == sorted(ids)


def test_upload_reports_refused_events_with_their_reason(
    tmp_path: Path, server: IngestServer, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "spool"
    [ok] = _spool_with(root, 1)
    foreign = make_event(tmp_path / "staging", with_clip=False)
    foreign.camera_id = "cam-9"  # not this device's camera: 403 for good
    Spool(root, min_free_bytes=0).put(foreign)
    assert _upload(root, server.url) == 3
    out = capsys.readouterr().out
    assert f"refused {foreign.event_id}: " in out and "403" in out and "cam-9" in out
    assert server.complete_ids() == {ok} and [d.event_id for d in Spool(root).dead()] == [foreign.event_id]


def test_upload_drains_every_camera_of_an_edge_box_even_while_a_worker_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    srv = IngestServer(tmp_path / "server", token=TOKEN, cameras=("cam-1",))
    srv.start()
    try:
        root = tmp_path / "box"
        first = _spool_with(root / "cam-1", 1)
        second = _spool_with(root / "cam-2", 2)
        running = Spool(root / "cam-2")
        running.lock()  # a worker is running on cam-2: upload sends, recovery is left to it
        assert _upload(root, srv.url) == 0
        running.unlock()
        out = capsys.readouterr().out
        assert f"{root / 'cam-1'}: sent 1" in out and f"{root / 'cam-2'}: sent 2" in out
        assert srv.complete_ids() == {*first, *second}
    finally:
        srv.stop()


def test_upload_without_a_spool_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _upload(tmp_path / "nothing-here", "http://127.0.0.1:9") == 2
