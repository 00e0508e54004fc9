"""Idempotent upload of spooled events to the evidence API (``docs/ingest-contract.md``).

For each pending event, oldest first: verify its files on disk, ``POST /api/v1/events`` the
metadata, then ``PUT`` each file the server says is missing.  All state lives in the spool: the
event id is the idempotency key and the server answers which files it still needs, so a process
killed mid-upload simply redoes the rest after a restart, and nothing is stored twice.

Outcomes:
- 200/201 everywhere: the event moves to ``sent/``.
- 403, 409, 413, 422 (a permanent refusal) or evidence corrupted on disk: ``dead/`` with the reason.
- connection errors, timeouts, 5xx, 401, 404, 408, 429: the event stays pending; the round stops
  and the next one waits an exponential backoff with jitter (capped at ``max_backoff``).
- a 422 of type ``clock_ahead`` (this box's clock runs fast, so the event's times lie in the API's
  future) or ``clock_not_set`` (times before the API's earliest, a box that booted without a clock):
  not the event's fault, so it is held pending, asked again every ``clock_retry_s``, without blocking
  the events behind it, and counted in the health report (``clock_held``, ``clock_unset_held``).  A
  fast clock's event goes once real time reaches its times; one captured before the clock was set
  never will, and waits for a person (``tipwatch upload`` lists it and exits 4).

After each round that reached the API, the spool's ``health.json`` goes to the API as the camera's
health record when it changed or is due (:mod:`detector.sinks.health_report`).

As an :class:`~detector.sinks.base.EventSink` (after the spool sink), :meth:`Uploader.publish` wakes
the background thread so a new event goes out now rather than at the next poll, and
:meth:`Uploader.close` makes a last round before it stops.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from detector.sinks.health_report import DEFAULT_EVERY_S, ClockOffset, HealthReporter
from detector.sinks.spool import Spool, SpooledEvent, SpoolError
from detector.types import Event

logger = logging.getLogger(__name__)

PERMANENT = frozenset({403, 409, 413, 422})


class TransientUploadError(Exception):
    """The API could not be reached or answered 'try later'; the event stays pending."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class ClockRefusedError(Exception):
    """The API refused the event's times as impossible by its clock (``clock_ahead``/``clock_not_set``)."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


CLOCK_ERRORS = frozenset({"clock_ahead", "clock_not_set"})
HELD_REASONS = {
    "clock_ahead": "its times lie ahead of the API's clock (this box's clock ran fast): it is sent once "
    "real time reaches them",
    "clock_not_set": "captured while this box's clock was not set: its times are wrong and will never be "
    "accepted; establish the true time of the footage, or move it to dead/ with the reason",
}


class PermanentUploadError(Exception):
    """The API refused the event for good (or its evidence is corrupt); it goes to dead/."""


@dataclass(slots=True)
class UploadReport:
    """What one :meth:`Uploader.run_once` round did."""

    sent: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)  # attempted, failed transiently, still pending
    clock_held: list[str] = field(default_factory=list)  # refused for their times: held, still pending
    held_reasons: dict[str, str] = field(default_factory=dict)  # held event id -> why, for a person
    files_uploaded: int = 0
    bytes_uploaded: int = 0
    error: str | None = None  # the transient error that stopped the round
    unreachable: bool = False  # the API could not be reached at all (no answer)
    next_delay_s: float = 0.0  # how long the background thread waits before the next round

    @property
    def ok(self) -> bool:
        return self.error is None


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:1000]
    return str(body)[:1000]


def _error_type(response: httpx.Response) -> str | None:
    """The ``type`` of the first error in a 422's FastAPI-shaped ``detail`` list, if any."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return None
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        kind = detail[0].get("type")
        return kind if isinstance(kind, str) else None
    return None


class Uploader:
    """Uploads the spool's pending events; :meth:`start` runs it in a background thread."""

    def __init__(
        self,
        spool: Spool,
        api_url: str,
        token: str,
        *,
        timeout: float = 10,
        max_backoff: float = 300,
        base_backoff: float = 1.0,
        poll_interval: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        health_every_s: float = DEFAULT_EVERY_S,
        clock_retry_s: float = 60.0,
    ) -> None:
        if not api_url.startswith(("http://", "https://")):
            raise ValueError(f"api_url must be an http(s) URL, got {api_url!r}")
        if not token:
            raise ValueError("an API device token is needed (tipwatch devices create ... on the server)")
        self.spool = spool
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.base_backoff = base_backoff
        self.poll_interval = poll_interval
        self._client = httpx.Client(
            base_url=self.api_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "tipwatch-detector"},
            transport=transport,
            event_hooks={"response": [self._note_clock]},
        )
        self.clock = ClockOffset()
        self.health = HealthReporter(spool.root, self._client, self.clock, every_s=health_every_s)
        self.clock_retry_s = clock_retry_s
        self._held_until: dict[str, float] = {}  # event id -> monotonic time it may be asked again
        self._held_kind: dict[str, str] = {}  # event id -> clock_ahead | clock_not_set
        self._failures = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._round_lock = threading.Lock()

    # -- one round

    def run_once(self) -> UploadReport:
        """Try every pending event once, oldest first; stop at the first transient failure."""
        report = UploadReport()
        with self._round_lock:
            for event in self.spool.pending():
                if self._stop.is_set():
                    break
                if not event.path.is_dir():
                    continue  # another uploader on this spool (``tipwatch upload``) moved it meanwhile
                if self._held_until.get(event.event_id, 0.0) > time.monotonic():
                    self._hold(event.event_id, self._held_kind.get(event.event_id, "clock_ahead"), report)
                    continue
                try:
                    files, nbytes = self._upload(event)
                except ClockRefusedError as exc:
                    self._held_until[event.event_id] = time.monotonic() + self.clock_retry_s
                    if self._held_kind.get(event.event_id) != exc.kind:  # once per event, not per retry
                        self._log_held(event.event_id, exc)
                    self._hold(event.event_id, exc.kind, report)
                    continue
                except PermanentUploadError as exc:
                    self._dead(event.event_id, str(exc), report)
                    continue
                except TransientUploadError as exc:
                    report.retry.append(event.event_id)
                    report.error = str(exc)
                    report.unreachable = exc.unreachable
                    break
                try:
                    self.spool.mark_sent(event.event_id)
                except SpoolError as exc:
                    # Sent by another uploader on this spool at the same time: the API stored it once.
                    logger.info("event %s: %s", event.event_id, exc)
                    continue
                report.sent.append(event.event_id)
                report.files_uploaded += files
                report.bytes_uploaded += nbytes
                logger.info("uploaded event %s (%d files, %d bytes)", event.event_id, files, nbytes)
            held = set(report.clock_held)
            self._held_until = {k: v for k, v in self._held_until.items() if k in held}
            self._held_kind = {k: v for k, v in self._held_kind.items() if k in held}
            self.health.clock_held = sum(1 for k in self._held_kind.values() if k == "clock_ahead")
            self.health.clock_unset_held = sum(1 for k in self._held_kind.values() if k == "clock_not_set")
            if not report.unreachable and not self._stop.is_set():
                self.health.maybe_send()
        if report.error is None:
            self._failures = 0
            report.next_delay_s = self.poll_interval
        else:
            self._failures += 1
            report.next_delay_s = self.backoff_delay(self._failures)
            logger.warning(
                "upload to %s paused: %s; %d event(s) pending, retrying in %.1f s",
                self.api_url,
                report.error,
                len(self.spool.pending()),
                report.next_delay_s,
            )
        return report

    def backoff_delay(self, failures: int) -> float:
        """Exponential backoff with jitter: a random delay in [d/2, d], d = base * 2^(failures-1)."""
        ceiling = min(self.max_backoff, self.base_backoff * 2 ** max(0, min(failures - 1, 30)))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography

    def _hold(self, event_id: str, kind: str, report: UploadReport) -> None:
        self._held_kind[event_id] = kind
        report.clock_held.append(event_id)
        report.held_reasons[event_id] = HELD_REASONS[kind]

    def _log_held(self, event_id: str, exc: ClockRefusedError) -> None:
        if exc.kind == "clock_not_set":
            logger.error(
                "event %s was captured while THIS BOX'S CLOCK WAS NOT SET: its times can never be accepted "
                "as they are; it is held in the spool for a person (%s); %s",
                event_id,
                HELD_REASONS[exc.kind],
                exc,
            )
        else:
            logger.error(
                "event %s: THIS BOX'S CLOCK RAN FAST when it was captured (now about %s s from the API's): "
                "held until real time reaches its times; set up NTP; %s",
                event_id,
                self.clock.seconds,
                exc,
            )

    def _dead(self, event_id: str, reason: str, report: UploadReport) -> None:
        try:
            self.spool.mark_dead(event_id, reason)
        except SpoolError as exc:
            logger.error("could not move event %s to dead/: %s", event_id, exc)
            return
        report.dead.append(event_id)

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise TransientUploadError(
                f"{method} {url}: {type(exc).__name__}: {exc}", unreachable=True
            ) from exc

    def _note_clock(self, response: httpx.Response) -> None:
        self.clock.note(response)

    def _classify(self, what: str, response: httpx.Response) -> None:
        status = response.status_code
        if status in (200, 201):
            return
        message = f"{what} answered {status}: {_server_message(response)}"
        kind = _error_type(response) if status == 422 else None
        if kind in CLOCK_ERRORS:
            raise ClockRefusedError(message, kind=str(kind))
        if status in PERMANENT:
            raise PermanentUploadError(message)
        if status == 401:
            logger.error("the API refused the device token (401); check the detector's api token")
        raise TransientUploadError(message)

    def _upload(self, event: SpooledEvent) -> tuple[int, int]:
        problems = event.verify()
        if problems:
            raise PermanentUploadError(
                "evidence corrupted on the edge box, not uploaded: " + "; ".join(problems)
            )
        response = self._request("POST", "/api/v1/events", json=event.payload)
        self._classify(f"POST /api/v1/events ({event.event_id})", response)
        try:
            missing = [str(s) for s in response.json().get("missing_files", [])]
        except (ValueError, AttributeError) as exc:
            raise TransientUploadError(f"POST /api/v1/events gave an unreadable body: {exc}") from exc
        files = nbytes = 0
        for sha256 in dict.fromkeys(missing):
            spooled = event.file_by_sha256(sha256)
            if spooled is None:
                raise PermanentUploadError(
                    f"the API asks for file {sha256}, which event {event.event_id} does not declare"
                )
            data = spooled.path.read_bytes()
            if hashlib.sha256(data).hexdigest() != sha256:
                raise PermanentUploadError(
                    f"evidence corrupted on the edge box, not uploaded: {spooled.name} no longer "
                    f"hashes to {sha256}"
                )
            url = f"/api/v1/events/{event.event_id}/files/{sha256}"
            response = self._request("PUT", url, content=data, headers={"Content-Type": spooled.media_type})
            self._classify(f"PUT {spooled.name} ({event.event_id})", response)
            files += 1
            nbytes += len(data)
        return files, nbytes

    # -- background thread

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="tipwatch-uploader", daemon=True)
        self._thread.start()
        logger.info("uploader started for %s", self.api_url)

    def wake(self) -> None:
        """Start the next round now (after a new event was spooled); backoff still applies after errors."""
        if self._failures == 0:
            self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the request in flight (bounded by the HTTP timeout); pending events stay pending."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout if timeout is not None else self.timeout * 3)
            if self._thread.is_alive():
                logger.warning("uploader thread did not stop within the timeout")
        self._thread = None

    def publish(self, event: Event) -> None:
        """A new event was spooled: upload it now (:meth:`wake`); the spool holds what is sent."""
        self.wake()

    def close(self, *, last_round: bool = True) -> None:
        """Shut down as a sink: one last round for what is pending (bounded by the HTTP timeout;
        skipped with ``last_round=False``), then stop the background thread and release the HTTP
        client.  Events that could not be sent stay pending for the next start."""
        if last_round:
            self.run_once()
        self.stop()
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.run_once()
                delay = report.next_delay_s
            except Exception:
                # A bug or a disk problem must not kill uploading for good; log it loudly and retry.
                logger.exception("upload round failed")
                self._failures += 1
                delay = self.backoff_delay(self._failures)
            self._wake.wait(delay)
            self._wake.clear()
