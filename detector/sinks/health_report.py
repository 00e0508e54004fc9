"""Sends the spool's ``health.json`` to the evidence API as the camera's health record.

``POST /api/v1/cameras/{camera}/health`` with the file's record, plus ``clock_held`` (events the
uploader holds back because the API refused their times: the box's clock was wrong) and
``clock_offset_s``: how far this box's clock runs ahead of the API's (positive) or behind it,
measured from the ``Date`` header of the API's answers (RFC 9110 §6.6.1, one-second resolution, so
offsets under about two seconds are noise).  A report goes out when the record changes (a new
status, a new problem, a shifted view) and at least every ``every_s`` seconds otherwise, so the
council sees a camera that has gone silent.  A refused report is asked again once a period.

The record is the box's current state, not evidence: nothing is queued for it.  When the API cannot be
reached the next round sends the state as it is then.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from detector.sinks.health import HEALTH_JSON

logger = logging.getLogger(__name__)

#: the fields of ``health.json`` that do not make a report new by changing
VOLATILE = frozenset({"updated_at", "free_bytes", "last_frame_at", "pending"})
#: how often (seconds) an unchanged record is sent anyway: the API's "silent camera" warning hears it
DEFAULT_EVERY_S = 60.0


class ClockOffset:
    """How far this box's clock is from the API's, from the ``Date`` header of each answer."""

    def __init__(self) -> None:
        self.seconds: float | None = None

    def note(self, response: httpx.Response) -> None:
        """Measure from one answer (an httpx response hook; never raises)."""
        header = response.headers.get("date")
        if not header:
            return
        try:
            server = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return
        if server.tzinfo is None:
            return
        # The header is truncated to the second: its middle is the best estimate of the server's time.
        self.seconds = round((datetime.now(UTC) - server).total_seconds() - 0.5, 1)


class HealthReporter:
    """Posts one spool's health record when it changes or is due; :meth:`maybe_send` never raises."""

    def __init__(
        self, spool_root: Path, client: httpx.Client, clock: ClockOffset, *, every_s: float = DEFAULT_EVERY_S
    ) -> None:
        self.path = spool_root / HEALTH_JSON
        self.client = client
        self.clock = clock
        self.every_s = every_s
        self._sent_key: str | None = None
        self._sent_at = float("-inf")
        self._refused: str | None = None  # the last refusal logged, so it is logged once
        self._refused_at = float("-inf")
        self._unreadable: str | None = None  # the last read error logged, so it is logged once
        self.clock_held = 0  # events held because their times lie ahead of the API's clock
        self.clock_unset_held = 0  # events held because they were captured before the clock was set

    def maybe_send(self) -> bool:
        """Send the record if it changed or is due; True when the API stored it."""
        record = self._read()
        if record is None:
            return False
        camera = record.get("camera_id")
        if not isinstance(camera, str) or not camera:
            return False  # a spool drained by ``tipwatch upload`` before any worker wrote its camera
        lasting = {k: v for k, v in record.items() if k not in VOLATILE}
        key = json.dumps({**lasting, "held": [self.clock_held, self.clock_unset_held]}, sort_keys=True)
        if key == self._sent_key and time.monotonic() - self._sent_at < self.every_s:
            return False
        if self._refused is not None and time.monotonic() - self._refused_at < self.every_s:
            return False  # refused: ask again once a period, not every round
        body: dict[str, Any] = {
            **record,
            "clock_offset_s": self.clock.seconds,
            "clock_held": self.clock_held,
            "clock_unset_held": self.clock_unset_held,
        }
        url = f"/api/v1/cameras/{quote(camera, safe='')}/health"
        try:
            response = self.client.post(url, json=body)
        except httpx.TransportError as exc:
            logger.debug("health report not sent: %s", exc)
            return False
        if response.status_code in (200, 201):
            self._sent_key, self._sent_at, self._refused = key, time.monotonic(), None
            return True
        if response.status_code < 500:
            # A camera not registered to this box, an old API without the endpoint: say it once.
            refusal = f"{response.status_code}: {response.text[:300]}"
            if refusal != self._refused:
                logger.warning("the API refused camera %s's health report (%s)", camera, refusal)
            self._refused, self._refused_at = refusal, time.monotonic()
        return False

    def _read(self) -> dict[str, Any] | None:
        try:
            record = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            problem = f"cannot read {self.path}: {exc}"
        else:
            if isinstance(record, dict):
                self._unreadable = None
                return record
            problem = f"{self.path} does not hold a JSON object"
        if problem != self._unreadable:  # once, not every round; the API's silent warning follows
            logger.warning("%s: the camera's health is not reported until it is rewritten", problem)
            self._unreadable = problem
        return None
