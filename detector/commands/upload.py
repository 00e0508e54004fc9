"""``tipwatch upload``: drain a spool to the evidence API without processing any footage.

    tipwatch upload --spool DIR --api URL --token T [--retries N]

``DIR`` is one spool (it has ``pending/``) or an edge box's spool root with a spool per camera
(``tipwatch detect --all-cameras``): each is drained in turn.  When no worker holds a spool, what a
killed worker left is recovered first (``detector.worker.open_spool``'s steps: ``tmp/`` entries,
staged events, ``incomplete/``); while a worker runs on it, only its pending events are sent (the
API is idempotent, so two uploaders never store anything twice).

Prints one summary line per spool and a total.  Exit code: ``0`` everything pending reached the
API; ``1`` events are still pending (the API could not be reached or asked to retry: run it again);
``3`` every event reached the API but some were refused for good and moved to ``dead/`` (the
summary says why); ``2`` a usage error (no spool there, no token).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from detector.sinks.spool import Spool, SpoolBusy
from detector.sinks.staging import recover_staging
from detector.sinks.uploader import Uploader
from detector.worker import default_spool_dir

logger = logging.getLogger(__name__)

EXIT_DRAINED = 0
EXIT_PENDING = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_HELD = 4  # nothing else pending, but events held for a person (their capture times were refused)


@dataclass(slots=True)
class DrainResult:
    """What draining one spool did."""

    spool: Path
    sent: int = 0
    files: int = 0
    bytes: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # id -> dead reason
    held: dict[str, str] = field(default_factory=dict)  # id -> why it is held (a wrong clock at capture)
    pending: int = 0
    error: str | None = None
    recovered: str = ""

    def line(self) -> str:
        text = (
            f"{self.spool}: sent {self.sent} event(s) ({self.files} file(s), {self.bytes / 1e6:.1f} MB), "
            f"refused {len(self.refused)}, still pending {self.pending} "
            f"(held for their times {len(self.held)})"
        )
        if self.recovered:
            text += f"; recovered first: {self.recovered}"
        if self.error:
            text += f"; last error: {self.error}"
        return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--spool",
        type=Path,
        default=None,
        help=f"a spool, or a root holding a spool per camera (default {default_spool_dir()})",
    )
    parser.add_argument("--api", required=True, help="evidence API base URL")
    parser.add_argument(
        "--token", default=os.environ.get("TIPWATCH_DEVICE_TOKEN"), help="device token for --api"
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=3,
        help="rounds retried (with backoff) after the API fails to answer, before giving up",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP request")


def spools_under(root: Path) -> list[Path]:
    """``root`` if it is a spool, else the spools directly under it (one per camera)."""
    if (root / "pending").is_dir():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "pending").is_dir())


def recover(spool: Spool) -> str:
    """Finish what a killed worker left, if no worker holds the spool now; a summary or ''."""
    try:
        spool.lock()
    except SpoolBusy as exc:
        logger.info("%s: sending what is pending, recovery left to the running worker", exc)
        return ""
    try:
        tmp = spool.recover()
        staged = recover_staging(spool)
    finally:
        spool.unlock()
    parts = []
    if tmp.promoted or tmp.removed:
        parts.append(
            f"{len(tmp.promoted)} interrupted write(s) finished, {len(tmp.removed)} half-written removed"
        )
    if staged.anything:
        parts.append(staged.summary())
    return "; ".join(parts)


def drain(spool: Spool, uploader: Uploader, retries: int) -> DrainResult:
    """Upload rounds until nothing is pending, or ``retries`` rounds in a row failed to reach the API."""
    result = DrainResult(spool.root)
    failures = 0
    while True:
        report = uploader.run_once()
        result.sent += len(report.sent)
        result.files += report.files_uploaded
        result.bytes += report.bytes_uploaded
        for event_id in report.dead:
            result.refused[event_id] = spool.dead_reason(event_id).strip()
        result.error = report.error
        result.held = dict(report.held_reasons)
        if report.ok:
            if not report.sent and not report.dead:
                break  # nothing moved: what is left (if anything) arrived while we were sending
            failures = 0
            continue
        failures += 1
        if failures > retries:
            break
        time.sleep(uploader.backoff_delay(failures))
    result.pending = len(spool.pending())
    return result


def run(args: argparse.Namespace) -> int:
    if not args.token:
        logger.error("--api needs --token (or TIPWATCH_DEVICE_TOKEN)")
        return EXIT_USAGE
    root = args.spool or default_spool_dir()
    roots = spools_under(root)
    if not roots:
        logger.error("no spool at %s (a spool has a pending/ directory)", root)
        return EXIT_USAGE
    results = []
    for spool_root in roots:
        spool = Spool(spool_root)
        recovered = recover(spool)
        uploader = Uploader(spool, args.api, args.token, timeout=args.timeout)
        try:
            result = drain(spool, uploader, max(0, args.retries))
        finally:
            uploader.close(last_round=False)
        result.recovered = recovered
        results.append(result)
        print(result.line())
        for event_id, reason in result.refused.items():
            print(f"  refused {event_id}: {reason}")
        for event_id, reason in result.held.items():
            print(f"  held {event_id}: {reason}")
    sent = sum(r.sent for r in results)
    refused = sum(len(r.refused) for r in results)
    pending = sum(r.pending for r in results)
    print(f"total: sent {sent}, refused {refused} (moved to dead/), still pending {pending}")
    held = sum(len(r.held) for r in results)
    if pending > held:
        return EXIT_PENDING
    if held:
        return EXIT_HELD
    return EXIT_REFUSED if refused else EXIT_DRAINED
