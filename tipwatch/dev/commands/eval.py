"""``tipwatch eval DIR [--json]``: run the detector over every clip with a truth file and score it."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from tipwatch.dev.eval import TruthError, evaluate

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, help="folder of NAME.mp4 + NAME.truth.json clips")
    parser.add_argument(
        "--json", action="store_true", help="print the summary as one JSON object (last line)"
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="clips scored in parallel (default: CPU cores)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        results, summary = evaluate(args.directory, jobs=args.jobs)
    except TruthError as exc:
        logger.error("%s", exc)
        return 2
    for r in results:
        d, v = r.scores["dumping"], r.scores["vehicle_visit"]
        print(
            f"{r.name:<24} dumping tp={d.tp} fp={d.fp} fn={d.fn}  visits tp={v.tp} fp={v.fp} fn={v.fn}  "
            f"detected={[(s.type.value, round(s.start_s, 1), round(s.end_s, 1)) for s in r.detected]}  "
            f"{r.seconds_of_video:.0f}s video in {r.wall_seconds:.1f}s"
        )
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"dumping precision {summary['precision']:.2f} recall {summary['recall']:.2f}; "
            f"visits precision {summary['vehicle_visit']['precision']:.2f} "
            f"recall {summary['vehicle_visit']['recall']:.2f}; realtime x{summary['realtime_factor']}"
        )
    return 0
