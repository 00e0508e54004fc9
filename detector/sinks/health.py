"""The spool's health for an operator: ``<spool>/health.json``, rewritten whenever it may change.

The signal an operator or a monitoring agent on the box sees is this file plus one clear log line at
each change of state; the uploader also sends it to the evidence API as the camera's health record
(``POST /api/v1/cameras/{camera}/health``, :mod:`detector.sinks.health_report`), so the council sees a
silent, full or knocked camera without visiting it.  ``status`` is the worst of:

- ``not_spooled``: an event could not be spooled at all (not even its metadata fitted); its staged
  evidence and manifest wait in ``staging/`` and are spooled at the next start once there is room;
- ``disk_low``: free space is below the evidence reserve: clips (then stills) are no longer kept in
  full, events are spooled with what fitted (``details.not_spooled`` says what is missing);
- ``view_moved``: the whole picture shifted (a knock, wind on the pole, a turn) within the last
  :data:`VIEW_MOVED_ATTENTION_S`; detection re-registered or relearnt the background, but someone
  should check the camera still covers the hotspot;
- ``attention``: ``incomplete/`` keeps staged evidence no complete event holds, for a person to look at;
- ``ok``.

Example::

    {"status": "disk_low", "since": "2026-11-24T16:00:00.000+00:00", "updated_at": "...",
     "camera_id": "cam-1", "free_bytes": 104857600, "reserve_bytes": 209715200,
     "problems": ["disk low: 104.9 MB free, below the 209.7 MB reserve"],
     "events_not_spooled": [], "events_reduced": [{"event_id": "...", "reason": "...", "at": "..."}],
     "pending": 3, "incomplete": 0, "last_frame_at": "...", "frames_processed_at": "...",
     "view_moves": 0, "view_moved_at": null}

``last_frame_at`` is the latest frame's capture time (old footage gives old times);
``frames_processed_at`` is when, by this box's clock, the worker last wrote the file because frames
were flowing (kept across restarts): it stops advancing when the stream is down or the worker has
stopped, which the API turns into a "no picture" warning; ``worker_started_at`` is when this run
began, the reference while no frame has flowed yet.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detector.contract import iso_utc
from detector.sinks.spool import Spool
from detector.storage import StorageError, write_atomic

logger = logging.getLogger(__name__)

HEALTH_JSON = "health.json"
#: how many recent reduced (and not spooled) events the file lists
RECENT_EVENTS = 20
#: how long (seconds) after the picture last shifted the status stays ``view_moved``
VIEW_MOVED_ATTENTION_S = 3600.0
#: the worker refreshes ``last_frame_at`` in the file at most this often (seconds): a heartbeat
FRAME_HEARTBEAT_S = 30.0
#: once ``disk_low``, the status stays so until free space is this share above the reserve, so a box
#: hovering at the reserve does not flip its status (and the API's record of it) every few seconds
DISK_LOW_HYSTERESIS = 0.10


class SpoolHealth:
    """Keeps ``health.json`` of one spool true; every method rewrites it and never raises."""

    def __init__(self, spool: Spool, *, camera_id: str | None = None) -> None:
        self.spool = spool
        self.camera_id = camera_id
        self.path = spool.root / HEALTH_JSON
        self._not_spooled: dict[str, dict[str, str]] = {}
        self._reduced: list[dict[str, str]] = []
        self._status: str | None = None
        self._last_frame_at: datetime | None = None
        self._view_moves = 0
        self._view_moved_at: datetime | None = None
        self._view_moved_seen: float | None = None  # monotonic time it was noticed (files replay old times)
        self._frames_written = 0.0  # monotonic time of the last write caused by frames
        self._frames_processed_at: datetime | None = _previous_frames_processed_at(self.path)
        self._worker_started_at = datetime.now(UTC)
        self._disk_low = False
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

    def frames_seen(
        self, last_frame_at: datetime, *, view_moves: int = 0, view_moved_at: datetime | None = None
    ) -> None:
        """The camera is delivering frames (capture time of the latest, UTC) and its picture has shifted
        ``view_moves`` times so far, the latest at ``view_moved_at``; rewrites the file when the view
        moved again, or at most every :data:`FRAME_HEARTBEAT_S` seconds."""
        now = time.monotonic()
        with self._lock:
            self._last_frame_at = last_frame_at
            moved = view_moves > self._view_moves
            if moved:
                self._view_moves = view_moves
                self._view_moved_at = view_moved_at or last_frame_at
                self._view_moved_seen = now
            due = moved or now - self._frames_written >= FRAME_HEARTBEAT_S
            if due:
                self._frames_written = now
                self._frames_processed_at = datetime.now(UTC)
        if due:
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
            leave_at = self.spool.min_free_bytes * (1 + DISK_LOW_HYSTERESIS)
            disk_low = free < (leave_at if self._disk_low else self.spool.min_free_bytes)
            self._disk_low = disk_low
            if disk_low:
                problems.append(
                    f"disk low: {free / 1e6:.1f} MB free, below the {self.spool.min_free_bytes / 1e6:.1f} MB "
                    "reserve; free space on the box"
                )
            view_moved = (
                self._view_moved_seen is not None
                and time.monotonic() - self._view_moved_seen < VIEW_MOVED_ATTENTION_S
            )
            if view_moved and self._view_moved_at is not None:
                problems.append(
                    f"the picture shifted (a knock, wind, a turn) {self._view_moves} time(s), latest at "
                    f"{iso_utc(self._view_moved_at)}: check the camera still covers the hotspot"
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
                else "view_moved"
                if view_moved
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
                "events_not_spooled": list(self._not_spooled.values())[-RECENT_EVENTS:],
                "not_spooled": len(self._not_spooled),
                "events_reduced": list(self._reduced),
                "pending": pending,
                "incomplete": incomplete,
                "last_frame_at": iso_utc(self._last_frame_at) if self._last_frame_at else None,
                "frames_processed_at": (
                    iso_utc(self._frames_processed_at) if self._frames_processed_at else None
                ),
                "worker_started_at": iso_utc(self._worker_started_at),
                "view_moves": self._view_moves,
                "view_moved_at": iso_utc(self._view_moved_at) if self._view_moved_at else None,
            }
            try:
                write_atomic(self.path, json.dumps(record, indent=1).encode())
            except StorageError as exc:
                logger.error("could not write %s: %s (status %s: %s)", self.path, exc, status, problems)
            return record


def _previous_frames_processed_at(path: Path) -> datetime | None:
    """The last time frames flowed, as the previous run wrote it: a restart while the camera is down
    must not forget how long it has been without a picture."""
    try:
        value = json.loads(path.read_bytes()).get("frames_processed_at")
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except (OSError, ValueError, AttributeError):
        return None


def _count(directory: Path) -> int:
    return sum(1 for p in directory.iterdir() if p.is_dir()) if directory.is_dir() else 0


def _now() -> str:
    return iso_utc(datetime.now(UTC))
