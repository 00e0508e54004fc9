"""Scoring: span matching rules, and the detector on the sample clips (precision and recall 1.0)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from detector.types import EventType
from tipwatch.dev.eval import Span, TruthError, find_clips, match

D, V = EventType.DUMPING, EventType.VEHICLE_VISIT


@pytest.mark.parametrize(
    ("detected", "truth", "kind", "expected"),
    [
        ([Span(D, 10, 40)], [Span(D, 12, 90)], D, (1, 0, 0)),
        ([Span(D, 10, 40)], [Span(D, 41, 90)], D, (0, 1, 1)),  # no overlap
        ([Span(D, 10, 40)], [Span(D, 40, 90)], D, (1, 0, 0)),  # touching counts
        ([Span(V, 10, 40)], [Span(D, 12, 90)], D, (0, 0, 1)),  # wrong type never matches
        ([Span(D, 10, 40), Span(D, 20, 50)], [Span(D, 12, 90)], D, (1, 1, 0)),  # a truth event matches once
        ([Span(D, 0, 100)], [Span(D, 10, 20), Span(D, 30, 40)], D, (1, 0, 1)),  # a detection matches once
        ([], [], D, (0, 0, 0)),
    ],
)
def test_matching(
    detected: list[Span], truth: list[Span], kind: EventType, expected: tuple[int, int, int]
) -> None:
    score = match(detected, truth, kind)
    assert (score.tp, score.fp, score.fn) == expected


def test_bad_truth_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"not really a video")
    (tmp_path / "clip.truth.json").write_text('{"events": [{"type": "littering", "start_s": 1, "end_s": 2}]}')
    with pytest.raises(TruthError, match=r"clip\.truth\.json"):
        find_clips(tmp_path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"event": [{"type": "dumping", "start_s": 1, "end_s": 2}]}', "events: Field required"),
        ('{"events": [{"type": "dumping", "start": 1, "end_s": 2}]}', "events.0.start_s: Field required"),
        ('{"events": [], "conditions": "rain"}', "conditions: Input should be a valid array"),
        ('{"events": [{"type": "dumping", "start_s": NaN, "end_s": 2}]}', "events.0.start_s"),
        ('{"events": [{"type": "dumping", "start_s": 5, "end_s": 2}]}', "end_s 2.0 is before start_s 5.0"),
        ('{"events": [{"type": "dumping", "start_s": -1, "end_s": 2}]}', "greater than or equal to 0"),
        ('[{"type": "dumping", "start_s": 1, "end_s": 2}]', "file: Input should be an object"),
        ('{"events": [', "Invalid JSON"),
    ],
)
def test_a_truth_file_with_a_mistake_is_refused_saying_what_is_wrong(
    tmp_path: Path, text: str, says: str
) -> None:
    """A misspelt key or a string where a list belongs would otherwise score silently wrong."""
    (tmp_path / "clip.mp4").write_bytes(b"not really a video")
    (tmp_path / "clip.truth.json").write_text(text)
    with pytest.raises(TruthError, match=r"clip\.truth\.json") as raised:
        find_clips(tmp_path)
    assert says in str(raised.value)


@pytest.mark.slow
def test_eval_on_the_sample_clips_is_perfect(samples_dir: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tipwatch", "eval", str(samples_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["clips"] == 7
    assert summary["precision"] == 1.0 and summary["recall"] == 1.0, out.stdout
    assert summary["tp"] == 2  # dumping_layby (three items, one event) and dumping_no_vehicle
    visits = summary["vehicle_visit"]
    assert visits["precision"] == 1.0 and visits["recall"] == 1.0, out.stdout
    assert visits["tp"] == 2  # dumping_layby, park_and_leave; none for drive_through
    assert summary["realtime_factor"] > 1.0
