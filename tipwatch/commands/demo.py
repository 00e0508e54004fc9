"""``tipwatch demo``: the whole chain on the sample clips, on the embedded default (SQLite)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clips", type=Path, default=Path("sample_clips"), help="sample clip directory")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("var/demo"),
        help="data directory (emptied first, but only if an earlier demo made it)",
    )
    parser.add_argument("--keep", action="store_true", help="keep an existing data directory")


def run(args: argparse.Namespace) -> int:
    from tipwatch.demo import DemoError, run_demo

    try:
        return run_demo(clips_dir=args.clips, data_dir=args.data, keep=args.keep, verbose=args.verbose)
    except DemoError as exc:
        logger.error("demo failed: %s", exc)
        return 1
