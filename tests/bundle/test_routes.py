"""POST /api/v1/cases/{id}/bundles and GET the zip, over HTTP, with the API's own auth and roles."""

from __future__ import annotations

import hashlib
import uuid
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
from evidence_api.routes import bundles as bundle_routes
from evidence_api.security import hash_token, new_token
from evidence_api.services import audit
from evidence_api.settings import Settings
from evidence_api.storage import FilesystemBlobStore

T0 = datetime(2026, 7, 14, 21, 5, tzinfo=UTC)


@pytest.fixture
def api(tmp_path: Path, media: Any) -> tuple[TestClient, Callable[[str], dict[str, str]], str]:
    settings = Settings(env="test", data_dir=tmp_path / "data", secret_key="x" * 32, run_migrations=False)
    engine = make_engine(settings.resolved_database_url.replace("tipwatch.db", "bundles.db"))
    (tmp_path / "data").mkdir()
    Base.metadata.create_all(engine)
    maker = make_sessionmaker(engine)
    store = FilesystemBlobStore(settings.resolved_blob_dir)
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
