"""`tipwatch detect` end to end on sample clips: events with stills and a clip land in the spool, and
processing the same file again stores nothing twice."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import cv2
import pytest
from ingest_server import IngestServer

from detector.backends.registry import ssd_model_info
from detector.sinks.spool import Spool
from detector.vehicle_colour import DVLA_COLOURS

pytestmark = pytest.mark.slow


def _detect(clip: Path, spool: Path, *api: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tipwatch",
            "detect",
            "--source",
            str(clip),
            "--spool",
            str(spool),
            "--start-time",
            "2026-11-24T09:00:00+00:00",
            "--no-progress",
            *api,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def test_dumping_is_spooled_with_before_act_after_stills_and_a_clip(
    samples_dir: Path, tmp_path: Path
) -> None:
    _detect(samples_dir / "dumping_no_vehicle.mp4", tmp_path / "spool")
    pending = Spool(tmp_path / "spool").pending()
    assert len(pending) == 1
    event = pending[0]
    payload = event.payload
    assert payload["type"] == "dumping"
    assert payload["model"]["sha256"] == ssd_model_info().sha256
    assert payload["rule_version"] == "rules/1"
    assert payload["clock_source"] == "stream"
    assert payload["started_at"].startswith("2026-11-24T09:00")
    roles = {(f["role"], f["kind"]) for f in payload["files"]}
    for role in ("before", "act", "after"):
        assert (role, "original") in roles and (role, "annotated") in roles
    assert ("clip", "original") in roles
    assert event.verify() == []  # every file on disk matches its declared SHA-256 and size
    clip = next(f for f in event.files if f.media_type == "video/mp4")
    assert clip.size > 10_000


def test_dumping_soon_after_the_footage_starts_has_a_before_still_and_deposit_crops_in_context(
    samples_dir: Path, tmp_path: Path
) -> None:
    """dumping_layby: the minibus is in view 4.4 s after the footage starts.  Before: the event had
    no before still (no snapshot 5 s before that) and its deposit crops were strips of 29×40 px."""
    _detect(samples_dir / "dumping_layby.mp4", tmp_path / "spool")
    (event,) = [e for e in Spool(tmp_path / "spool").pending() if e.payload["type"] == "dumping"]
    payload = event.payload
    files = {f["name"]: f for f in payload["files"]}
    assert files["before.jpg"]["role"] == "before" and "before.annotated.jpg" in files
    started = datetime.fromisoformat(payload["started_at"])
    assert datetime.fromisoformat(files["before.jpg"]["captured_at"]) < started
    assert str(payload["details"]["before_still"]).startswith("snapshot ")
    crops = [f for f in event.files if files[f.name]["role"] == "deposit" and ".annotated" not in f.name]
    assert crops
    for crop in crops:
        image = cv2.imread(str(crop.path))
        assert image is not None
        h, w = image.shape[:2]
        assert min(w, h) >= 160 and max(w, h) <= 2 * min(w, h), f"{crop.name} is {w}x{h}"
    assert event.verify() == []


def test_vehicle_visit_is_spooled_with_arrival_vehicle_and_departure(
    samples_dir: Path, tmp_path: Path
) -> None:
    _detect(samples_dir / "park_and_leave.mp4", tmp_path / "spool")
    pending = Spool(tmp_path / "spool").pending()
    assert [e.payload["type"] for e in pending] == ["vehicle_visit"]
    payload = pending[0].payload
    roles = {f["role"] for f in payload["files"]}
    assert {"arrival", "vehicle", "departure", "clip"} <= roles
    assert payload["details"]["present_at_start"] is False
    # described as an officer matches it against a keeper enquiry: type in words, a DVLA colour
    assert payload["details"]["vehicle_type"] in {"car", "van or lorry", "bus or minibus", "motorcycle"}
    assert payload["details"]["vehicle_colour"] in DVLA_COLOURS
    assert 0.0 < payload["details"]["vehicle_colour_share"] <= 1.0
    assert "plate" in payload  # read (OCR) on the best vehicle view; may be null on this sprite
    assert pending[0].verify() == []


def test_a_restart_cleans_what_a_killed_worker_left_half_written(samples_dir: Path, tmp_path: Path) -> None:
    spool_root = tmp_path / "spool"
    Spool(spool_root)  # creates tmp/ pending/ sent/ dead/
    half = spool_root / "tmp" / "01a20ecc-0000-7000-8000-000000000001"
    half.mkdir(parents=True)
    (half / "act.jpg").write_bytes(b"\xff\xd8\xff truncated by a kill")  # no event.json: never completed
    proc = _detect(samples_dir / "drive_through.mp4", spool_root)
    assert not half.exists()
    assert "1 half-written removed" in proc.stderr
    assert Spool(spool_root).pending() == []


def test_processing_the_same_file_again_stores_nothing_twice(samples_dir: Path, tmp_path: Path) -> None:
    """Before: a second `tipwatch detect` over the same file stored a second event with a new id and
    the same camera, times and file hashes.  Now the id comes from what the event is and the payload
    repeats byte for byte, so the API answers 'already stored' (200), never 409."""
    server = IngestServer(tmp_path / "server")
    server.start()
    try:
        for run in ("first", "again"):
            _detect(
                samples_dir / "dumping_no_vehicle.mp4",
                tmp_path / run,
                "--api",
                server.url,
                "--token",
                "device-token",
            )
    finally:
        server.stop()
    first, again = Spool(tmp_path / "first").sent(), Spool(tmp_path / "again").sent()
    assert first and [e.payload for e in first] == [e.payload for e in again]
    assert Spool(tmp_path / "again").dead() == [] and Spool(tmp_path / "again").pending() == []
    assert set(server.events) == {e.event_id for e in first} == server.complete_ids()
    assert server.count("POST", 201) == len(first) and server.count("POST", 200) == len(first)
    assert server.count("POST", 409) == 0
    assert all(n == 1 for n in server.blob_writes.values())


def test_a_service_stop_stops_like_ctrl_c(tmp_path: Path) -> None:
    """Before: SIGTERM (what systemd sends on a stop or a reboot) ended the process at once: visits
    left open, waiting deposits lost, the health file not settled.  Now it stops as Ctrl-C does."""
    vtest = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
    if not vtest.is_file():
        pytest.skip("needs Debian's opencv-doc (vtest.avi)")
    import signal
    import time

    spool = tmp_path / "spool"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tipwatch",
            "detect",
            "--source",
            str(vtest),
            "--spool",
            str(spool),
            "--start-time",
            "2026-11-24T09:00:00+00:00",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (spool / "health.json").is_file() and time.monotonic() < deadline:  # it is running
        time.sleep(0.2)
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "interrupted: closing visits" in out, out
    staging = spool / "staging"
    assert not staging.is_dir() or not any(staging.iterdir()), "the run's staging area was settled"
