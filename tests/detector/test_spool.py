"""The durable outbox: atomic put, recovery after a kill, states, full disk, payload round trip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from edge_fixtures import make_event

from detector.contract import ContractError, event_to_payload, payload_to_event
from detector.sinks.spool import Spool, SpoolError
from detector.storage import DiskFullError, StorageError
from detector.uuid7 import is_uuid7, uuid7_str, uuid7_time


def test_put_writes_contract_payload_and_files(tmp_path: Path) -> None:
    event = make_event(tmp_path / "staging")
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    path = spool.put(event)
    assert path == tmp_path / "spool" / "pending" / event.event_id
    payload = json.loads((path / "event.json").read_text())
    assert payload["id"] == event.event_id and payload["type"] == "dumping"
    assert payload["model"] == {"name": event.model_name, "sha256": event.model_sha256}
    assert payload["started_at"].endswith("+00:00")
    assert {f["role"] for f in payload["files"]} == {"act", "after", "clip"}
    assert {f["kind"] for f in payload["files"]} == {"original", "annotated"}
    [spooled] = spool.pending()
    assert spooled.verify() == []
    assert len(spooled.files) == len(event.files) == 5
    assert not list(spool.tmp_dir.iterdir())
    # Staged files stay unless move=True; the spool holds the same bytes without a second copy.
    assert all(f.path.is_file() for f in event.files)
    assert {(path / s.name).stat().st_ino for s in spooled.files} == {
        f.path.stat().st_ino for f in event.files
    }


def test_payload_round_trip(tmp_path: Path) -> None:
    event = make_event(tmp_path / "staging")
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    spool.put(event, move=True)
    assert not any(f.path.exists() for f in event.files)
    back = spool.pending()[0].to_event()
    assert event_to_payload(back) == event_to_payload(event)
    assert (back.start_video_s, back.end_video_s) == (event.start_video_s, event.end_video_s)
    assert all(f.path.is_file() for f in back.files)
    with pytest.raises(ContractError, match="not a valid event payload"):
        payload_to_event({"id": "x"})


def test_put_twice_is_idempotent(tmp_path: Path) -> None:
    event = make_event(tmp_path / "staging", with_clip=False)
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    first = spool.put(event)
    spool.mark_sent(event.event_id)
    again = spool.put(event)
    assert again == spool.sent_dir / event.event_id and first != again
    assert spool.pending() == []


def test_pending_oldest_first_and_state_moves(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    events = [make_event(tmp_path / "staging", with_clip=False) for _ in range(3)]
    for e in reversed(events):
        spool.put(e)
    assert [s.event_id for s in spool.pending()] == [e.event_id for e in events]
    spool.mark_sent(events[0].event_id)
    spool.mark_dead(events[1].event_id, "409 Conflict: id already stored with different content")
    assert [s.event_id for s in spool.pending()] == [events[2].event_id]
    assert "409 Conflict" in spool.dead_reason(events[1].event_id)
    stats = spool.stats()
    assert (stats["pending"], stats["sent"], stats["dead"]) == (1, 1, 1)
    assert stats["pending_bytes"] == sum(f.size for f in events[2].files) + sum(
        p.stat().st_size for p in (spool.pending_dir / events[2].event_id).glob("*.json")
    )
    age = stats["oldest_pending_age_s"]
    assert age is not None and 0 <= age < 60
    with pytest.raises(SpoolError, match="not pending"):
        spool.mark_sent(events[0].event_id)


def test_prune_sent_keeps_recent(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    old, new = (make_event(tmp_path / "staging", with_clip=False) for _ in range(2))
    for e in (old, new):
        spool.put(e)
        spool.mark_sent(e.event_id)
    (spool.sent_dir / old.event_id / "sent_at.txt").write_text("2026-01-01T00:00:00.000+00:00")
    assert spool.prune_sent(timedelta(days=30)) == [old.event_id]
    assert [s.event_id for s in spool.sent()] == [new.event_id]


def test_corrupted_evidence_is_refused_at_put(tmp_path: Path) -> None:
    event = make_event(tmp_path / "staging", with_clip=False)
    data = bytearray(event.files[0].path.read_bytes())
    data[1000] ^= 0xFF
    event.files[0].path.write_bytes(bytes(data))
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    with pytest.raises(SpoolError, match="changed since it was written"):
        spool.put(event)
    assert spool.pending() == [] and not list(spool.tmp_dir.iterdir())


def test_corruption_after_spooling_is_detected(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    spool.put(make_event(tmp_path / "staging", with_clip=False))
    [spooled] = spool.pending()
    target = spooled.files[0].path
    data = bytearray(target.read_bytes())
    data[500] ^= 0x01
    target.write_bytes(bytes(data))
    [problem] = spooled.verify()
    assert spooled.files[0].name in problem and "file changed" in problem


def test_full_disk_refuses_and_keeps_spooled_events(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    spool = Spool(root, min_free_bytes=0)
    kept = make_event(tmp_path / "staging")
    spool.put(kept)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    # Not even an event's metadata fits (below the reserve, hard links alone would still spool it).
    huge = shutil.disk_usage(tmp_path).free + 10**9
    full = Spool(root, min_free_bytes=huge, min_free_metadata_bytes=huge)
    with pytest.raises(DiskFullError, match="disk almost full") as info:
        full.put(make_event(tmp_path / "staging"))
    assert isinstance(info.value, StorageError)
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == before
    assert [s.event_id for s in full.pending()] == [kept.event_id] and full.pending()[0].verify() == []


def test_recover_cleans_half_written_and_keeps_complete(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    # A complete entry interrupted just before its rename: copy a spooled one back into tmp/.
    complete = make_event(tmp_path / "staging")
    spool.put(complete)
    shutil.move(spool.pending_dir / complete.event_id, spool.tmp_dir / complete.event_id)
    # A half-written one: files copied, event.json never written.
    half = make_event(tmp_path / "staging")
    spool.put(half)
    shutil.move(spool.pending_dir / half.event_id, spool.tmp_dir / half.event_id)
    (spool.tmp_dir / half.event_id / "event.json").unlink()
    # A truncated one: event.json present, a file cut short.
    cut = make_event(tmp_path / "staging")
    spool.put(cut)
    shutil.move(spool.pending_dir / cut.event_id, spool.tmp_dir / cut.event_id)
    clip = spool.tmp_dir / cut.event_id / "clip.mp4"
    clip.write_bytes(clip.read_bytes()[:100])
    # A stray temporary file from a killed mark_dead.
    survivor = make_event(tmp_path / "staging", with_clip=False)
    spool.put(survivor)
    (spool.pending_dir / survivor.event_id / ".dead_reason.txt.tmp-1234").write_text("partial")

    report = Spool(tmp_path / "spool", min_free_bytes=0).recover()
    assert report.promoted == [complete.event_id]
    assert sorted(report.removed) == sorted([half.event_id, cut.event_id])
    assert report.stray_files == 1
    assert sorted(s.event_id for s in spool.pending()) == sorted([complete.event_id, survivor.event_id])
    assert all(s.verify() == [] for s in spool.pending())
    assert not list(spool.tmp_dir.iterdir())


KILLED_PUT = """
import os, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
import detector.sinks.spool as spool_mod
from edge_fixtures import make_event

real_write = spool_mod.write_atomic
def write_then_die(path, data):
    if path.name == "event.json":
        os._exit(9)  # the process dies after the evidence files, before the metadata
    real_write(path, data)
spool_mod.write_atomic = write_then_die
spool = spool_mod.Spool(Path({root!r}), min_free_bytes=0)
spool.put(make_event(Path({staging!r})))
"""


def test_put_killed_mid_write_is_invisible_and_cleaned(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    code = KILLED_PUT.format(tests=str(Path(__file__).parent), root=str(root), staging=str(tmp_path / "st"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert proc.returncode == 9, proc.stderr.decode()
    spool = Spool(root, min_free_bytes=0)
    [leftover] = list(spool.tmp_dir.iterdir())
    assert any(p.suffix == ".mp4" for p in leftover.iterdir())  # evidence was copied before the kill
    assert spool.pending() == []
    report = spool.recover()
    assert report.removed == [leftover.name] and not list(spool.tmp_dir.iterdir())
    assert spool.pending() == []


def test_uuid7_is_time_ordered_and_well_formed() -> None:
    ids = [uuid7_str() for _ in range(2000)]
    assert all(is_uuid7(i) for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert abs(uuid7_time(ids[0]).timestamp() - __import__("time").time()) < 5
    assert not is_uuid7("00000000-0000-4000-8000-000000000000")


def test_unsafe_ids_are_refused(tmp_path: Path) -> None:
    event = make_event(tmp_path / "staging", with_clip=False)
    event.event_id = "../../etc"
    with pytest.raises(SpoolError, match="safe directory name"):
        Spool(tmp_path / "spool", min_free_bytes=0).put(event)
    assert os.listdir(tmp_path / "spool" / "pending") == []


def test_unreadable_pending_entry_is_moved_to_dead(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    broken, fine = (make_event(tmp_path / "staging", with_clip=False) for _ in range(2))
    spool.put(broken)
    spool.put(fine)
    (spool.pending_dir / broken.event_id / "event.json").write_bytes(b'{"id": "trunc')
    assert [p.event_id for p in spool.pending()] == [fine.event_id]
    reason = (spool.dead_dir / broken.event_id / "dead_reason.txt").read_text()
    assert "event.json is unreadable" in reason
    assert [p.event_id for p in spool.pending()] == [fine.event_id]


def test_numpy_and_odd_detail_values_become_plain_json(tmp_path: Path) -> None:
    import numpy as np

    from detector.types import PlateRead

    event = make_event(tmp_path / "staging", with_clip=False)
    event.details = {
        "area": np.int64(5120),
        "ratio": np.float32(0.5),
        "flag": np.bool_(True),
        "bad": float("nan"),
    }  # type: ignore[dict-item]
    event.plate = PlateRead(text="AB12CDE", confidence=np.float32(0.875), valid_uk_format=True)  # type: ignore[arg-type]
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    path = spool.put(event)
    payload = json.loads((path / "event.json").read_text())
    assert payload["details"] == {"area": 5120, "ratio": 0.5, "flag": True, "bad": "nan"}
    assert payload["plate"] == {"text": "AB12CDE", "confidence": 0.875, "valid_uk_format": True}


def test_naive_time_is_a_spool_error_not_a_crash(tmp_path: Path) -> None:
    import dataclasses
    from datetime import datetime

    event = make_event(tmp_path / "staging", with_clip=False)
    event.files[0] = dataclasses.replace(event.files[0], captured_at=datetime(2026, 1, 1))
    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    with pytest.raises(SpoolError, match="cannot be described for the API: naive datetime"):
        spool.put(event)
    assert spool.pending() == []
