"""The main job on the embedded default, end to end and real at every step.

sample clips → ``tipwatch detect`` (spool + uploader) → evidence API on SQLite (in this process, on
loopback) → officer review → case → legal export of a signed bundle → offline verification.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

logger = logging.getLogger(__name__)

SITE_KEY = "demo-layby"
CAMERA_KEY = "cam-1"


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and why."""


@dataclass
class ClipResult:
    name: str
    truth: list[dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    """uvicorn on 127.0.0.1 in a background thread of this process."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="tipwatch-api", daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise DemoError("the evidence API did not start on loopback")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _check_ok(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise DemoError(f"{what} failed: HTTP {response.status_code} {response.text[:500]}")


def _check(response: httpx.Response, what: str) -> Any:
    _check_ok(response, what)
    return response.json()


def run_demo(*, clips_dir: Path, data_dir: Path, keep: bool = False) -> int:
    from evidence_api.bundle.signing import KeyStore
    from evidence_api.bundle.verify import verify_bundle
    from evidence_api.main import create_app
    from evidence_api.services.bootstrap import ensure_site_camera_device, ensure_staff
    from evidence_api.settings import Settings
    from tipwatch.cli import main as tipwatch
    from tipwatch.dev.samples import make_samples

    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if data_dir.exists() and not keep:
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)

    print(f"[1/6] sample clips in {clips_dir}")
    clips = make_samples(clips_dir)

    print(f"[2/6] evidence API on SQLite at {data_dir / 'tipwatch.db'}")
    settings = Settings(data_dir=data_dir)
    app = create_app(settings)
    password = secrets.token_urlsafe(12)
    with app.state.sessionmaker() as session:
        ensure_staff(session=session, password=password)
        creds = ensure_site_camera_device(
            session=session,
            site_key=SITE_KEY,
            camera_key=CAMERA_KEY,
            pepper=settings.secret_key,
            site_name="Demo lay-by (synthetic footage)",
        )
        session.commit()
    site_file = data_dir / "site.yaml"
    site_file.write_text(
        f"site_id: {SITE_KEY}\nname: Demo lay-by\ncameras:\n  - id: {CAMERA_KEY}\n    mode: overt\n"
        "    authorisation_ref: DPIA-2026-014\n",
        encoding="utf-8",
    )
    keys = KeyStore(data_dir)
    if not keys.records():
        keys.generate(comment="demo council signing key")
    (data_dir / "demo-credentials.txt").write_text(
        f"users admin, officer, legal; password {password}\n", encoding="utf-8"
    )

    results: list[ClipResult] = []
    with _Server(app, _free_port()) as server, httpx.Client(base_url=server.url, timeout=60) as http:

        def login(user: str) -> dict[str, str]:
            body = _check(
                http.post("/api/v1/auth/login", json={"username": user, "password": password}), "login"
            )
            return {"Authorization": f"Bearer {body['access_token']}"}

        admin, officer, legal = login("admin"), login("officer"), login("legal")
        today = datetime.now(UTC).date()
        _check(
            http.post(
                "/api/v1/authorisations",
                headers=admin,
                json={
                    "kind": "overt",
                    "urn": "DEMO-OVERT-001",
                    "title": "Overt fly-tipping camera, demo lay-by",
                    "signage_description": "Two A2 CCTV signs at both lay-by entrances naming the council",
                    "dpia_reference": "DPIA-2026-014",
                    "granted_on": (today - timedelta(days=30)).isoformat(),
                    "review_date": (today + timedelta(days=300)).isoformat(),
                    "camera_keys": [CAMERA_KEY],
                    "site_keys": [SITE_KEY],
                },
            ),
            "recording the overt-camera DPIA/signage record",
        )

        print(f"[3/6] detecting on {len(clips)} clips and uploading to {server.url}")
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
        for i, clip in enumerate(clips):
            before = {e["id"] for e in _list_events(http, officer)}
            rc = tipwatch(
                [
                    "detect",
                    "--site",
                    str(site_file),
                    "--source",
                    str(clip),
                    "--camera",
                    CAMERA_KEY,
                    "--spool",
                    str(data_dir / "spool" / clip.stem),
                    "--api",
                    server.url,
                    "--token",
                    creds.token,
                    "--start-time",
                    (start + timedelta(minutes=10 * i)).isoformat(),
                    "--no-progress",
                ]
            )
            if rc != 0:
                raise DemoError(f"tipwatch detect exited {rc} on {clip.name}")
            pending = list((data_dir / "spool" / clip.stem / "pending").glob("*"))
            if pending:
                raise DemoError(f"{len(pending)} event(s) of {clip.name} were not uploaded")
            truth = json.loads(clip.with_name(clip.stem + ".truth.json").read_text())["events"]
            new = [e for e in _list_events(http, officer) if e["id"] not in before]
            results.append(ClipResult(clip.stem, truth, sorted(new, key=lambda e: e["started_at"])))

        print("[4/6] events per clip (detected | ground truth)")
        for r in results:
            got = ", ".join(f"{e['type']}" for e in r.events) or "nothing"
            want = ", ".join(t["type"] for t in r.truth) or "nothing"
            print(f"      {r.name:<20} {got:<40} | {want}")
        dumping = next(
            (e for r in results if r.name == "dumping_layby" for e in r.events if e["type"] == "dumping"),
            None,
        )
        if dumping is None:
            raise DemoError("no dumping event was flagged on dumping_layby")

        print(f"[5/6] officer confirms dumping event {dumping['id']} and opens a case")
        _check(
            http.post(
                f"/api/v1/events/{dumping['id']}/review",
                headers=officer,
                json={
                    "action": "confirm",
                    "reason": "Bags and a mattress left on the verge after a van visit",
                },
            ),
            "confirming the event",
        )
        case = _check(
            http.post(
                "/api/v1/cases",
                headers=officer,
                json={
                    "title": "Demo lay-by: household waste left from a minibus",
                    "officer_in_charge": "Sam Green",
                    "event_ids": [dumping["id"]],
                },
            ),
            "opening the case",
        )

        print(f"[6/6] legal exports the evidence bundle for case {case['reference']}")
        bundle = _check(
            http.post(f"/api/v1/cases/{case['id']}/bundles", headers=legal), "exporting the bundle"
        )
        download = http.get(bundle["download_url"], headers=legal)
        _check_ok(download, "downloading the bundle")
        out = data_dir / f"bundle-{case['reference'].replace('/', '-')}.zip"
        out.write_bytes(download.content)

    report = verify_bundle(out)
    print(report.render())
    print()
    print(
        f"Bundle:        {out} ({len(bundle['exhibits'])} exhibits, key fingerprint {bundle['fingerprint']})"
    )
    print(f"Verify again:  tipwatch bundle verify {out}")
    print(f"Review page:   tipwatch serve --data {data_dir}   then open http://127.0.0.1:8000/review")
    print(f"Sign in:       see {data_dir / 'demo-credentials.txt'}")
    return 0 if report.ok else 1


def _list_events(http: httpx.Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    body = _check(http.get("/api/v1/events", headers=headers, params={"limit": 500}), "listing events")
    return list(body["items"])
