"""Nothing lost, nothing twice: an edge worker SIGKILLed again and again at random points of spooling
and uploading to the real evidence API, then restarted, delivers every event exactly once, complete,
and leaves no staging data behind.

Each run is ``kill_child.run_edge`` (the worker's own spool, staging, sinks and uploader over small
synthetic events) in a process forked from a preloaded fork server, killed after a random delay; the
API runs in this process on a free loopback port.  The figures are printed (``pytest -s``).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import signal
import tempfile
import time
from pathlib import Path

import pytest
from kill_child import run_edge, synthetic_event
from real_api import running_api
from sqlalchemy import select

from detector.evidence import EvidenceWriter
from evidence_api.models import Event as EventRow

pytestmark = pytest.mark.slow

EVENTS = 12
KILLS = 50
MAX_DELAY_S = 1.2  # a whole run takes about this long; kills land anywhere in it


def _expected() -> dict[str, set[str]]:
    """Event id -> SHA-256s of its files, from the same deterministic generator."""
    with tempfile.TemporaryDirectory() as scratch:
        writer = EvidenceWriter(Path(scratch), min_free_bytes=0)
        return {
            e.event_id: {f.sha256 for f in e.files}
            for e in (synthetic_event(writer, i) for i in range(EVENTS))
        }


def _orphans(spool: Path) -> list[Path]:
    """Evidence anywhere but pending/, sent/ and dead/: staging, half-written entries, kept-incomplete."""
    places = [spool / "staging", spool / "tmp", spool / "incomplete", *spool.parent.glob("staging-*")]
    return [p for place in places if place.is_dir() for p in place.rglob("*") if p.is_file()]


def test_fifty_kills_lose_nothing_and_duplicate_nothing(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    rng = random.Random(int(os.environ.get("TIPWATCH_KILL_SEED", "12")))
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["kill_child"])
    expected = _expected()
    started = time.monotonic()
    kills = completed = 0
    with running_api(tmp_path / "api") as api:
        args = (str(spool), api.url, api.token, EVENTS)
        while kills < KILLS:
            child = ctx.Process(target=run_edge, args=args)
            child.start()
            child.join(rng.uniform(0.0, MAX_DELAY_S))
            if child.is_alive():
                os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
                child.join()
                assert child.exitcode == -signal.SIGKILL
                kills += 1
            else:
                assert child.exitcode == 0, f"a run failed on its own (exit {child.exitcode})"
                completed += 1
        last = ctx.Process(target=run_edge, args=args)  # the restart after the last kill
        last.start()
        last.join(120)
        assert last.exitcode == 0
        with api.app.state.sessionmaker() as session:
            rows = session.execute(select(EventRow)).scalars().all()
            stored = {str(r.id): r for r in rows}
            complete = {
                i
                for i, r in stored.items()
                if r.upload_status == "complete" and {f.sha256 for f in r.files} == expected.get(i)
            }
        store = api.app.state.store
        blobs_ok = all(
            hashlib.sha256(store.path(sha).read_bytes()).hexdigest() == sha
            for s in expected.values()
            for sha in s
        )
    lost = sorted(set(expected) - complete)
    duplicated = len(rows) - len(stored.keys() & expected.keys())
    orphaned = _orphans(spool)
    print(
        f"\nkill test: {kills} SIGKILLs ({completed} runs ended before their kill), {len(expected)} events: "
        f"lost {len(lost)}, duplicated {duplicated}, orphaned files {len(orphaned)}; "
        f"{time.monotonic() - started:.1f} s"
    )
    assert kills >= KILLS
    assert lost == [], f"events lost or incomplete: {lost}"
    assert duplicated == 0 and len(rows) == len(expected)
    assert blobs_ok, "a stored file does not hash to its name"
    assert orphaned == [], f"evidence left outside the spool: {orphaned}"
    assert not list((spool / "pending").iterdir()) and not list((spool / "dead").iterdir())
    assert sorted(p.name for p in (spool / "sent").iterdir()) == sorted(expected)
