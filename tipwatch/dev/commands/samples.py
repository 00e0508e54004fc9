"""``tipwatch samples make DIR``: render the synthetic sample clips; ``tipwatch samples real DIR``: the
real-footage evaluation set (deposits and conditions composited onto Debian's opencv-doc CCTV);
``tipwatch samples plates DIR``: the plate test set (UK plates on real vehicle photographs)."""

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
    real = sub.add_parser(
        "real",
        help="render the real-footage evaluation set (45 clips, ~8 MB each; up-to-date clips are kept)",
        description=(
            "Composite deposits, people, vehicles, lighting, camera moves, weather and stream faults onto "
            "real CCTV (vtest.avi from Debian's opencv-doc) and write NAME.mp4|ts + NAME.truth.json into DIR."
        ),
    )
    real.add_argument(
        "directory",
        type=Path,
        nargs="?",
        default=Path("sample_clips/real"),
        help="output folder (default: sample_clips/real)",
    )
    real.add_argument("--only", nargs="+", metavar="NAME", help="render only these scenes")
    real.add_argument(
        "--jobs", type=int, default=None, help="clips rendered in parallel (default: CPU cores)"
    )
    plates = sub.add_parser(
        "plates",
        help="render the plate test set (vNNNN-K.jpg + vNNNN-K.truth.json, plates.json)",
        description=(
            "Draw UK plates of every format onto real vehicle photographs (20-60 px, 0-30 degrees, blur, "
            "JPEG 40-90, night, yellow and white, one and two lines) and write each view with its truth."
        ),
    )
    plates.add_argument(
        "directory",
        type=Path,
        nargs="?",
        default=Path("sample_clips/plates"),
        help="output folder (default: sample_clips/plates)",
    )
    plates.add_argument("--vehicles", type=int, default=120, help="vehicles (default 120, as the benchmark)")
    plates.add_argument("--seed", type=int, default=13, help="the set's seed (default 13, as the benchmark)")


def _plates(args: argparse.Namespace) -> int:
    from tipwatch.dev.plateset import FontMissing, PhotoMissing, write_plate_set

    try:
        paths = write_plate_set(args.directory, vehicles=args.vehicles, seed=args.seed)
    except (FontMissing, PhotoMissing) as exc:
        logger.error("%s", exc)
        return 2
    for path in paths:
        print(path)
    return 0


def _real(args: argparse.Namespace) -> int:
    from tipwatch.dev.realset import FootageError, make_real_set
    from tipwatch.dev.realset.catalogue import scenes

    names = {sc.name for sc in scenes()}
    unknown = sorted(set(args.only or ()) - names)
    if unknown:
        logger.error("no real-footage scene %s (there are: %s)", ", ".join(unknown), ", ".join(sorted(names)))
        return 2
    started = time.perf_counter()
    try:
        paths = make_real_set(args.directory, only=args.only, jobs=args.jobs)
    except FootageError as exc:
        logger.error("%s", exc)
        return 2
    for path in paths:
        print(path)
    logger.info(
        "%d real-footage clips ready in %s (%.1f s)",
        len(paths),
        args.directory,
        time.perf_counter() - started,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    if args.samples_command == "real":
        return _real(args)
    if args.samples_command == "plates":
        return _plates(args)
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
