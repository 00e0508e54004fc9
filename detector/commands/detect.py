"""``tipwatch detect``: run the detection worker for one camera of a site, or for all of them.

    tipwatch detect --site site.yaml --source URL_OR_PATH [--api URL --token T | --spool DIR]
    tipwatch detect --site site.yaml --all-cameras [--api URL --token T | --spool DIR]

With ``--all-cameras`` every camera of the site runs in this one process from its own
``cameras[].source``, with a spool per camera under ``--spool`` and one detector shared by all
(an instance per core, not per camera), which is how an edge box with several cameras saves memory.

Events (with their stills and clip) go to the spool; with ``--api`` an uploader thread sends them.
Files show a progress bar; streams log a status line every ``--status-every`` seconds and run
until interrupted, reconnecting whenever the camera drops.  This module only reads the arguments;
``detector.worker`` builds and runs everything.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
from datetime import datetime
from pathlib import Path

from detector.config import SiteConfigError, default_site, load_site
from detector.worker import WorkerError, WorkerOptions, build_box, build_worker, default_spool_dir, run_box

logger = logging.getLogger(__name__)


def _utc(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--start-time needs a timezone (e.g. {value}Z or {value}+00:00)")
    return dt


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--site", type=Path, default=None, help="site YAML (default: whole frame is the hotspot)"
    )
    parser.add_argument("--source", default=None, help="video file, image folder or rtsp:// / http(s):// URL")
    parser.add_argument("--camera", default=None, help="camera id in the site file (default: the first)")
    parser.add_argument(
        "--all-cameras",
        action="store_true",
        help="every camera of the site in this process, each from its cameras[].source, one shared detector",
    )
    parser.add_argument(
        "--spool", type=Path, default=None, help=f"spool directory (default {default_spool_dir()})"
    )
    parser.add_argument("--api", default=None, help="evidence API base URL; starts the uploader")
    parser.add_argument(
        "--token", default=os.environ.get("TIPWATCH_DEVICE_TOKEN"), help="device token for --api"
    )
    parser.add_argument(
        "--start-time", type=_utc, default=None, help="capture time of a file's first frame (ISO)"
    )
    parser.add_argument(
        "--fps",
        "--folder-fps",
        dest="fps",
        type=float,
        default=None,
        help=(
            "frame rate the camera recorded at: for an image folder (default 1) or a file without "
            "timestamps (a raw Motion-JPEG or H.264 export, which is refused without it)"
        ),
    )
    parser.add_argument(
        "--no-plates", action="store_true", help="do not read number plates on vehicle stills"
    )
    parser.add_argument(
        "--status-every", type=float, default=60.0, help="seconds between stream status lines"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar for files")


def run(args: argparse.Namespace) -> int:
    if args.api and not args.token:
        logger.error("--api needs --token (or TIPWATCH_DEVICE_TOKEN)")
        return 2
    options = WorkerOptions(
        source=args.source,
        camera_id=args.camera,
        spool_dir=args.spool,
        api_url=args.api,
        token=args.token,
        start_time=args.start_time,
        fps=args.fps,
        read_plates=not args.no_plates,
        status_every_s=args.status_every,
        progress=not args.no_progress,
    )
    if args.all_cameras and (args.source or args.camera):
        logger.error("--all-cameras takes each camera's source from the site file: drop --source/--camera")
        return 2
    if args.all_cameras and (args.start_time or args.fps):
        logger.error(
            "--all-cameras runs cameras whose files do not share a start time or frame rate: "
            "drop --start-time/--fps (run such a file alone with tipwatch detect --camera ID)"
        )
        return 2
    if args.spool is not None and args.spool.exists() and not args.spool.is_dir():
        logger.error("--spool %s is a file, not a directory", args.spool)
        return 2
    if args.all_cameras and not args.site:
        logger.error("--all-cameras needs --site with cameras[] and their sources")
        return 2
    # A service stop (systemd sends SIGTERM) stops like Ctrl-C: visits are closed, deposits still
    # waiting are reported, the spool and the health file are settled.  Without this, SIGTERM ended the
    # process at once.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        site = load_site(args.site) if args.site else default_site()
        if args.all_cameras:
            run_box(build_box(site, options))
            return 0
        worker = build_worker(site, options)
    except (SiteConfigError, WorkerError) as exc:
        logger.error("%s", exc)
        return 2
    worker.run()
    return 0
