"""Detector speed benchmark: decode floor, naive pipeline, gated pipeline, eight 720p cameras.

    python benchmarks/detector.py [--json] [--frames N]      (or: tipwatch bench detector --json)

Prints one JSON object (the last line):
- ``decode_fps``: decoding vtest.avi alone (the floor any pipeline sits above);
- ``naive_fps``: SSD on every full frame + tracker (+ the same scene model and rules);
- ``gated_fps``: our pipeline (motion gate, crops, capped detector rate, sampled scene model);
- ``speedup_vs_naive`` (wall clock) and ``speedup_vs_naive_cpu`` (CPU seconds of this process,
  which other load on the box does not move); ``same_events``: naive and gated flag the same
  dumping events on vtest with a bin bag pasted in at 20 s (and both exactly one);
- ``quiet_*``: decode vs gated on quiet footage (vtest's first frame held, with real sensor noise
  from the clip's own frame differences; the fastest of ``quiet_repeats`` interleaved runs of
  each) and ``fraction_of_decode_limit``;
- ``eight_cams_720p``: eight pipelines (one process, a thread each, evidence on: the camera's packets
  kept for clips) over vtest upscaled to 1280×720 and encoded as H.264 like a camera's stream, at
  the clip's 10 fps: the real-time factor of the slowest camera and the peak RSS (MB, not
  tracemalloc: OpenCV's native memory counts) of the process and per camera;
- ``one_cam_720p``: the same camera alone in a fresh process: its peak RSS, and whether PyTorch was
  imported (it must not be on the default backend).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detector.backends import create_detector
from detector.clips import write_h264
from detector.config import default_site
from detector.pipeline import CameraPipeline, GateSettings, configure_threads
from detector.sources import FileSource
from tipwatch.dev.composite import VTEST, with_deposit
from tipwatch.dev.eval import measure_camera, measure_cameras_in_threads

logger = logging.getLogger(__name__)
START = datetime(2026, 1, 1, tzinfo=UTC)
PASTE_FRAME = 200  # 20 s into vtest
QUIET_REPEATS = 3  # quiet decode and gated runs, interleaved; the fastest of each is kept


def _frames(path: str, limit: int | None) -> Any:
    source = FileSource(path, "cam-1", start_time=START)
    for frame in source.frames():
        if limit is not None and frame.index >= limit:
            break
        yield frame
    source.close()


def decode_fps(path: str, limit: int | None = None) -> float:
    t0 = time.perf_counter()
    n = sum(1 for _ in _frames(path, limit))
    return n / (time.perf_counter() - t0)


def pipeline_run(path: str, naive: bool, limit: int | None, paste: bool) -> dict[str, Any]:
    site = default_site("bench")
    pipeline = CameraPipeline(site, site.camera(), create_detector(), gate=GateSettings(naive=naive))
    frames = _frames(path, limit)
    if paste:
        frames = with_deposit(frames, PASTE_FRAME)
    t0, c0 = time.perf_counter(), time.process_time()
    events = pipeline.run(frames)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    dumping = [(round(e.start_video_s, 1), round(e.end_video_s, 1)) for e in events if e.type == "dumping"]
    return {
        "fps": pipeline.metrics.frames / wall,
        "cpu_s": cpu,
        "dumping": dumping,
        "visits": sum(1 for e in events if e.type == "vehicle_visit"),
        "metrics": pipeline.metrics.as_dict(),
    }


def make_quiet_clip(out: Path, seconds: float = 60.0) -> Path:
    """vtest's empty-ish first frame held still, with the clip's own frame-to-frame noise added,
    encoded as H.264 (what a camera sends)."""
    cap = cv2.VideoCapture(VTEST)
    ok, first = cap.read()
    ok2, second = cap.read()
    cap.release()
    if not (ok and ok2):
        raise RuntimeError(f"cannot read {VTEST}")
    noise_sigma = float(np.std(first.astype(np.int16) - second.astype(np.int16))) * 0.3
    rng = np.random.default_rng(0)

    def frames() -> Any:
        for i in range(int(seconds * 10)):
            noise = rng.normal(0, noise_sigma, first.shape)
            yield i / 10.0, (first.astype(np.float32) + noise).clip(0, 255).astype(np.uint8)

    write_h264(frames(), out)
    return out


def make_720p(out: Path) -> Path:
    """vtest upscaled to 1280×720 and encoded as H.264 at its 10 fps."""
    cap = cv2.VideoCapture(VTEST)

    def frames() -> Any:
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield (
                i / 10.0,
                np.asarray(cv2.resize(frame, (1280, 720), interpolation=cv2.INTER_LINEAR), np.uint8),
            )
            i += 1

    write_h264(frames(), out)
    cap.release()
    return out


def one_camera(path: Path) -> dict[str, Any]:
    """One 720p camera alone in a fresh (spawned) process: its peak RSS and whether torch was loaded."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        r = pool.submit(measure_camera, str(path)).result()
    return {
        "peak_rss_mb": round(r["peak_rss_mb"], 1),
        "realtime_factor": round(r["video_s"] / r["wall_s"], 2),
        "torch_imported": bool(r["torch_imported"]),
    }


def many_cameras(path: Path, cams: int = 8) -> dict[str, Any]:
    """``cams`` 720p cameras at 10 fps on one box, the way the worker runs them: one process, one
    pipeline (thread) per camera.  Spawned fresh so its peak RSS is the cameras' alone."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        r = pool.submit(measure_cameras_in_threads, str(path), cams).result()
    return {
        "cameras": cams,
        "resolution": "1280x720",
        "mode": (
            "tipwatch detect --all-cameras: one process, a thread per camera, 1 OpenCV thread each, "
            "one shared detector pool and plate reader, evidence (packet ring) and spool on"
        ),
        "detector_instances": int(r["detector_instances"]),
        "fps_per_camera_needed": 10.0,
        "fps_per_camera_achieved": round(r["video_s"] * 10.0 / r["slowest_wall_s"], 1),
        "realtime_factor": round(r["video_s"] / r["slowest_wall_s"], 2),
        "wall_s": round(r["wall_s"], 1),
        "peak_rss_mb_process": round(r["peak_rss_mb_process"], 1),
        "peak_rss_mb_per_camera": round(r["peak_rss_mb_per_camera"], 1),
        "evidence_ring_mb_total": round(r["evidence_ring_mb_total"], 1),
    }


def measure(limit: int | None = None, skip_many: bool = False, cameras: int = 8) -> dict[str, Any]:
    configure_threads(min(2, os.cpu_count() or 1))
    result: dict[str, Any] = {"cpu_cores": os.cpu_count(), "footage": Path(VTEST).name}
    result["decode_fps"] = round(decode_fps(VTEST, limit), 1)
    gated = pipeline_run(VTEST, naive=False, limit=limit, paste=True)
    naive = pipeline_run(VTEST, naive=True, limit=limit, paste=True)
    result["naive_fps"] = round(naive["fps"], 1)
    result["gated_fps"] = round(gated["fps"], 1)
    result["speedup_vs_naive"] = round(gated["fps"] / naive["fps"], 2)
    # Wall-clock fps move with whatever else the box is running; CPU seconds of this process do not.
    result["naive_cpu_s"] = round(naive["cpu_s"], 2)
    result["gated_cpu_s"] = round(gated["cpu_s"], 2)
    result["speedup_vs_naive_cpu"] = round(naive["cpu_s"] / gated["cpu_s"], 2)
    result["gated_dumping"] = gated["dumping"]
    result["naive_dumping"] = naive["dumping"]
    result["same_events"] = len(gated["dumping"]) == len(naive["dumping"]) and all(
        g[0] <= n[1] and n[0] <= g[1] for g, n in zip(gated["dumping"], naive["dumping"], strict=True)
    )
    result["gated_detector_runs"] = gated["metrics"]["detector_runs"]
    result["naive_detector_runs"] = naive["metrics"]["detector_runs"]
    with tempfile.TemporaryDirectory() as tmp:
        quiet = make_quiet_clip(Path(tmp) / "quiet.avi")
        # Both take about a second: one run each is at the mercy of whatever else the box does for
        # that second, so each is measured QUIET_REPEATS times, interleaved, and the fastest of
        # each kept (as timeit does): the figure is the pipeline's cost, not the box's noise.
        q_decode, q_gated = 0.0, 0.0
        for _ in range(QUIET_REPEATS):
            q_decode = max(q_decode, decode_fps(str(quiet)))
            q_gated = max(q_gated, pipeline_run(str(quiet), naive=False, limit=None, paste=False)["fps"])
        result["quiet_decode_fps"] = round(q_decode, 1)
        result["quiet_gated_fps"] = round(q_gated, 1)
        result["quiet_repeats"] = QUIET_REPEATS
        result["fraction_of_decode_limit"] = round(q_gated / q_decode, 3)
        if not skip_many:
            clip720 = make_720p(Path(tmp) / "vtest720.mp4")
            result["one_cam_720p"] = one_camera(clip720)
            result["eight_cams_720p"] = many_cameras(clip720, cameras)
    result["peak_rss_mb_this_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--frames", type=int, default=None, help="limit frames of vtest (default: all 795)")
    parser.add_argument(
        "--skip-720p", action="store_true", help="skip the 720p runs (one camera, then --cameras)"
    )
    parser.add_argument("--cameras", type=int, default=8, help="cameras in the 720p run (default 8)")


def run(args: argparse.Namespace) -> int:
    result = measure(args.frames, args.skip_720p, args.cameras)
    if not args.json:
        for key, value in result.items():
            print(f"{key:>28}: {value}", file=sys.stderr)
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Script entry (``python benchmarks/detector.py``): warnings only on the console, then :func:`run`."""
    logging.basicConfig(level=logging.WARNING)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
