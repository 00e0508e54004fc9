"""A small but real HTTP server implementing docs/ingest-contract.md, for the uploader tests.

It runs uvicorn on 127.0.0.1 (a free port) in a background thread, stores metadata and blobs under a
directory, recomputes every hash and checks sizes, media types and magic bytes.  Switches let a test
take it down and bring it back on the same port, answer 503 a number of times, slow a PUT down, or
drop the TCP connection in the middle of a PUT body (through a real proxy socket in front of it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

HEX64 = r"^[0-9a-f]{64}$"
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[78][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    sha256: str = Field(pattern=HEX64)


class PlateInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None
    confidence: float | None
    valid_uk_format: bool


class FileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    role: Literal["arrival", "vehicle", "plate", "act", "departure", "before", "after", "deposit", "clip"]
    kind: Literal["original", "annotated"]
    media_type: Literal["image/jpeg", "video/mp4"]
    sha256: str = Field(pattern=HEX64)
    size: int = Field(gt=0)
    captured_at: str


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=UUID_RE)
    type: Literal["dumping", "vehicle_visit"]
    site_id: str
    camera_id: str
    started_at: str
    ended_at: str
    clock_source: Literal["stream", "receive"]
    model: ModelInfo
    rule_version: str
    zone: str | None
    linked_event_ids: list[str]
    plate: PlateInfo | None
    details: dict[str, str | int | float | bool]
    files: list[FileSpec]


@dataclass
class StoredEvent:
    canonical: str
    payload: EventIn
    received: set[str] = field(default_factory=set)

    @property
    def declared(self) -> dict[str, FileSpec]:
        return {f.sha256: f for f in self.payload.files}

    @property
    def missing(self) -> list[str]:
        return sorted(set(self.declared) - self.received)


def _magic_ok(media_type: str, data: bytes) -> bool:
    if media_type == "image/jpeg":
        return data[:3] == b"\xff\xd8\xff"
    return data[4:8] == b"ftyp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class IngestServer:
    """The contract server; ``url`` is the base URL the uploader talks to."""

    def __init__(
        self, store: Path, token: str = "device-token", cameras: tuple[str, ...] = ("cam-1",)
    ) -> None:
        self.store = store
        self.store.mkdir(parents=True, exist_ok=True)
        self.token = token
        self.cameras = set(cameras)
        self.events: dict[str, StoredEvent] = {}
        self.blob_writes: dict[str, int] = {}  # sha256 -> times the bytes were stored (must stay 1)
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.fail_next = 0
        self.fail_status = 503
        self.put_delay_s = 0.0
        self.put_started = threading.Event()
        self.lock = threading.Lock()
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = self._build_app()

    # -- lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="ingest-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"ingest server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    # -- what the tests look at

    def complete_ids(self) -> set[str]:
        return {i for i, e in self.events.items() if not e.missing}

    def blob(self, sha256: str) -> bytes:
        return (self.store / sha256).read_bytes()

    def count(self, method: str, status: int | None = None) -> int:
        return sum(1 for m, _, s in self.requests if m == method and (status is None or s == status))

    # -- the app

    def _build_app(self) -> FastAPI:
        app = FastAPI()
        server = self

        @app.middleware("http")
        async def record_and_fail(request: Request, call_next: Any) -> Response:
            with server.lock:
                injected = server.fail_next > 0
                if injected:
                    server.fail_next -= 1
            if injected:
                await request.body()
                response: Response = JSONResponse(
                    {"detail": "service unavailable (test)"}, server.fail_status
                )
            else:
                response = await call_next(request)
            server.requests.append((request.method, request.url.path, response.status_code))
            return response

        def check_token(authorization: str | None) -> None:
            if authorization != f"Bearer {server.token}":
                raise HTTPException(401, "missing or wrong device token")

        def answer(event_id: str, stored: StoredEvent, status: int) -> JSONResponse:
            state = "complete" if not stored.missing else "awaiting_files"
            return JSONResponse({"id": event_id, "status": state, "missing_files": stored.missing}, status)

        @app.post("/api/v1/events")
        async def post_event(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
            check_token(authorization)
            raw = await request.json()
            try:
                event = EventIn.model_validate(raw)
            except Exception as exc:
                raise HTTPException(422, f"invalid event: {exc}") from exc
            if event.camera_id not in server.cameras:
                raise HTTPException(403, f"device does not own camera {event.camera_id!r}")
            canonical = json.dumps(event.model_dump(), sort_keys=True)
            with server.lock:
                stored = server.events.get(event.id)
                if stored is None:
                    stored = StoredEvent(canonical=canonical, payload=event)
                    server.events[event.id] = stored
                    return answer(event.id, stored, 201)
                if stored.canonical != canonical:
                    raise HTTPException(409, f"event {event.id} already stored with different content")
                return answer(event.id, stored, 200)

        @app.put("/api/v1/events/{event_id}/files/{sha256}")
        async def put_file(
            event_id: str,
            sha256: str,
            request: Request,
            authorization: str | None = Header(None),
            content_type: str | None = Header(None),
        ) -> JSONResponse:
            check_token(authorization)
            server.put_started.set()
            if server.put_delay_s:
                time.sleep(server.put_delay_s)  # blocks this worker like a slow disk would
            stored = server.events.get(event_id)
            if stored is None:
                raise HTTPException(404, f"event {event_id} not found; POST its metadata first")
            spec = stored.declared.get(sha256)
            if spec is None:
                raise HTTPException(422, f"file {sha256} is not declared in event {event_id}")
            data = await request.body()
            actual = hashlib.sha256(data).hexdigest()
            if actual != sha256:
                raise HTTPException(422, f"SHA-256 mismatch: body hashes to {actual}, URL says {sha256}")
            if len(data) != spec.size:
                raise HTTPException(422, f"size mismatch: {len(data)} bytes received, {spec.size} declared")
            if content_type != spec.media_type or not _magic_ok(spec.media_type, data):
                raise HTTPException(
                    422, f"media type mismatch: {content_type} / magic bytes for {spec.media_type}"
                )
            with server.lock:
                if sha256 in stored.received:
                    return answer(event_id, stored, 200)
                if not (server.store / sha256).exists():
                    (server.store / sha256).write_bytes(data)
                    server.blob_writes[sha256] = server.blob_writes.get(sha256, 0) + 1
                stored.received.add(sha256)
                return answer(event_id, stored, 201)

        return app


class DroppingProxy:
    """A TCP proxy in front of a server that, when armed, cuts a PUT connection mid-body.

    It forwards bytes both ways; once armed, the first request whose head starts with ``PUT`` has
    its connection closed after ``cut_after`` bytes have been forwarded upstream.
    """

    def __init__(self, upstream_port: int, cut_after: int = 4096) -> None:
        self.upstream_port = upstream_port
        self.cut_after = cut_after
        self.armed = False
        self.cuts = 0
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name="dropping-proxy").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))

        def back() -> None:
            try:
                while data := upstream.recv(65536):
                    client.sendall(data)
            except OSError:
                pass
            finally:
                client.close()

        threading.Thread(target=back, daemon=True).start()
        forwarded = 0
        cutting = False
        try:
            while data := client.recv(65536):
                if self.armed and not cutting and re.match(rb"^PUT ", data):
                    cutting = True
                    forwarded = 0
                if cutting and forwarded + len(data) > self.cut_after:
                    upstream.sendall(data[: self.cut_after - forwarded])
                    self.armed = False
                    self.cuts += 1
                    break
                upstream.sendall(data)
                forwarded += len(data)
        except OSError:
            pass
        finally:
            # shutdown() wakes the other thread's recv(); close() alone would not end the connection.
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
