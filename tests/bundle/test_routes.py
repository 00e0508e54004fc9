"""POST /api/v1/cases/{id}/bundles and GET the zip, over HTTP, with the API's own auth and roles."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from evidence_api import models
from evidence_api.bundle.signing import KeyStore
from evidence_api.bundle.verify import verify_bundle
from evidence_api.db import Base, make_engine, make_sessionmaker
from evidence_api.main import add_error_handlers
from evidence_api.routes import bundles as bundle_routes
from evidence_api.security import hash_token, new_token
from evidence_api.services import audit
from evidence_api.services.bundle_export import BackgroundExports, reap_interrupted
from evidence_api.services.bundle_history import bundle_path
from evidence_api.settings import Settings
from evidence_api.storage import make_blob_store
from tipwatch.person_finder import ssd_person_finder

T0 = datetime(2026, 7, 14, 21, 5, tzinfo=UTC)


@pytest.fixture
def api(tmp_path: Path, media: Any) -> tuple[TestClient, Callable[[str], dict[str, str]], str]:
    settings = Settings(env="test", data_dir=tmp_path / "data", secret_key="x" * 32, run_migrations=False)
    engine = make_engine(settings.resolved_database_url.replace("tipwatch.db", "bundles.db"))
    (tmp_path / "data").mkdir()
    Base.metadata.create_all(engine)
    maker = make_sessionmaker(engine)
    store = make_blob_store(settings)
    KeyStore(settings.data_dir).generate()
    tokens: dict[str, str] = {}
    with maker() as s:
        for role in ("legal", "officer"):
            user = models.User(username=f"{role}1", role=role, password_hash="-")
            s.add(user)
            s.flush()
            tokens[role] = new_token()
            s.add(
                models.ApiToken(
                    token_hash=hash_token(tokens[role], pepper=settings.secret_key),
                    kind="api",
                    user_id=user.id,
                )
            )
        site = models.Site(key="lay-by-a123", name="A123 lay-by", land_type="highway")
        camera = models.Camera(key="cam-1", site=site)
        s.add(
            models.Authorisation(
                kind="overt", urn="OVERT-1", title="Overt", granted_on=date(2026, 6, 1), sites=[site]
            )
        )
        case = models.Case(reference="FT/2026/0200", title="Lay-by", officer_in_charge="Sam Green")
        s.add_all([site, camera, case])
        s.flush()
        event = models.Event(
            id=uuid.uuid4(),
            type="dumping",
            site_id=site.id,
            camera_id=camera.id,
            started_at=T0,
            ended_at=T0 + timedelta(minutes=1),
            clock_source="stream",
            model_name="ssd",
            model_sha256="ab" * 32,
            rule_version="rules/1",
            metadata_sha256="cd" * 32,
            authorised_at_capture=True,
            review_status="confirmed",
            reviewed_by="officer1",
            reviewed_at=T0 + timedelta(hours=2),
            case_id=case.id,
        )
        s.add(event)
        s.flush()
        audit.append(
            s, actor="device:edge", action="event.ingested", target_type="event", target_id=str(event.id)
        )
        data = media.bus.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        store.put(data, sha256=sha)
        s.add(
            models.EventFile(
                event_id=event.id,
                position=0,
                name="act.jpg",
                role="act",
                kind="original",
                media_type="image/jpeg",
                sha256=sha,
                size=len(data),
                captured_at=T0,
                received_at=T0 + timedelta(minutes=2),
            )
        )
        audit.append(s, actor="device:edge", action="file.stored", target_type="blob", target_id=sha)
        case_id = str(case.id)
        s.commit()
    app = FastAPI()
    app.state.settings = settings
    app.state.sessionmaker = maker
    app.state.store = store
    app.state.person_finder_factory = None
    app.state.bundle_exports = BackgroundExports(maker)
    add_error_handlers(app)
    app.include_router(bundle_routes.router, prefix="/api/v1")
    return TestClient(app), lambda role: {"Authorization": f"Bearer {tokens[role]}"}, case_id


def test_legal_exports_and_downloads_a_bundle_that_verifies(api: Any, tmp_path: Path) -> None:
    client, auth, case_id = api
    res = client.post(f"/api/v1/cases/{case_id}/bundles", headers=auth("legal"))
    assert res.status_code == 201, res.text
    body = res.json()
    assert body["exhibits"] == ["SG/1"] and body["case_reference"] == "FT/2026/0200"
    got = client.get(body["download_url"], headers=auth("legal"))
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert hashlib.sha256(got.content).hexdigest() == body["sha256"]
    path = tmp_path / "downloaded.zip"
    path.write_bytes(got.content)
    assert verify_bundle(path, fingerprint=body["fingerprint"]).ok


def test_only_legal_or_admin_may_export(api: Any) -> None:
    client, auth, case_id = api
    assert client.post(f"/api/v1/cases/{case_id}/bundles", headers=auth("officer")).status_code == 403
    assert client.post(f"/api/v1/cases/{case_id}/bundles").status_code == 401
    missing = client.post(f"/api/v1/cases/{uuid.uuid4()}/bundles", headers=auth("legal"))
    assert missing.status_code == 404 and "no case" in missing.json()["detail"]
    nothing = client.get(f"/api/v1/cases/{case_id}/bundles/{uuid.uuid4()}", headers=auth("legal"))
    assert nothing.status_code == 404


def test_the_case_lists_its_exports_newest_first_with_failures_and_missing_files(
    api: Any, tmp_path: Path, media: Any
) -> None:
    client, auth, case_id = api
    first = client.post(f"/api/v1/cases/{case_id}/bundles", headers=auth("legal")).json()
    # the master is damaged on disk after the first export: the second export refuses, and says why
    store = client.app.state.store  # type: ignore[attr-defined]
    blob = store.path(hashlib.sha256(media.bus.read_bytes()).hexdigest())
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    failed = client.post(f"/api/v1/cases/{case_id}/bundles", headers=auth("legal"))
    assert failed.status_code == 409 and "no longer matches the hash" in failed.json()["detail"]
    listed = client.get(f"/api/v1/cases/{case_id}/bundles", headers=auth("legal"))
    assert listed.status_code == 200
    newest, oldest = listed.json()
    assert newest["status"] == "failed" and "no longer matches" in newest["error"]
    assert newest["download_url"] is None and newest["sha256"] is None
    assert oldest["bundle_id"] == first["bundle_id"] and oldest["status"] == "exported"
    assert oldest["sha256"] == first["sha256"] and oldest["exhibits"] == ["SG/1"]
    assert oldest["download_url"] == first["download_url"] and oldest["by"] == "user:legal1"
    # the file removed from the server: still listed (the audit log remembers), no longer downloadable
    for path in (tmp_path / "data" / "bundles").rglob("*.zip"):
        path.unlink()
    again = client.get(f"/api/v1/cases/{case_id}/bundles", headers=auth("legal")).json()
    assert [b["bundle_id"] for b in again] == [newest["bundle_id"], first["bundle_id"]]
    assert again[1]["download_url"] is None
    assert client.get(f"/api/v1/cases/{case_id}/bundles", headers=auth("officer")).status_code == 403
    assert client.get(f"/api/v1/cases/{uuid.uuid4()}/bundles", headers=auth("legal")).status_code == 404


def _wait_for(client: TestClient, url: str, headers: dict[str, str], bundle_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        (found,) = [b for b in client.get(url, headers=headers).json() if b["bundle_id"] == bundle_id]
        if found["status"] != "running":
            return found
        time.sleep(0.05)
    raise AssertionError(f"export {bundle_id} still running after 60 s")


def test_a_background_export_is_listed_as_running_then_exported(api: Any, tmp_path: Path, media: Any) -> None:
    client, auth, case_id = api
    res = client.post(f"/api/v1/cases/{case_id}/bundles?background=true", headers=auth("legal"))
    assert res.status_code == 202, res.text
    accepted = res.json()
    assert accepted["status"] == "running" and accepted["status_url"] == f"/api/v1/cases/{case_id}/bundles"
    done = _wait_for(client, accepted["status_url"], auth("legal"), accepted["bundle_id"])
    assert done["status"] == "exported" and done["exhibits"] == ["SG/1"] and done["download_url"]
    got = client.get(done["download_url"], headers=auth("legal"))
    assert hashlib.sha256(got.content).hexdigest() == done["sha256"]
    (tmp_path / "b.zip").write_bytes(got.content)
    assert verify_bundle(tmp_path / "b.zip").ok
    # a background export that cannot finish says why, like one in the request
    store = client.app.state.store  # type: ignore[attr-defined]
    blob = store.path(hashlib.sha256(media.bus.read_bytes()).hexdigest())
    blob.chmod(0o644)
    blob.write_bytes(b"\xff\xd8\xff" + blob.read_bytes()[3:-1])
    res = client.post(f"/api/v1/cases/{case_id}/bundles?background=true", headers=auth("legal"))
    assert res.status_code == 202
    failed = _wait_for(client, accepted["status_url"], auth("legal"), res.json()["bundle_id"])
    assert failed["status"] == "failed" and "no longer matches the hash" in failed["error"]
    # what cannot even begin is refused at once
    assert (
        client.post(
            f"/api/v1/cases/{uuid.uuid4()}/bundles?background=true", headers=auth("legal")
        ).status_code
        == 404
    )


def test_an_export_cut_short_by_a_stopped_api_is_recorded_as_failed_at_start_up(
    api: Any, tmp_path: Path
) -> None:
    client, auth, case_id = api
    app = client.app  # type: ignore[attr-defined]
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(gone.stdout)  # a process of this host that has ended
    bundle_id = str(uuid.uuid4())
    with app.state.sessionmaker() as s:
        for pid, bid in ((dead_pid, bundle_id), (os.getpid(), str(uuid.uuid4()))):
            audit.append(
                s,
                actor="user:legal1",
                action="bundle.export_started",
                target_type="case",
                target_id=case_id,
                details={"bundle_id": bid, "signing_key": "k", "host": socket.gethostname(), "pid": pid},
            )
        s.commit()
    part = bundle_path(app.state.settings.data_dir, uuid.UUID(case_id), uuid.UUID(bundle_id))
    part = part.with_name(part.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(b"PK half a bundle")
    with app.state.sessionmaker() as s:
        assert reap_interrupted(session=s, data_dir=app.state.settings.data_dir) == 1
        assert reap_interrupted(session=s, data_dir=app.state.settings.data_dir) == 0  # once only
        audit.verify_chain(s)
    listed = {
        b["bundle_id"]: b
        for b in client.get(f"/api/v1/cases/{case_id}/bundles", headers=auth("legal")).json()
    }
    assert listed[bundle_id]["status"] == "failed" and "interrupted" in listed[bundle_id]["error"]
    assert not part.exists()
    # this process's own export is running, not interrupted
    assert sorted(b["status"] for b in listed.values()) == ["failed", "running"]


def test_blurring_people_needs_the_person_finder_the_app_was_given(api: Any, tmp_path: Path) -> None:
    client, auth, case_id = api
    url = f"/api/v1/cases/{case_id}/bundles"
    refused = client.post(f"{url}?blur_people=true", headers=auth("legal"))
    assert refused.status_code == 409 and "no person finder" in refused.json()["detail"]
    assert client.get(url, headers=auth("legal")).json() == []  # refused before anything began
    client.app.state.person_finder_factory = ssd_person_finder  # type: ignore[attr-defined]
    res = client.post(f"{url}?blur_people=true", headers=auth("legal"))
    assert res.status_code == 201, res.text
    path = tmp_path / "blurred.zip"
    path.write_bytes(client.get(res.json()["download_url"], headers=auth("legal")).content)
    assert verify_bundle(path).ok
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    (act,) = manifest["exhibits"]
    labels = [w["label"] for w in act["working_copies"]]
    assert any(label.startswith("people blurred for disclosure") for label in labels), labels
