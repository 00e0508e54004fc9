"""`tipwatch demo` runs the whole chain and never touches the network beyond loopback."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests_support_demo import DemoRun
from tests_support_netguard import NetGuard, is_loopback

from tipwatch.cli import console_logging
from tipwatch.demo import log_to_file
from tipwatch.demo_story import ClipResult, Story, clock, duration


@pytest.mark.parametrize(
    ("event", "args", "refused"),
    [
        ("socket.connect", (None, ("127.0.0.1", 8000)), False),
        ("socket.connect", (None, ("::1", 8000, 0, 0)), False),
        ("socket.connect", (None, "/run/postgresql/.s.PGSQL.5432"), False),
        ("socket.connect", (None, ("192.0.2.1", 443)), True),
        ("socket.sendto", (None, b"x", ("8.8.8.8", 53)), True),
        ("socket.getaddrinfo", ("pypi.org", 443, 0, 0, 0), True),
        ("socket.getaddrinfo", ("localhost", 8000, 0, 0, 0), False),
    ],
)
def test_the_guard_refuses_exactly_non_loopback_access(
    tmp_path: Path, event: str, args: tuple[object, ...], refused: bool
) -> None:
    # The hook is called directly: no packet is ever sent to a non-loopback address.
    guard = NetGuard(tmp_path / "violations.txt")
    if event == "socket.sendto":
        args = (args[0], args[2])
    if refused:
        with pytest.raises(PermissionError, match="non-loopback"):
            guard(event, args)
        assert guard.violations
    else:
        guard(event, args)
        assert not guard.violations
    assert is_loopback(("127.0.0.1", 1)) and not is_loopback((socket.gethostname() + ".example", 1))


@pytest.mark.slow
def test_demo_runs_end_to_end_offline(demo_run: DemoRun) -> None:
    out = demo_run.output
    assert not demo_run.violations.exists(), (
        f"network access outside loopback: {demo_run.violations.read_text()}"
    )
    assert demo_run.returncode == 0, out[-4000:]
    assert "RESULT: OK" in demo_run.stdout
    for clip in ("dumping_layby", "drive_through", "park_and_leave", "cloud_shadow", "dumping_no_vehicle"):
        assert clip in demo_run.stdout
    # the console tells the story; every log line is in the demo's log file, none on the console
    for step in range(1, 7):
        assert f"[{step}/6]" in demo_run.stdout
    assert "4 of 4 events found, no false alarms" in demo_run.stdout
    assert "Verified:      OK" in demo_run.stdout
    assert " INFO " not in out and " WARNING " not in out, out[-4000:]
    log = (demo_run.data / "demo.log").read_text(encoding="utf-8")
    assert " INFO detector." in log and " INFO evidence_api." in log
    assert list(demo_run.data.glob("bundle-*.zip"))
    # nothing left unsent or refused in any clip's spool
    spool = demo_run.data / "spool"
    assert not list(spool.glob("*/pending/*")) and not list(spool.glob("*/dead/*"))


START = datetime(2026, 3, 1, 14, 0, tzinfo=UTC)


def _event(kind: str, start_s: float, end_s: float) -> dict[str, str]:
    """An event as the API lists it: ISO timestamps, ``start_s`` seconds into the clip."""
    return {
        "type": kind,
        "started_at": (START + timedelta(seconds=start_s)).isoformat(),
        "ended_at": (START + timedelta(seconds=end_s)).isoformat(),
    }


def _truth(kind: str, start_s: float, end_s: float) -> dict[str, object]:
    return {"type": kind, "start_s": start_s, "end_s": end_s}


def test_the_story_scores_each_clip_against_its_truth(capsys: pytest.CaptureFixture[str]) -> None:
    layby_truth = [_truth("vehicle_visit", 6.6, 40.7), _truth("dumping", 43.5, 90.0)]
    layby_found = [_event("dumping", 4.4, 73.5), _event("vehicle_visit", 6.6, 40.7)]
    results = [
        ClipResult("dumping_layby", START, layby_truth, layby_found),
        ClipResult("late_dumping", START, [_truth("dumping", 10, 20)], [_event("dumping", 21, 30)]),
        ClipResult("quiet", START, [], []),
    ]
    Story(log=Path("demo.log")).clip_table(results)
    lines = capsys.readouterr().out.splitlines()
    assert "found dumping, vehicle visit" in lines[0] and "truth dumping, vehicle visit" in lines[0]
    assert lines[0].endswith("✓")
    assert lines[1].endswith("✗ missed dumping; false alarm dumping")  # spans do not overlap
    assert "found nothing" in lines[2] and lines[2].endswith("✓")
    assert lines[3].strip() == "2 of 3 events found, 1 false alarm"


def test_times_read_as_a_person_would_say_them() -> None:
    assert (duration(48.4), duration(60), duration(185)) == ("48 s", "1 min 00 s", "3 min 05 s")
    assert (clock(4.4), clock(73.5), clock(-0.2)) == ("0:04", "1:14", "0:00")
    clip = ClipResult("c", START, [], [_event("dumping", 4.4, 73.5)])
    assert clip.offset_s(clip.events[0]["started_at"]) == pytest.approx(4.4)


@pytest.mark.parametrize(("console", "on_console"), [(logging.WARNING, False), (logging.DEBUG, True)])
def test_log_lines_go_to_the_file_and_to_the_console_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], console: int, on_console: bool
) -> None:
    log = tmp_path / "demo.log"
    with console_logging(console), log_to_file(log, logging.INFO):
        logging.getLogger("detector.rules").info("visit 1: BUS track 1 stopped")
        logging.getLogger("httpx").info("HTTP Request: GET /api/v1/events 200")  # noise, even in the file
    text = log.read_text(encoding="utf-8")
    assert " INFO detector.rules: visit 1: BUS track 1 stopped" in text and "HTTP Request" not in text
    assert ("visit 1" in capsys.readouterr().err) is on_console
