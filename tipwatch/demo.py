"""The main job on the embedded default, end to end and real at every step.

sample clips → ``tipwatch detect`` (spool + uploader) → evidence API on SQLite (in this process, on
loopback) → officer review → case → legal export of a signed bundle → offline verification.

The console tells the story (:mod:`tipwatch.demo_story`): six steps, a progress bar on the long
ones, what the detector found in each clip against its ground truth, and a summary.  Every log line
goes to ``DATA_DIR/demo.log``; the console shows them only with ``tipwatch -v demo``.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from tqdm import tqdm

from tipwatch.cli import LOG_FORMAT, run_command
from tipwatch.demo_story import ClipResult, Story

logger = logging.getLogger(__name__)

SITE_KEY = "demo-layby"
CAMERA_KEY = "cam-1"
LOG_NAME = "demo.log"
MARKER = ".tipwatch-demo"  # written into a demo's data folder: only such a folder is ever emptied

#: capture time of the first clip is this long before now; each next clip starts CLIP_SPACING later,
#: so the clips read as one camera's afternoon and their events never overlap
FIRST_CLIP_AGO = timedelta(hours=2)
CLIP_SPACING = timedelta(minutes=10)

#: loggers that write a line per HTTP request or migration step: noise even in the log file
QUIET_LOGGERS = ("httpx", "alembic")


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and why."""


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


@contextmanager
def log_to_file(path: Path, level: int) -> Iterator[None]:
    """Every log line at ``level`` and above goes to ``path`` while the block runs; the console
    handler keeps its own level, so this adds detail to the file only."""
    root = logging.getLogger()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(level)
    previous = root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    root.addHandler(handler)
    root.setLevel(min(previous, level) if previous else level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(previous)
        for name, level_before in quiet.items():
            logging.getLogger(name).setLevel(level_before)


def _clear_demo_folder(data_dir: Path) -> None:
    """Empty ``data_dir`` for a fresh run, but only if an earlier demo made it (its marker file is
    there) or it is empty: never a folder of real evidence, a checkout, or ``/``.  DemoError else."""
    if not data_dir.is_dir():
        raise DemoError(f"--data {data_dir} is not a folder")
    if not any(data_dir.iterdir()):
        return
    if not (data_dir / MARKER).is_file():
        raise DemoError(
            f"refusing to empty {data_dir}: it was not made by `tipwatch demo` (no {MARKER} file in it). "
            "Give --data a new or empty folder"
        )
    shutil.rmtree(data_dir)


def run_demo(*, clips_dir: Path, data_dir: Path, keep: bool = False, verbose: bool = False) -> int:
    """Run the whole chain; 0 when the exported bundle verifies, 1 when it does not.

    ``data_dir`` is recreated unless ``keep``; the log file is ``data_dir/demo.log`` (DEBUG lines
    too when ``verbose``).  Raises :class:`DemoError` naming the step that failed.
    """
    if data_dir.exists() and not keep:
        _clear_demo_folder(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("made by tipwatch demo; the next demo run may empty this folder\n")
    log = data_dir / LOG_NAME
    with log_to_file(log, logging.DEBUG if verbose else logging.INFO):
        logger.info("demo: clips %s, data %s", clips_dir, data_dir)
        try:
            return _run(clips_dir=clips_dir, data_dir=data_dir, story=Story(log=log))
        except Exception as exc:
            # The traceback goes to the log file; the console gets the one-line reason from the command.
            logger.info("demo stopped: %s", exc, exc_info=True)
            raise


def _run(*, clips_dir: Path, data_dir: Path, story: Story) -> int:
    from evidence_api.bundle.signing import KeyStore
    from evidence_api.bundle.verify import verify_bundle
    from evidence_api.main import create_app
    from evidence_api.services.bootstrap import ensure_site_camera_device, ensure_staff
    from evidence_api.settings import Settings
    from tipwatch.dev.samples import frames_to_render, make_samples
    from tipwatch.person_finder import ssd_person_finder

    story.intro()
    story.step(1, f"Sample clips in {clips_dir}")
    started = time.perf_counter()
    to_render = frames_to_render(clips_dir)
    with tqdm(total=to_render, unit="frame", desc="rendering", leave=False, disable=not to_render) as bar:
        clips = make_samples(clips_dir, on_frame=bar.update)
    story.samples_ready(len(clips), rendered_frames=to_render, seconds=time.perf_counter() - started)

    story.step(2, f"Evidence API on SQLite at {data_dir / 'tipwatch.db'}")
    settings = Settings(data_dir=data_dir)
    app = create_app(settings, person_finder_factory=ssd_person_finder)
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
    credentials = data_dir / "demo-credentials.txt"
    credentials.write_text(f"users admin, officer, legal; password {password}\n", encoding="utf-8")
    story.api_ready(credentials=credentials, site=SITE_KEY, camera=CAMERA_KEY)

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
        story.authorised(urn="DEMO-OVERT-001", camera=CAMERA_KEY)

        story.step(3, f"Detecting on {len(clips)} clips and uploading to {server.url}")
        started = time.perf_counter()
        first_start = datetime.now(UTC).replace(microsecond=0) - FIRST_CLIP_AGO
        with tqdm(clips, unit="clip", desc="detecting", leave=False) as bar:
            for i, clip in enumerate(bar):
                bar.set_postfix_str(clip.stem)
                clip_start = first_start + CLIP_SPACING * i
                before = {e["id"] for e in _list_events(http, officer)}
                rc = run_command(
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
                        clip_start.isoformat(),
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
                events = sorted(new, key=lambda e: e["started_at"])
                results.append(ClipResult(clip.stem, clip_start, truth, events))
        story.detected(results, seconds=time.perf_counter() - started)

        story.step(4, "What the detector found in each clip, against the ground truth")
        story.clip_table(results)
        found = next(
            (
                (r, e)
                for r in results
                if r.name == "dumping_layby"
                for e in r.events
                if e["type"] == "dumping"
            ),
            None,
        )
        if found is None:
            raise DemoError("no dumping event was flagged on dumping_layby")
        clip, dumping = found

        story.step(5, "The officer reviews the dumping event and opens a case")
        reason = "Bags and a mattress left on the verge after a van visit"
        _check(
            http.post(
                f"/api/v1/events/{dumping['id']}/review",
                headers=officer,
                json={"action": "confirm", "reason": reason},
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
        story.reviewed(clip, dumping, reason=reason, case=case)

        story.step(6, f"Legal exports the signed evidence bundle for case {case['reference']}")
        bundle = _check(
            http.post(f"/api/v1/cases/{case['id']}/bundles", headers=legal), "exporting the bundle"
        )
        download = http.get(bundle["download_url"], headers=legal)
        _check_ok(download, "downloading the bundle")
        out = data_dir / f"bundle-{case['reference'].replace('/', '-')}.zip"
        out.write_bytes(download.content)

    report = verify_bundle(out)
    story.verified(report.render())
    story.summary(results=results, case=case, bundle_path=out, bundle=bundle, data_dir=data_dir, ok=report.ok)
    return 0 if report.ok else 1


def _list_events(http: httpx.Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    body = _check(http.get("/api/v1/events", headers=headers, params={"limit": 500}), "listing events")
    return list(body["items"])
