"""Nothing lost, nothing twice: an edge worker SIGKILLed again and again at random points of spooling
and uploading to the real evidence API, then restarted, delivers every event exactly once, complete,
and leaves no staging data behind.

Each run is ``kill_child.run_edge`` (the worker's own spool, staging, sinks and uploader over small
synthetic events) in a process forked from a preloaded fork server, killed after a random delay; the
API runs in this process on a free loopback port.  A run restarts a little before the first incident
the spool does not hold yet, so it both processes incidents again (they must not be stored twice) and
meets new ones (spooled and uploaded while the kills land).  The figures are printed (``pytest -s``).

Exactly once: the API stores each incident's id (computed in this process from the same generator)
once and no other event.  Complete: it holds every file the edge kept for the event (its spool entry,
whose files still hash to what they declare), and each stored file hashes to its name.  The spool's
copy is the reference; how many events a rendering made here encodes to other bytes is printed (it
found the clip encoder's last irreproducibility: ``detector.clips``).
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
from detector.sinks.spool_entry import load_entry
from evidence_api.models import Event as EventRow

pytestmark = pytest.mark.slow

INCIDENTS = 60
KILLS = 50
WINDOW = 6  # incidents one run is given
AGAIN = 2  # incidents before the first one not spooled that a run processes again
MAX_DELAY_S = 1.5  # about the time a run takes; kills land anywhere in it


def _expected() -> list[tuple[str, set[str]]]:
    """(event id, SHA-256s of its files) per incident, from the same deterministic generator."""
    with tempfile.TemporaryDirectory() as scratch:
        writer = EvidenceWriter(Path(scratch), min_free_bytes=0)
        return [
            (e.event_id, {f.sha256 for f in e.files})
            for e in map(lambda i: synthetic_event(writer, i), range(INCIDENTS))
        ]


def _held(spool: Path) -> set[str]:
    return {
        p.name
        for state in ("pending", "sent", "dead")
        if (spool / state).is_dir()
        for p in (spool / state).iterdir()
    }


def _pending(spool: Path) -> list[Path]:
    return list((spool / "pending").iterdir()) if (spool / "pending").is_dir() else []


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
    ids = [event_id for event_id, _ in expected]
    started = time.monotonic()
    kills = completed = kills_with_work = 0
    with running_api(tmp_path / "api") as api:

        def window() -> tuple[int, int]:
            held = _held(spool)
            frontier = next((i for i, event_id in enumerate(ids) if event_id not in held), INCIDENTS)
            first = max(0, frontier - AGAIN)
            return first, min(INCIDENTS, first + WINDOW)

        while kills < KILLS:
            child = ctx.Process(target=run_edge, args=(str(spool), api.url, api.token, *window()))
            child.start()
            child.join(rng.uniform(0.0, MAX_DELAY_S))
            if child.is_alive():
                os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
                child.join()
            if child.exitcode == -signal.SIGKILL:
                kills += 1
                kills_with_work += bool(_pending(spool) or len(_held(spool)) < INCIDENTS)
            else:  # it ended before its kill (or just as the kill came)
                assert child.exitcode == 0, f"a run failed on its own (exit {child.exitcode})"
                completed += 1
        restarts = 0
        # at least one restart after the last kill (its start settles what that kill left), then
        # restarts without kills until the footage is done and the spool drained
        while restarts == 0 or window()[0] < INCIDENTS - AGAIN or _pending(spool):
            last = ctx.Process(target=run_edge, args=(str(spool), api.url, api.token, *window()))
            last.start()
            last.join(120)
            assert last.exitcode == 0
            restarts += 1
        with api.app.state.sessionmaker() as session:
            rows = session.execute(select(EventRow)).scalars().all()
            stored = {str(r.id): (r.upload_status, {f.sha256 for f in r.files}) for r in rows}
        sent = {p.name: load_entry(p) for p in (spool / "sent").iterdir()}
        captured = {i: {f.sha256 for f in e.files} for i, e in sent.items()}  # what the edge kept
        store = api.app.state.store
        bad_blobs = [
            sha
            for hashes in captured.values()
            for sha in hashes
            if not store.path(sha).is_file()
            or hashlib.sha256(store.path(sha).read_bytes()).hexdigest() != sha
        ]
    complete = {
        i for i, (status, hashes) in stored.items() if status == "complete" and hashes == captured.get(i)
    }
    lost = [i for i in ids if i not in complete]
    duplicated = len(rows) - len(stored.keys() & set(ids))
    orphaned = _orphans(spool)
    rerendered = sum(1 for i, hashes in expected if captured.get(i, hashes) != hashes)
    print(
        f"\nkill test: {kills} SIGKILLs ({kills_with_work} with events still to spool or upload; "
        f"{completed} runs ended before their kill), {INCIDENTS} events: lost {len(lost)}, "
        f"duplicated {duplicated}, orphaned files {len(orphaned)}; {rerendered} event(s) whose clip a "
        f"fresh rendering encodes to other bytes; {time.monotonic() - started:.1f} s"
    )
    assert kills >= KILLS
    assert lost == [], f"events lost or incomplete: {lost}"
    assert duplicated == 0 and len(rows) == INCIDENTS
    assert bad_blobs == [], "files the edge kept missing from the API's store or not hashing to their name"
    assert orphaned == [], f"evidence left outside the spool: {orphaned}"
    assert _pending(spool) == [] and not list((spool / "dead").iterdir())
    assert sorted(sent) == sorted(ids) and all(e.verify() == [] for e in sent.values())
