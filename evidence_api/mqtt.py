"""The event feed's MQTT publisher: a thread per API process that drains the outbox to the broker.

Requests never talk to the broker: they write outbox rows in their own transaction
(:mod:`evidence_api.services.event_feed`), and this thread claims them
(:func:`evidence_api.services.outbox.claim`), publishes each with QoS 1 and marks it published only
when the broker's PUBACK has come back.  So a broker that is down, slow or refusing costs an ingest
request nothing, and what was stored meanwhile is published when it returns, oldest first.

The connection is paho-mqtt's (EPL-2.0 OR BSD-3-Clause; used under the BSD-3-Clause licence, which
AGPL-3.0 accepts): its network thread reconnects with backoff, and re-sends a message that was in
flight when the connection dropped; this thread keeps its claim on such a message (renewing the lease)
until the PUBACK arrives.  The log gets one line when the broker goes away and one when it is back.

After a commit that wrote outbox rows the app wakes the thread (``wake``), so a message usually
leaves within milliseconds; otherwise it looks every :data:`POLL_S` seconds (rows another replica
wrote, or a backlog).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session

from evidence_api.services import outbox

logger = logging.getLogger(__name__)

POLL_S = 2.0  # seconds between looks at the outbox when nothing woke the thread
BATCH = 100  # messages claimed at once (and most in flight)
LEASE = timedelta(seconds=60)  # a claim another replica respects; renewed while a PUBACK is awaited
PURGE_EVERY_S = 600.0  # seconds between deletions of old outbox rows
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30  # paho's reconnect backoff
KEEPALIVE_S = 30
QOS = 1


class BrokerAddressError(ValueError):
    """A broker URL that cannot be used (the settings refuse it at start-up)."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is: ``mqtt://[user[:password]@]host[:port]`` (1883) or ``mqtts://…`` (TLS,
    8883).  ``str()`` never shows the password."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("mqtt", "mqtts"):
            raise BrokerAddressError(
                f"the MQTT URL must start mqtt:// or mqtts:// (TLS), not {parts.scheme or 'nothing'}://"
            )
        try:
            port = parts.port
        except ValueError as exc:
            raise BrokerAddressError(f"the MQTT URL's port is not a number from 1 to 65535: {exc}") from exc
        if not parts.hostname:
            raise BrokerAddressError("the MQTT URL names no host, e.g. mqtt://broker.example:1883")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise BrokerAddressError("the MQTT URL takes no path or query: set the topic prefix instead")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


class BrokerLink:
    """Follows the connection for the log: one line when the broker goes away (or cannot be reached
    at start), one when it is back."""

    def __init__(self, address: BrokerAddress) -> None:
        self.address = address
        self.connected = threading.Event()
        self._down_since: float | None = None
        self._refused_logged = False

    def up(self) -> None:
        if self._down_since is not None:
            logger.warning(
                "MQTT broker %s back after %.0f s: publishing the events stored meanwhile",
                self.address,
                time.monotonic() - self._down_since,
            )
        else:
            logger.info("event feed: connected to MQTT broker %s", self.address)
        self._down_since, self._refused_logged = None, False
        self.connected.set()

    def down(self, reason: str) -> None:
        self.connected.clear()
        if self._down_since is None:
            self._down_since = time.monotonic()
            logger.warning(
                "MQTT broker %s unavailable (%s): events are kept in the outbox, published when it is back",
                self.address,
                reason,
            )

    def refused(self, reason: str) -> None:
        self.down(reason)
        if not self._refused_logged:
            self._refused_logged = True
            logger.error(
                "MQTT broker %s refused the connection: %s; check TIPWATCH_MQTT_URL", self.address, reason
            )


class MqttPublisher:
    """Drains the outbox to the broker on a thread of its own (one per API process); ``start`` at
    start-up, ``stop`` at shutdown."""

    def __init__(
        self,
        sessionmaker: Callable[[], Session],
        address: BrokerAddress,
        *,
        topic_prefix: str,
        keep_published: timedelta,
        max_backlog: timedelta,
        ca_file: Path | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._prefix = topic_prefix
        self._keep_published, self._max_backlog = keep_published, max_backlog
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.link = BrokerLink(address)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: dict[int, int] = {}  # paho message id -> outbox row id, until its PUBACK
        self._acked: set[int] = set()  # message ids whose PUBACK came (paho's thread adds them)
        self._acked_lock = threading.Lock()
        self._last_renew = self._last_purge = 0.0
        self._failing = False
        self._client = self._make_client(address, ca_file)

    def _make_client(self, address: BrokerAddress, ca_file: Path | None) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"tipwatch-api-{self.owner}", protocol=paho.MQTTv311
        )
        if address.username is not None:
            client.username_pw_set(address.username, address.password)
        if address.tls:
            client.tls_set(ca_certs=str(ca_file) if ca_file else None, cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.max_inflight_messages_set(BATCH)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_publish = self._on_publish
        return client

    # -- paho's network thread ----------------------------------------------------------------------
    def _on_connect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.link.refused(str(reason))
            return
        self.link.up()
        self._wake.set()

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not self._stop.is_set():
            self.link.down(str(reason))

    def _on_connect_fail(self, _c: paho.Client, _u: Any) -> None:
        self.link.down("cannot connect")

    def _on_publish(self, _c: paho.Client, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
        with self._acked_lock:
            self._acked.add(mid)
        self._wake.set()

    # -- this publisher's thread --------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._client.connect_async(self.link.address.host, self.link.address.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()  # paho's thread: connects, retrying, and reconnects with backoff
        self._thread = threading.Thread(target=self._run, name="event-feed-mqtt", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the outbox now (rows were just committed)."""
        self._wake.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Wait up to ``timeout_s`` for PUBACKs still due, mark what came, give back the rest (the next
        start publishes them at once), and disconnect."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        deadline = time.monotonic() + timeout_s
        while self._pending and self.link.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
            self._collect_acks()
        try:
            self._collect_acks()
            if self._pending:
                with self._sessionmaker() as session:
                    outbox.release(session=session, owner=self.owner, ids=list(self._pending.values()))
        except Exception:
            logger.exception(
                "event feed: could not give back %d unacknowledged message(s)", len(self._pending)
            )
        self._client.disconnect()
        self._client.loop_stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                busy = self.run_once()
                if self._failing:
                    self._failing = False
                    logger.warning("event feed: the outbox can be read again")
            except Exception as exc:  # the database away: say so once, and carry on
                if not self._failing:
                    self._failing = True
                    logger.error(
                        "event feed: cannot read the outbox, trying again: %s", str(exc).splitlines()[0]
                    )
            if not busy:
                self._wake.wait(POLL_S)
            self._wake.clear()

    def run_once(self) -> bool:
        """One round: mark what was acknowledged, keep the claims still awaited, purge now and then,
        and publish a batch if connected.  True when it published a full batch (more may wait)."""
        self._collect_acks()
        now = time.monotonic()
        if self._pending and now - self._last_renew > LEASE.total_seconds() / 3:
            with self._sessionmaker() as session:
                outbox.renew(session=session, owner=self.owner, ids=list(self._pending.values()), lease=LEASE)
            self._last_renew = now
        if now - self._last_purge > PURGE_EVERY_S:
            with self._sessionmaker() as session:
                outbox.purge(
                    session=session, keep_published=self._keep_published, max_backlog=self._max_backlog
                )
            self._last_purge = now
        room = BATCH - len(self._pending)
        if not self.link.connected.is_set() or room <= 0:
            return False
        with self._sessionmaker() as session:
            claimed = outbox.claim(session=session, owner=self.owner, lease=LEASE, limit=room)
        if claimed:
            self._last_renew = time.monotonic()
        for message in claimed:
            info = self._client.publish(
                f"{self._prefix}/{message.topic}", message.payload.encode(), qos=QOS, retain=message.retain
            )
            self._pending[info.mid] = message.id  # re-sent by paho after a reconnect until acknowledged
        return len(claimed) == room

    def _collect_acks(self) -> None:
        with self._acked_lock:
            acked = [mid for mid in self._acked if mid in self._pending]
            self._acked.difference_update(acked)
        if not acked:
            return
        ids = [self._pending.pop(mid) for mid in acked]
        try:
            with self._sessionmaker() as session:
                outbox.mark_published(session=session, ids=ids)
        except Exception:
            for mid, row in zip(acked, ids, strict=True):  # the broker has them; mark them next round
                self._pending[mid] = row
                with self._acked_lock:
                    self._acked.add(mid)
            raise
