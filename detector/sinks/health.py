"""The spool's health for an operator: ``<spool>/health.json``, rewritten whenever it may change.

The evidence API has no camera-health endpoint (only ``camera.last_seen_at``, set by ingest), so
the signal an operator or a monitoring agent sees is this file plus one clear log line at each
change of state.  ``status`` is the worst of:

- ``not_spooled``: an event could not be spooled at all (not even its metadata fitted); its staged
  evidence and manifest wait in ``staging/`` and are spooled at the next start once there is room;
- ``disk_low``: free space is below the evidence reserve: clips (then stills) are no longer kept in
  full, events are spooled with what fitted (``details.not_spooled`` says what is missing);
- ``attention``: ``incomplete/`` keeps staged evidence no complete event holds, for a person to look at;
- ``ok``.

Example::

    {"status": "disk_low", "since": "2026-11-24T16:00:00.000+00:00", "updated_at": "...",
     "camera_id": "cam-1", "free_bytes": 104857600, "reserve_bytes": 209715200,
     "problems": ["disk low: 104.9 MB free, below the 209.7 MB reserve"],
     "events_not_spooled": [], "events_reduced": [{"event_id": "...", "reason": "...", "at": "..."}],
     "pending": 3, "incomplete": 0}
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detector.contract import iso_utc
from detector.sinks.spool import Spool
from detector.storage import StorageError, write_atomic

logger = logging.getLogger(__name__)

HEALTH_JSON = "health.json"
#: how many recent reduced events the file lists
RECENT_EVENTS = 20


class SpoolHealth:
    """Keeps ``health.json`` of one spool true; every method rewrites it and never raises."""

    def __init__(self, spool: Spool, *, camera_id: str | None = None) -> None:
        self.spool = spool
        self.camera_id = camera_id
        self.path = spool.root / HEALTH_JSON
        self._not_spooled: dict[str, dict[str, str]] = {}
        self._reduced: list[dict[str, str]] = []
        self._status: str | None = None
        self._since = iso_utc(datetime.now(UTC))
        self._lock = threading.Lock()

    def not_spooled(self, event_id: str, reason: str) -> None:
        """An event the spool could not take: kept in staging until the next start."""
        with self._lock:
            self._not_spooled[event_id] = {"event_id": event_id, "reason": reason, "at": _now()}
        self.write()

    def reduced(self, event_id: str, reason: str) -> None:
        """An event spooled without some of its files (a low disk)."""
        with self._lock:
            self._reduced = [*self._reduced, {"event_id": event_id, "reason": reason, "at": _now()}][
                -RECENT_EVENTS:
            ]
        self.write()

    def spooled(self, event_id: str) -> None:
        """An event is in the spool (after a retry, it no longer waits)."""
        with self._lock:
            self._not_spooled.pop(event_id, None)
        self.write()

    def write(self) -> dict[str, Any]:
        """Recompute the state, write the file atomically, log a change of state; returns the record."""
        with self._lock:
            free = shutil.disk_usage(self.spool.root).free
            pending = _count(self.spool.pending_dir)
            incomplete = _count(self.spool.incomplete_dir)
            problems = []
            if self._not_spooled:
                problems.append(
                    f"{len(self._not_spooled)} event(s) NOT spooled (kept in {self.spool.staging_dir}, "
                    "spooled at the next start once there is room)"
                )
            disk_low = free < self.spool.min_free_bytes
            if disk_low:
                problems.append(
                    f"disk low: {free / 1e6:.1f} MB free, below the {self.spool.min_free_bytes / 1e6:.1f} MB "
                    "reserve; free space on the box"
                )
            if incomplete:
                problems.append(
                    f"{incomplete} entr(y/ies) in {self.spool.incomplete_dir} keep evidence no complete "
                    "event holds: look at their incomplete.json"
                )
            status = (
                "not_spooled"
                if self._not_spooled
                else "disk_low"
                if disk_low
                else "attention"
                if incomplete
                else "ok"
            )
            if status != self._status:
                self._since = _now()
                if status == "ok":
                    logger.info("edge health ok (%s)", self.path)
                else:
                    logger.error(
                        "EDGE HEALTH %s: %s (see %s)", status.upper(), "; ".join(problems), self.path
                    )
                self._status = status
            record: dict[str, Any] = {
                "status": status,
                "since": self._since,
                "updated_at": _now(),
                "camera_id": self.camera_id,
                "free_bytes": free,
                "reserve_bytes": self.spool.min_free_bytes,
                "problems": problems,
                "events_not_spooled": list(self._not_spooled.values()),
                "events_reduced": list(self._reduced),
                "pending": pending,
                "incomplete": incomplete,
            }
            try:
                write_atomic(self.path, json.dumps(record, indent=1).encode())
            except StorageError as exc:
                logger.error("could not write %s: %s (status %s: %s)", self.path, exc, status, problems)
            return record


def _count(directory: Path) -> int:
    return sum(1 for p in directory.iterdir() if p.is_dir()) if directory.is_dir() else 0


def _now() -> str:
    return iso_utc(datetime.now(UTC))
