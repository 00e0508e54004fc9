"""``tipwatch eval DIR [--json]``: run the detector over every clip with a truth file and score it."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

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


def _pct(score: dict[str, float | int]) -> str:
    return f"{score['precision']:.2f}/{score['recall']:.2f} ({score['tp']}/{score['fp']}/{score['fn']})"


def _spread(value: dict[str, float] | None) -> str:
    return "-" if not value else f"{value['median']:+.1f} [{value['min']:+.1f}, {value['max']:+.1f}]"


def condition_table(summary: dict[str, Any]) -> str:
    """The per-condition table: dumping and visit precision/recall (tp/fp/fn), start error and alert
    delay of matched dumping events (median [min, max] seconds)."""
    lines = [
        f"{'condition':<22} {'clips':>5}  {'dumping P/R (tp/fp/fn)':<24} {'visits P/R (tp/fp/fn)':<24} "
        f"{'start error s':<22} {'alert delay s':<22}"
    ]
    for tag, c in summary["conditions"].items():
        lines.append(
            f"{tag:<22} {c['clips']:>5}  {_pct(c['dumping']):<24} {_pct(c['vehicle_visit']):<24} "
            f"{_spread(c['start_error_s']):<22} {_spread(c['alert_delay_s']):<22}"
        )
    lines.append(f"false dumping events on control clips: {summary['false_dumping_on_controls']}")
    return "\n".join(lines)


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
    if any(r.conditions for r in results):
        print(condition_table(summary))
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"dumping precision {summary['precision']:.2f} recall {summary['recall']:.2f}; "
            f"visits precision {summary['vehicle_visit']['precision']:.2f} "
            f"recall {summary['vehicle_visit']['recall']:.2f}; realtime x{summary['realtime_factor']}"
        )
    return 0
