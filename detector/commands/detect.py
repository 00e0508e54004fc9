"""``tipwatch detect``: run the detection worker for one camera of a site.

    tipwatch detect --site site.yaml --source URL_OR_PATH [--api URL --token T | --spool DIR]

Events (with their stills and clip) go to the spool; with ``--api`` an uploader thread sends them.
Files show a progress bar; streams log a status line every ``--status-every`` seconds and run
until interrupted, reconnecting whenever the camera drops.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from detector.config import SiteConfigError, default_site, load_site
from detector.sources import SourceError, StreamGap, open_source

logger = logging.getLogger(__name__)


def _default_spool() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "tipwatch" / "spool"


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
        "--spool", type=Path, default=None, help=f"spool directory (default {_default_spool()})"
    )
    parser.add_argument("--api", default=None, help="evidence API base URL; starts the uploader")
    parser.add_argument(
        "--token", default=os.environ.get("TIPWATCH_DEVICE_TOKEN"), help="device token for --api"
    )
    parser.add_argument(
        "--start-time", type=_utc, default=None, help="capture time of a file's first frame (ISO)"
    )
    parser.add_argument("--folder-fps", type=float, default=1.0, help="frame rate of an image folder")
    parser.add_argument(
        "--no-plates", action="store_true", help="do not read number plates on vehicle stills"
    )
    parser.add_argument(
        "--status-every", type=float, default=60.0, help="seconds between stream status lines"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar for files")


def run(args: argparse.Namespace) -> int:
    from detector.backends import create_detector
    from detector.backends.registry import ModelNotFoundError
    from detector.pipeline import CameraPipeline, configure_threads

    if args.api and not args.token:
        logger.error("--api needs --token (or TIPWATCH_DEVICE_TOKEN)")
        return 2
    try:
        site = load_site(args.site) if args.site else default_site()
        camera = site.camera(args.camera)
    except SiteConfigError as exc:
        logger.error("%s", exc)
        return 2
    spec = args.source or camera.source
    if not spec:
        logger.error("no source: pass --source or set cameras[].source in the site file")
        return 2
    gaps: list[StreamGap] = []
    try:
        source = open_source(
            spec, camera.id, start_time=args.start_time, folder_fps=args.folder_fps, on_gap=gaps.append
        )
    except SourceError as exc:
        logger.error("%s", exc)
        return 2
    configure_threads()
    try:
        detector = create_detector(site.detector)
    except ModelNotFoundError as exc:
        logger.error("%s", exc)
        return 2

    from detector.sinks.spool import Spool

    spool_root = args.spool or _default_spool()
    spool_root.mkdir(parents=True, exist_ok=True)
    spool = Spool(spool_root)
    # A worker killed mid-write leaves tmp/ entries: finish the complete ones, drop the rest.
    recovered = spool.recover()
    if recovered.promoted or recovered.removed or recovered.stray_files:
        logger.warning(
            "spool recovery: %d complete event(s) promoted, %d half-written removed, %d stray file(s)",
            len(recovered.promoted),
            len(recovered.removed),
            recovered.stray_files,
        )
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=spool_root.parent))
    uploader: Any = None
    if args.api:
        from detector.sinks.uploader import Uploader

        uploader = Uploader(spool, args.api, args.token)
        uploader.start()

    from detector.storage import StorageError

    def sink(event: Any) -> None:
        try:
            path = spool.put(event)
        except StorageError as exc:
            # The camera keeps running; the staged files stay in place for an operator to recover.
            logger.error(
                "event %s (%s) NOT spooled: %s; staged files kept in %s",
                event.event_id,
                event.type,
                exc,
                staging,
            )
            return
        pipeline.discard_staging(event.event_id)
        logger.info("event %s (%s) spooled at %s", event.event_id, event.type, path)
        if uploader is not None:
            uploader.wake()  # upload now rather than at the next poll

    pipeline = CameraPipeline(
        site, camera, detector, evidence_dir=staging, sink=sink, read_plates=not args.no_plates
    )
    logger.info(
        "site %s camera %s (%s): source %s, model %s sha256 %s",
        site.site_id,
        camera.id,
        camera.mode,
        spec,
        detector.model.name,
        detector.model.sha256,
    )
    bar: Any = None
    if not source.is_live and not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=source.frame_count, unit="frame", desc=camera.id)
    last_status = time.monotonic()

    def on_frame(_frame: Any) -> None:
        nonlocal last_status
        if bar is not None:
            bar.update(1)
        elif source.is_live and time.monotonic() - last_status >= args.status_every:
            last_status = time.monotonic()
            logger.info(
                "status camera %s: %s, gaps %d (%.0f s)",
                camera.id,
                pipeline.metrics.as_dict(),
                len(gaps),
                sum(g.seconds for g in gaps),
            )

    try:
        pipeline.run(source.frames(), on_frame=on_frame)
    except KeyboardInterrupt:
        logger.info("interrupted: closing visits and stopping")
        pipeline.finish()
    finally:
        source.close()
        if bar is not None:
            bar.close()
        if uploader is not None:
            uploader.run_once()
            uploader.stop()
    logger.info("done: %s", pipeline.metrics.as_dict())
    return 0
