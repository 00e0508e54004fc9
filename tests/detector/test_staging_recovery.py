"""A worker killed at any point loses no evidence: what it staged is spooled at the next start, what no
complete event holds is kept for an operator, and nothing is left behind in staging directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from edge_fixtures import make_event

from detector.evidence import EvidenceWriter
from detector.sinks.spool import Spool, SpoolBusy
from detector.sinks.spool_sink import SpoolSink
from detector.sinks.staging import INCOMPLETE_JSON, STAGED_JSON, StagingArea, recover_staging, write_manifest
from detector.worker import open_spool

START = "2026-11-24T09:00:00+00:00"

KILLED_DETECT = """
import os, sys
from pathlib import Path
import detector.sinks.spool as spool_mod
from tipwatch.cli import main

real_write = spool_mod.write_atomic
def write_then_die(path, data):
    if path.name == "event.json" and path.parent.parent.name == "tmp":
        os._exit(9)  # kill -9 while the event is written into the spool: tmp/<id> exists
    real_write(path, data)
spool_mod.write_atomic = write_then_die
source, spool, start = sys.argv[1:4]
main(["detect", "--source", source, "--spool", spool, "--start-time", start, "--no-progress"])
"""


def _detect(clip: Path, spool: Path, code: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["-c", code, str(clip), str(spool), START] if code else ["-m", "tipwatch", "detect"]
    if not code:
        argv += ["--source", str(clip), "--spool", str(spool), "--start-time", START, "--no-progress"]
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=300)


def _staged_evidence(spool_root: Path) -> list[Path]:
    """Every file under a staging directory, inside the spool or beside it (older versions)."""
    roots = [spool_root / "staging", *spool_root.parent.glob("staging-*")]
    return [p for root in roots if root.is_dir() for p in root.rglob("*") if p.is_file()]


@pytest.mark.slow
def test_a_worker_killed_while_spooling_an_event_has_it_spooled_by_the_next_start(
    samples_dir: Path, tmp_path: Path
) -> None:
    """Before: the half-written tmp/<id> was removed at restart and the evidence, complete in
    staging-*/<id>/, was orphaned and never sent (2 of 2 such kills lost the event)."""
    spool_root = tmp_path / "spool"
    killed = _detect(samples_dir / "dumping_no_vehicle.mp4", spool_root, KILLED_DETECT)
    assert killed.returncode == 9, killed.stderr[-2000:]
    [half] = list((spool_root / "tmp").iterdir())
    assert Spool(spool_root).pending() == [] and _staged_evidence(spool_root)
    # The worker starts again on other footage (a camera that keeps recording).
    restart = _detect(samples_dir / "drive_through.mp4", spool_root)
    assert restart.returncode == 0, restart.stderr[-2000:]
    [event] = Spool(spool_root).pending()
    assert event.event_id == half.name and event.payload["type"] == "dumping"
    assert event.verify() == [] and len(event.files) >= 7
    assert not list((spool_root / "tmp").iterdir())
    assert _staged_evidence(spool_root) == []  # no staging data left, and none orphaned
    assert not list(spool_root.parent.glob("staging-*")) and not list((spool_root / "staging").iterdir())
    assert not (spool_root / "incomplete").exists()
    assert json.loads((spool_root / "health.json").read_text())["status"] == "ok"


def _staged(spool: Spool, *, manifest: bool) -> tuple[StagingArea, list[str]]:
    """A dead worker's staging directory with one event in it (with or without its manifest)."""
    area = StagingArea(spool)
    event = make_event(area.path)
    if manifest:
        write_manifest(event, area.path / event.event_id)
    return area, [event.event_id]


def test_killed_after_spooling_but_before_freeing_staging_is_freed_not_duplicated(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    area = StagingArea(spool)
    event = make_event(area.path)
    write_manifest(event, area.path / event.event_id)
    spool.put(event)  # ... and the process died before discarding the staged copy
    report = recover_staging(spool)
    assert report.respooled == [event.event_id]  # put was a no-op: the spool already held it
    assert [p.event_id for p in spool.pending()] == [event.event_id] and spool.pending()[0].verify() == []
    assert not area.path.exists()


def test_a_staged_event_of_a_dead_worker_is_spooled_once_even_after_it_was_sent(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    area, [event_id] = _staged(spool, manifest=True)
    assert recover_staging(spool).respooled == [event_id]
    spool.mark_sent(event_id)
    # The same event staged again (the same footage processed again, killed before freeing it).
    again = StagingArea(spool)
    event = make_event(again.path, event_id=event_id)
    write_manifest(event, again.path / event_id)
    assert recover_staging(spool).respooled == [event_id]
    assert spool.pending() == [] and [s.event_id for s in spool.sent()] == [event_id]
    assert not area.path.exists() and not again.path.exists()


def test_evidence_of_an_event_never_completed_is_kept_then_dropped_once_the_event_is_spooled(
    tmp_path: Path,
) -> None:
    """Killed while writing an event's stills (no manifest yet): the files are the only copy, so they
    go to incomplete/ with the reason; the same footage processed again spools the event with the same
    id and bytes, and the kept copy is then dropped."""
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    area, [event_id] = _staged(spool, manifest=False)
    (area.path / event_id / ".act.jpg.tmp-0badf00d").write_bytes(b"\xff\xd8 cut short")  # a partial write
    report = recover_staging(spool)
    assert report.kept_incomplete == [event_id] and report.partial_files == 1 and not area.path.exists()
    kept = spool.incomplete_dir / event_id
    assert "before the event was complete" in json.loads((kept / INCOMPLETE_JSON).read_text())["reason"]
    assert not list(kept.glob(".*tmp-*"))
    redo = StagingArea(spool)
    SpoolSink(spool, staging=EvidenceWriter(redo.path, min_free_bytes=0)).publish(
        make_event(redo.path, event_id=event_id)
    )
    assert recover_staging(spool).superseded == [event_id]
    assert not spool.incomplete_dir.exists() or not list(spool.incomplete_dir.iterdir())
    assert [p.event_id for p in spool.pending()] == [event_id]


def test_staging_left_beside_the_spool_by_older_versions_is_cleaned_without_losing_evidence(
    tmp_path: Path,
) -> None:
    """31 staging-* directories after a day of tests, 3 still holding evidence: the empty ones go, the
    evidence is kept in incomplete/ (it has no metadata to be spooled with)."""
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    empties = [tmp_path / f"staging-empty{i:03d}" for i in range(28)]
    for d in empties:
        (d / "some-event").mkdir(parents=True)
    holding = [tmp_path / f"staging-evid{i:04d}" for i in range(3)]
    staged = [make_event(d) for d in holding]
    unrelated = tmp_path / "staging-not-ours-by-name"
    unrelated.mkdir()
    report = recover_staging(spool)
    assert report.removed_dirs == 31
    assert sorted(report.kept_incomplete) == sorted(e.event_id for e in staged)
    assert not any(d.exists() for d in empties + holding) and unrelated.is_dir()
    for event in staged:
        kept = spool.incomplete_dir / event.event_id
        assert sorted(p.name for p in kept.iterdir() if p.name != INCOMPLETE_JSON) == sorted(
            f.path.name for f in event.files
        )


def test_a_worker_stopping_settles_its_staging_and_leaves_no_directory(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    area = StagingArea(spool)
    event = make_event(area.path)
    write_manifest(event, area.path / event.event_id)  # published, but the put failed (disk full)
    (area.path / "empty-event").mkdir()
    report = area.close()
    assert report.respooled == [event.event_id] and not area.path.exists()
    assert not (spool.pending()[0].path / STAGED_JSON).exists()


def test_one_spool_one_process(tmp_path: Path) -> None:
    """Recovery treats every staging directory as a dead worker's: a second process on a spool in use
    is refused; the lock of a killed holder is free at once."""
    root = tmp_path / "spool"
    spool, _health = open_spool(root)
    holder = subprocess.run(
        [sys.executable, "-c", HOLD_LOCK, str(root)], capture_output=True, text=True, timeout=60
    )
    assert holder.returncode == 0 and f"pid {os.getpid()}" in holder.stdout, holder.stderr
    spool.unlock()
    killed = subprocess.run(
        [sys.executable, "-c", LOCK_AND_DIE, str(root)], capture_output=True, text=True, timeout=60
    )
    assert killed.returncode == -9
    again, _health = open_spool(root)  # no stale-lock cleanup needed after kill -9
    again.unlock()
    busy = Spool(root)
    busy.lock()
    with pytest.raises(SpoolBusy, match="in use by another running process"):
        Spool(root).lock()
    busy.unlock()


HOLD_LOCK = """
import sys
from pathlib import Path
from detector.worker import WorkerError, open_spool
try:
    open_spool(Path(sys.argv[1]))
except WorkerError as exc:
    print(exc)
"""

LOCK_AND_DIE = """
import os, signal, sys
from pathlib import Path
from detector.sinks.spool import Spool
Spool(Path(sys.argv[1])).lock()
os.kill(os.getpid(), signal.SIGKILL)
"""
