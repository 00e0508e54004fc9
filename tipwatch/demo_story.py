"""What ``tipwatch demo`` tells a person: six steps, what happened in each, and a summary.

Printed to stdout, one short line per fact; progress bars and (with ``-v``) log lines go to stderr.
Detected events are scored against the clip's ground truth with the same rule as ``tipwatch eval``
(:func:`tipwatch.dev.eval.match`: same type and overlapping time spans, each truth event once).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from detector.types import EventType
from tipwatch.dev.eval import TYPES, Score, Span, match

STEPS = 6
INDENT = " " * 6


def duration(seconds: float) -> str:
    """``48 s`` or ``3 min 05 s``: how long a step took, for a person."""
    whole = round(seconds)
    return f"{whole} s" if whole < 60 else f"{whole // 60} min {whole % 60:02d} s"


def clock(seconds: float) -> str:
    """``1:14``: a time into a clip, minutes and seconds."""
    whole = max(0, round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def plural(count: int, noun: str) -> str:
    """``1 event``, ``3 events``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _kind(event_type: str) -> str:
    return event_type.replace("_", " ")


@dataclass(slots=True)
class ClipResult:
    """One clip's run: its capture start, its ground truth and the events the API received.

    ``truth``: the truth file's ``events`` (``{"type", "start_s", "end_s"}``); ``events``: the API's
    event records (``EventOut`` as JSON), oldest first.
    """

    name: str
    start: datetime
    truth: list[dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)

    def offset_s(self, timestamp: str) -> float:
        """Seconds into the clip of an ISO timestamp from the API."""
        return (datetime.fromisoformat(timestamp) - self.start).total_seconds()

    def detected_spans(self) -> list[Span]:
        return [
            Span(EventType(e["type"]), self.offset_s(e["started_at"]), self.offset_s(e["ended_at"]))
            for e in self.events
        ]

    def truth_spans(self) -> list[Span]:
        return [Span(EventType(t["type"]), float(t["start_s"]), float(t["end_s"])) for t in self.truth]

    def scores(self) -> dict[EventType, Score]:
        detected, truth = self.detected_spans(), self.truth_spans()
        return {kind: match(detected, truth, kind) for kind in TYPES}


def _total(results: list[ClipResult]) -> Score:
    total = Score()
    for r in results:
        for score in r.scores().values():
            total.add(score)
    return total


def _verdict(result: ClipResult) -> str:
    missed = [_kind(k.value) for k, s in result.scores().items() for _ in range(s.fn)]
    false_alarms = [_kind(k.value) for k, s in result.scores().items() for _ in range(s.fp)]
    if not missed and not false_alarms:
        return "✓"
    parts = []
    if missed:
        parts.append("missed " + ", ".join(missed))
    if false_alarms:
        parts.append("false alarm " + ", ".join(false_alarms))
    return "✗ " + "; ".join(parts)


@dataclass(slots=True)
class Story:
    """The demo's console narration; ``log`` is where the full log goes."""

    log: Path
    started: float = field(default_factory=time.perf_counter)

    def intro(self) -> None:
        print("Tipwatch demo: sample clips → detector → evidence API → officer review → case → signed bundle")
        print(f"Full log: {self.log} (`tipwatch -v demo` also shows it here)")

    def step(self, number: int, text: str) -> None:
        print(f"[{number}/{STEPS}] {text}")

    def line(self, text: str) -> None:
        print(INDENT + text)

    def samples_ready(self, count: int, *, rendered_frames: int, seconds: float) -> None:
        if rendered_frames:
            self.line(f"{count} clips ready: {rendered_frames:,} frames rendered in {duration(seconds)}")
        else:
            self.line(f"{count} clips ready (already rendered and up to date)")

    def api_ready(self, *, credentials: Path, site: str, camera: str) -> None:
        self.line(f"users admin, officer and legal (password in {credentials})")
        self.line(f"site {site}, camera {camera} with its device token, a council signing key")

    def authorised(self, *, urn: str, camera: str) -> None:
        self.line(f"overt-camera DPIA and signage record {urn} covers {camera}")

    def detected(self, results: list[ClipResult], *, seconds: float) -> None:
        events = plural(sum(len(r.events) for r in results), "event")
        clips = plural(len(results), "clip")
        self.line(f"{events} from {clips} uploaded in {duration(seconds)}; every spool is empty")

    def clip_table(self, results: list[ClipResult]) -> None:
        width = max(len(r.name) for r in results) + 2
        for r in results:
            found = ", ".join(sorted(_kind(e["type"]) for e in r.events)) or "nothing"
            truth = ", ".join(sorted(_kind(t["type"]) for t in r.truth)) or "nothing"
            self.line(f"{r.name:<{width}} found {found:<26} truth {truth:<26} {_verdict(r)}")
        total = _total(results)
        alarms = "no false alarms" if not total.fp else plural(total.fp, "false alarm")
        self.line(f"{total.tp} of {plural(total.tp + total.fn, 'event')} found, {alarms}")

    def reviewed(self, clip: ClipResult, event: dict[str, Any], *, reason: str, case: dict[str, Any]) -> None:
        span = f"{clock(clip.offset_s(event['started_at']))}–{clock(clip.offset_s(event['ended_at']))}"
        self.line(f"confirmed the {_kind(event['type'])} on {clip.name} ({span} into the clip)")
        self.line(f"reason given: {reason}")
        self.line(f"opened case {case['reference']}: {case['title']}")
        self.line(f"officer in charge {case['officer_in_charge']}")

    def verified(self, report: str) -> None:
        for text in report.splitlines():
            self.line(text)

    def summary(
        self,
        *,
        results: list[ClipResult],
        case: dict[str, Any],
        bundle_path: Path,
        bundle: dict[str, Any],
        data_dir: Path,
        ok: bool,
    ) -> None:
        total = _total(results)
        print()
        print(f"Done in {duration(time.perf_counter() - self.started)}.")
        print(
            f"Detector:      {total.tp} of {plural(total.tp + total.fn, 'event')} found in "
            f"{plural(len(results), 'clip')}, {plural(total.fp, 'false alarm')}"
        )
        print(f"Case:          {case['reference']} ({plural(len(case['event_ids']), 'confirmed event')})")
        print(
            f"Bundle:        {bundle_path} ({len(bundle['exhibits'])} exhibits, "
            f"key fingerprint {bundle['fingerprint']})"
        )
        print(f"Verified:      {'OK' if ok else 'FAILED (problems listed above)'}")
        print(f"Verify again:  tipwatch bundle verify {bundle_path}")
        print(f"Review page:   tipwatch serve --data {data_dir}   then open http://127.0.0.1:8000/review")
        print(f"Sign in:       see {data_dir / 'demo-credentials.txt'}")
        print(f"Full log:      {self.log}")
