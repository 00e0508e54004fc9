"""``tipwatch samples make DIR [--force] [--only NAME ...]``: render the synthetic sample clips."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from tqdm import tqdm

from tipwatch.dev.samples import SCENE_NAMES, SampleError, frames_to_render, make_samples

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="samples_command", metavar="ACTION", required=True)
    make = sub.add_parser(
        "make",
        help="render NAME.mp4 + NAME.truth.json for each scene (up-to-date clips are kept)",
        description="Render the synthetic sample clips and their ground truth into DIR.",
    )
    make.add_argument(
        "directory",
        type=Path,
        nargs="?",
        default=Path("sample_clips"),
        help="output folder (default: sample_clips)",
    )
    make.add_argument("--force", action="store_true", help="render again even if a clip is up to date")
    make.add_argument(
        "--only",
        nargs="+",
        choices=SCENE_NAMES,
        metavar="NAME",
        help=f"render only these scenes ({', '.join(SCENE_NAMES)})",
    )


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        total = frames_to_render(args.directory, force=args.force, only=args.only)
        # The bar goes to stderr and only while there is rendering to do; stdout stays the paths.
        with tqdm(total=total, unit="frame", desc="rendering", disable=total == 0) as bar:
            paths = make_samples(args.directory, force=args.force, only=args.only, on_frame=bar.update)
    except SampleError as exc:
        logger.error("%s", exc)
        return 2
    for path in paths:
        print(path)
    logger.info(
        "%d sample clips ready in %s (%.1f s)", len(paths), args.directory, time.perf_counter() - started
    )
    return 0
