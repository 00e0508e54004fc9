"""Evidence API ingest throughput and latency, on SQLite and PostgreSQL, against the raw floor.

Each event is one POST (metadata) and four PUTs (distinct real JPEG stills cut from OpenCV's vtest.avi).
The API runs in uvicorn on loopback; clients are threads, each with its own httpx connection.  The floor
is what the same bytes cost with nothing else: SHA-256 plus write + fsync to a file, single-threaded.
Prints one JSON object.

    python benchmarks/api.py [--events 200] [--clients 8] [--dbs sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import cv2
import httpx
import uvicorn

from evidence_api.main import create_app
from evidence_api.services import bootstrap
from evidence_api.settings import Settings

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
PG_URL = os.environ.get("TIPWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROLES = ("arrival", "act", "departure", "after")


def make_stills(n_events: int) -> list[list[bytes]]:
    """4 distinct JPEGs per event (frames of real CCTV, a counter stamped in to make each unique)."""
    cap = cv2.VideoCapture(str(VTEST))
    frames: list[cv2.typing.MatLike] = []
    while len(frames) < 40:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    out = []
    for e in range(n_events):
        stills = []
        for k in range(4):
            img = frames[(e * 4 + k) % len(frames)].copy()
            cv2.putText(img, f"{e}-{k}", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
            assert ok
            stills.append(buf.tobytes())
        out.append(stills)
    return out


def floor(stills: list[list[bytes]]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for e, files in enumerate(stills):
            for k, data in enumerate(files):
                digest = hashlib.sha256(data).hexdigest()
                path = Path(tmp) / f"{e}-{k}-{digest[:8]}"
                with path.open("wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
        dt = time.perf_counter() - t0
    return {"seconds": round(dt, 3), "events_per_s": round(len(stills) / dt, 1)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body_for(stills: list[bytes]) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(minutes=1)
    return {
        "id": str(uuid.uuid4()),
        "type": "dumping",
        "site_id": "bench-site",
        "camera_id": "cam-1",
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(seconds=30)).isoformat(),
        "clock_source": "stream",
        "model": {"name": "ssd_mobilenet_v2_coco_2018_03_29", "sha256": "0" * 64},
        "rule_version": "rules/1",
        "zone": None,
        "linked_event_ids": [],
        "plate": None,
        "details": {"people": 1},
        "files": [
            {
                "name": f"{role}.jpg",
                "role": role,
                "kind": "original",
                "media_type": "image/jpeg",
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "captured_at": start.isoformat(),
            }
            for role, data in zip(ROLES, stills, strict=True)
        ],
    }


def run_db(name: str, url: str | None, stills: list[list[bytes]], clients: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            env="test", secret_key="bench-secret-0123456789abcdef", data_dir=Path(tmp), database_url=url
        )
        app = create_app(settings)
        with app.state.sessionmaker() as s:
            token = bootstrap.ensure_site_camera_device(
                session=s, site_key="bench-site", camera_key="cam-1", pepper=settings.secret_key
            ).token
            s.commit()
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}/api/v1"
        headers = {"Authorization": f"Bearer {token}"}
        request_ms: list[float] = []
        event_ms: list[float] = []
        lock = threading.Lock()
        local = threading.local()

        def one(files: list[bytes]) -> None:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(headers=headers, timeout=60)
            body = body_for(files)
            times = []
            t_event = time.perf_counter()
            t = time.perf_counter()
            r = client.post(f"{base}/events", json=body)
            times.append(time.perf_counter() - t)
            assert r.status_code == 201, r.text
            for decl, data in zip(body["files"], files, strict=True):
                t = time.perf_counter()
                r = client.put(
                    f"{base}/events/{body['id']}/files/{decl['sha256']}",
                    content=data,
                    headers={"Content-Type": "image/jpeg"},
                )
                times.append(time.perf_counter() - t)
                assert r.status_code == 201, r.text
            assert r.json()["status"] == "complete"
            with lock:
                request_ms.extend(x * 1000 for x in times)
                event_ms.append((time.perf_counter() - t_event) * 1000)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, stills))
        dt = time.perf_counter() - t0
        server.should_exit = True
        thread.join(timeout=10)
        with app.state.sessionmaker() as s:
            from evidence_api.services import audit

            audit_entries = audit.verify_chain_report(s).entries
        app.state.engine.dispose()

    def p(values: list[float], q: float) -> float:
        return round(statistics.quantiles(values, n=100)[int(q) - 1], 1)

    return {
        "database": name,
        "events": len(stills),
        "clients": clients,
        "seconds": round(dt, 2),
        "events_per_s": round(len(stills) / dt, 1),
        "requests_per_s": round(5 * len(stills) / dt, 1),
        "request_ms": {"p50": p(request_ms, 50), "p95": p(request_ms, 95), "max": round(max(request_ms), 1)},
        "event_ms": {"p50": p(event_ms, 50), "p95": p(event_ms, 95)},
        "audit_chain_entries_verified": audit_entries,
    }


def pg_schema_url() -> tuple[str, Any, str]:
    import sqlalchemy as sa

    schema = f"bench_{secrets.token_hex(4)}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}", engine, schema


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--events", type=int, default=200, help="events to ingest (4 stills each)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients")
    ap.add_argument("--dbs", default="sqlite,postgresql", help="databases to measure, comma-separated")
    ap.add_argument("--json", action="store_true", help="(output is always one JSON object)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    stills = make_stills(args.events)
    total_bytes = sum(len(b) for files in stills for b in files)
    result: dict[str, Any] = {
        "benchmark": "evidence_api.ingest",
        "stills_per_event": 4,
        "mean_still_bytes": round(total_bytes / (4 * args.events)),
        "cpu_count": os.cpu_count(),
        "floor_hash_write_fsync": floor(stills),
        "runs": [],
    }
    for name in args.dbs.split(","):
        if name == "sqlite":
            result["runs"].append(run_db("sqlite", None, stills, args.clients))
        elif name == "postgresql":
            url, engine, schema = pg_schema_url()
            try:
                result["runs"].append(run_db("postgresql", url, stills, args.clients))
            finally:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                engine.dispose()
        else:
            raise SystemExit(f"unknown database {name!r}: use sqlite and/or postgresql")
    for run in result["runs"]:
        run["slowdown_vs_floor"] = round(
            result["floor_hash_write_fsync"]["events_per_s"] / run["events_per_s"], 1
        )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
