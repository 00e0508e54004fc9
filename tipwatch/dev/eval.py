"""Scoring the detector against ground truth (``NAME.truth.json`` next to ``NAME.mp4``).

Truth format (docs/architecture.md): ``{"events": [{"type": "dumping" | "vehicle_visit", "start_s": float,
"end_s": float, "deposit_s": float (optional)}], "site": "optional/path/to/site.yaml",
"conditions": ["tag", ...] (optional)}``; a clip without a site file uses the whole frame as the
hotspot zone.  ``conditions`` name what the clip exercises (``single_bag``, ``camera_nudge``,
``control``, ...): the summary scores every condition separately.  A detected event matches a truth
event of the same type when their time spans overlap (touching counts); each truth event matches at
most once.  Precision with no detections and recall with no truth events are 1.0 (nothing claimed
wrongly / nothing missed).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detector.config import SiteConfig, default_site, load_site
from detector.types import EventType

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".ts")
TYPES = (EventType.DUMPING, EventType.VEHICLE_VISIT)


class TruthError(ValueError):
    """A truth file is malformed; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Span:
    type: EventType
    start_s: float
    end_s: float
    deposit_s: float | None = None  # truth only: when the deposit was put down

    def overlaps(self, other: Span) -> bool:
        return self.type == other.type and self.start_s <= other.end_s and other.start_s <= self.end_s


@dataclass(slots=True)
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
        }


def match(detected: Sequence[Span], truth: Sequence[Span], kind: EventType) -> Score:
    """Greedy one-to-one matching of same-type spans by overlap (largest overlap first)."""
    return match_pairs(detected, truth, kind)[0]


def match_pairs(
    detected: Sequence[Span], truth: Sequence[Span], kind: EventType
) -> tuple[Score, list[tuple[Span, Span]]]:
    """:func:`match`, also returning the matched (detected, truth) pairs."""
    det = [d for d in detected if d.type == kind]
    tru = [t for t in truth if t.type == kind]
    pairs = []
    for i, d in enumerate(det):
        for j, t in enumerate(tru):
            if d.overlaps(t):
                pairs.append((min(d.end_s, t.end_s) - max(d.start_s, t.start_s), i, j))
    used_d: set[int] = set()
    used_t: set[int] = set()
    matched: list[tuple[Span, Span]] = []
    for _ov, i, j in sorted(pairs, reverse=True):
        if i not in used_d and j not in used_t:
            used_d.add(i)
            used_t.add(j)
            matched.append((det[i], tru[j]))
    score = Score(tp=len(used_d), fp=len(det) - len(used_d), fn=len(tru) - len(used_t))
    return score, matched


@dataclass(slots=True)
class Clip:
    name: str
    video: Path
    truth: list[Span]
    site_path: Path | None
    conditions: list[str] = field(default_factory=list)


class _TruthEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    type: EventType
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    deposit_s: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> _TruthEvent:
        if self.end_s < self.start_s:
            raise ValueError(f"end_s {self.end_s} is before start_s {self.start_s}")
        return self


class _TruthFile(BaseModel):
    """``NAME.truth.json`` (docs/architecture.md): misspelt keys, strings where lists belong and
    non-finite times are refused, so a broken truth file cannot quietly score every detection a
    false alarm."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    events: list[_TruthEvent]
    site: str | None = None
    conditions: list[str] = Field(default_factory=list)
    summary: str = ""  # what the clip shows, for people
    generator: str | None = None  # the tool version that made it (cache key)
    duration_s: float | None = Field(default=None, ge=0)


def load_truth(path: Path) -> tuple[list[Span], Path | None, list[str]]:
    """(truth spans, site file or None, condition tags) of one ``NAME.truth.json``; TruthError names
    the file and what is wrong with it."""
    try:
        doc = _TruthFile.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise TruthError(f"{path}: cannot read the truth file ({exc})") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise TruthError(f"{path}: not a valid truth file ({problems})") from None
    spans = [Span(e.type, e.start_s, e.end_s, e.deposit_s) for e in doc.events]
    return spans, (path.parent / doc.site) if doc.site else None, doc.conditions


def find_clips(directory: Path) -> list[Clip]:
    """Every ``NAME.truth.json`` in ``directory`` with its video ``NAME.<ext>``."""
    clips = []
    for truth_path in sorted(directory.glob("*.truth.json")):
        stem = truth_path.name[: -len(".truth.json")]
        video = next(
            (directory / f"{stem}{s}" for s in VIDEO_SUFFIXES if (directory / f"{stem}{s}").is_file()), None
        )
        if video is None:
            logger.warning("%s has no video (%s), skipped", truth_path.name, "/".join(VIDEO_SUFFIXES))
            continue
        spans, site_path, conditions = load_truth(truth_path)
        clips.append(Clip(stem, video, spans, site_path, conditions))
    return clips


@dataclass(slots=True)
class ClipResult:
    name: str
    detected: list[Span]
    truth: list[Span]
    seconds_of_video: float
    wall_seconds: float
    scores: dict[str, Score] = field(default_factory=dict)
    conditions: list[str] = field(default_factory=list)
    start_errors_s: list[float] = field(default_factory=list)  # matched dumping: detected - true start
    alert_delays_s: list[float] = field(default_factory=list)  # matched dumping: confirmed - deposited


def run_clip(clip: Clip, threads: int | None = None) -> ClipResult:
    """Run the real detector over one clip (no evidence files) and score it."""
    from detector.backends import create_detector
    from detector.pipeline import CameraPipeline, configure_threads
    from detector.sources import FileSource

    configure_threads(threads)
    site: SiteConfig = load_site(clip.site_path) if clip.site_path else default_site(clip.name)
    camera = site.camera()
    source = FileSource(clip.video, camera.id, start_time=datetime(2026, 1, 1, tzinfo=UTC))
    pipeline = CameraPipeline(site, camera, create_detector(site.detector))
    t0 = time.perf_counter()
    try:
        events = pipeline.run(source.frames())
    finally:
        source.close()
    wall = time.perf_counter() - t0
    detected = [Span(e.type, e.start_video_s, e.end_video_s) for e in events]
    result = ClipResult(
        clip.name, detected, clip.truth, pipeline.metrics.video_seconds, wall, conditions=clip.conditions
    )
    for kind in TYPES:
        score, pairs = match_pairs(detected, clip.truth, kind)
        result.scores[kind.value] = score
        if kind is EventType.DUMPING:
            for det, tru in pairs:
                result.start_errors_s.append(round(det.start_s - tru.start_s, 2))
                if tru.deposit_s is not None:
                    result.alert_delays_s.append(round(det.end_s - tru.deposit_s, 2))
    return result


def evaluate(directory: Path, jobs: int | None = None) -> tuple[list[ClipResult], dict[str, Any]]:
    """Score every clip in ``directory``; returns per-clip results and the summary object."""
    clips = find_clips(directory)
    if not clips:
        raise TruthError(f"no NAME.truth.json files with videos in {directory}")
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(clips)))
    t0 = time.perf_counter()
    if jobs == 1:
        results = [run_clip(c) for c in clips]
    else:
        # One process per clip, one OpenCV thread each: the cores are shared, not oversubscribed.
        # Spawned, not forked: a fork of a process whose OpenCV thread pool is running can hang.
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(run_clip, clips, [1] * len(clips)))
    wall = time.perf_counter() - t0
    return results, summarise(results, wall)


def _spread(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "median": round(ordered[len(ordered) // 2], 2),
        "min": round(ordered[0], 2),
        "max": round(ordered[-1], 2),
    }


def summarise(results: Sequence[ClipResult], wall_seconds: float) -> dict[str, Any]:
    """The whole set's scores, and per condition: dumping and visit scores, false dumping events on
    the condition's control clips, and the timing errors of matched dumping events."""
    totals = {kind.value: Score() for kind in TYPES}
    by_condition: dict[str, dict[str, Any]] = {}
    for r in results:
        for k, s in r.scores.items():
            totals[k].add(s)
        for tag in r.conditions or ["untagged"]:
            c = by_condition.setdefault(
                tag,
                {"clips": 0, "dumping": Score(), "vehicle_visit": Score(), "starts": [], "delays": []},
            )
            c["clips"] += 1
            c["dumping"].add(r.scores[EventType.DUMPING.value])
            c["vehicle_visit"].add(r.scores[EventType.VEHICLE_VISIT.value])
            c["starts"] += r.start_errors_s
            c["delays"] += r.alert_delays_s
    video = sum(r.seconds_of_video for r in results)
    starts = [e for r in results for e in r.start_errors_s]
    delays = [e for r in results for e in r.alert_delays_s]
    return {
        "clips": len(results),
        **totals[EventType.DUMPING.value].as_dict(),
        "vehicle_visit": totals[EventType.VEHICLE_VISIT.value].as_dict(),
        "start_error_s": _spread(starts),
        "alert_delay_s": _spread(delays),
        "false_dumping_on_controls": sum(
            r.scores[EventType.DUMPING.value].fp for r in results if "control" in r.conditions
        ),
        "conditions": {
            tag: {
                "clips": c["clips"],
                "dumping": c["dumping"].as_dict(),
                "vehicle_visit": c["vehicle_visit"].as_dict(),
                "start_error_s": _spread(c["starts"]),
                "alert_delay_s": _spread(c["delays"]),
            }
            for tag, c in sorted(by_condition.items())
        },
        "seconds_of_video": round(video, 2),
        "wall_seconds": round(wall_seconds, 2),
        "realtime_factor": round(video / wall_seconds, 2) if wall_seconds > 0 else None,
    }


def measure_camera(path: str, threads: int = 1) -> dict[str, float]:
    """Run one camera's pipeline over a file and report its speed and peak memory (for benchmarks).

    Meant to run in a fresh (spawned) process, so the peak RSS is this camera's alone: OpenCV's
    and the model's native memory included, which tracemalloc would not see.
    """
    import resource
    import sys

    from detector.pipeline import configure_threads

    configure_threads(threads)
    site = default_site("bench")
    camera = site.camera()
    staging = tempfile.TemporaryDirectory(prefix="tipwatch-bench-")
    pipeline, source = _camera(site, path, camera.id, Path(staging.name))
    t0 = time.perf_counter()
    try:
        pipeline.run(source.frames())
    finally:
        source.close()
        staging.cleanup()
    wall = time.perf_counter() - t0
    return {
        "video_s": pipeline.metrics.video_seconds,
        "wall_s": wall,
        "frames": pipeline.metrics.frames,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,  # Linux: KiB
        "torch_imported": float("torch" in sys.modules),
    }


def _camera(site: SiteConfig, path: str, camera_id: str, staging: Path) -> tuple[Any, Any]:
    """A camera as the worker builds it: the file's packets kept for clips, evidence written."""
    from detector.backends import create_detector
    from detector.evidence import EvidenceWriter
    from detector.evidence_policy import EvidencePolicy
    from detector.packet_ring import PacketRing
    from detector.pipeline import CameraPipeline
    from detector.sources import FileSource

    packets = PacketRing(EvidencePolicy.ring_seconds(site.performance, site.thresholds))
    source = FileSource(path, camera_id, start_time=datetime(2026, 1, 1, tzinfo=UTC), packet_ring=packets)
    pipeline = CameraPipeline(
        site,
        site.camera(),
        create_detector(),
        evidence_writer=EvidenceWriter(staging / camera_id, min_free_bytes=0),
        packets=packets,
    )
    return pipeline, source


def measure_cameras_in_threads(path: str, cameras: int = 8) -> dict[str, float]:
    """Run ``cameras`` cameras over the same file concurrently the way an edge box runs them:
    ``tipwatch detect --all-cameras`` (``detector.worker.build_box``: one process, a thread per
    camera, one shared detector pool and plate reader, a spool per camera, evidence and plates on).
    Meant for a fresh spawned process so the peak RSS is only theirs."""
    import resource

    from detector.config import CameraConfig
    from detector.worker import WorkerOptions, build_box, run_box

    site = default_site("bench").model_copy(
        update={"cameras": [CameraConfig(id=f"cam-{i + 1}", source=path) for i in range(cameras)]}
    )
    staging = tempfile.TemporaryDirectory(prefix="tipwatch-bench-")
    options = WorkerOptions(
        spool_dir=Path(staging.name) / "spool", start_time=datetime(2026, 1, 1, tzinfo=UTC), progress=False
    )
    workers = build_box(site, options)
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    t0 = time.perf_counter()
    metrics = run_box(workers)
    wall = time.perf_counter() - t0
    ring_mb = sum(w.pipeline.ring_nbytes for w in workers) / 1e6
    staging.cleanup()
    if len(metrics) != cameras:
        raise RuntimeError(f"only {len(metrics)} of {cameras} cameras finished: see the log")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {
        "cameras": cameras,
        "video_s": min(m.video_seconds for m in metrics.values()),
        "slowest_wall_s": wall,
        "wall_s": wall,
        "peak_rss_mb_process": peak,
        "rss_mb_with_models_loaded": baseline_mb,
        "peak_rss_mb_per_camera": peak / cameras,
        "evidence_ring_mb_total": ring_mb,
        "detector_instances": float(getattr(workers[0].pipeline.detector, "size", 1)),
    }
