"""A real MQTT broker for the tests: Debian's Mosquitto on a free loopback port, and a paho subscriber
that records what arrives."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from s3_testutil import free_port

MOSQUITTO = os.environ.get("TIPWATCH_TEST_MOSQUITTO", "/usr/sbin/mosquitto")


def mosquitto_binary() -> str:
    """Mosquitto's path; the test is skipped without it, but fails when ``CI=true``."""
    path = shutil.which(MOSQUITTO) or shutil.which("mosquitto")
    if path is None:
        reason = f"Mosquitto is not installed (no {MOSQUITTO}; set TIPWATCH_TEST_MOSQUITTO)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: the event feed tests must run in CI")
        pytest.skip(f"{reason}; `bash deploy/dev.sh` installs it (Debian package mosquitto)")
    return path


class Mosquitto:
    """``mosquitto -c <temporary config>`` listening on 127.0.0.1 only; ``stop`` ends it (the broker
    going away), ``start`` runs it again on the same port.  ``persist_dir``: keep sessions and queued
    messages across a restart (off by default)."""

    def __init__(self, binary: str, work_dir: Path, *, persist_dir: Path | None = None) -> None:
        self.binary, self.port = binary, free_port()
        self.config = work_dir / f"mosquitto-{self.port}.conf"
        self.log = work_dir / f"mosquitto-{self.port}.log"
        # run as whoever runs the tests: as root, mosquitto would otherwise become the `mosquitto` user
        # and could not write its persistence file here
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", f"user {getpass.getuser()}"]
        if persist_dir is None:
            lines.append("persistence false")
        else:
            lines += ["persistence true", f"persistence_location {persist_dir}/"]
        self.config.write_text("\n".join([*lines, "log_dest stdout", ""]))
        self._proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [self.binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self._proc.returncode}: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen within 10 s")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None


@dataclass(frozen=True)
class Received:
    topic: str
    raw: bytes
    retain: bool

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.raw)
        return data


class Subscriber:
    """A paho client subscribed (QoS 1) to ``topic`` on the broker at ``port``, keeping every message.
    ``client_id`` with ``clean=False``: a persistent session, which the broker keeps while it is away."""

    def __init__(
        self, port: int, topic: str = "tipwatch/#", *, client_id: str = "", clean: bool = True
    ) -> None:
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._topic = topic
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean, protocol=paho.MQTTv311
        )
        # not faster: a client that redials a stopped broker's loopback port in a tight loop can be
        # handed that very port as its own and connect to itself (TCP self-connect), taking the port
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = lambda c, _u, _f, _rc, _p: c.subscribe(self._topic, qos=1)
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        assert self._subscribed.wait(10), "the test subscriber did not subscribe"

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(message.topic, bytes(message.payload), bool(message.retain)))
            self._cond.notify_all()

    def wait_for(
        self, match: Callable[[Received], bool], *, count: int = 1, timeout: float = 15
    ) -> list[Received]:
        """The messages matching ``match`` once there are ``count`` of them (AssertionError after
        ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self.messages if match(m)]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    break
                self._cond.wait(left)
        assert len(found) >= count, f"{len(found)} of {count} messages within {timeout} s: {self.messages}"
        return found

    def matching(self, match: Callable[[Received], bool]) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if match(m)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
