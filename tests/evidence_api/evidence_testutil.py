"""Helpers for the evidence API tests: the Api handle, ingest-contract bodies, uploads."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from evidence_api.main import create_app
from evidence_api.models import Role
from evidence_api.services import bootstrap, users
from evidence_api.settings import Settings

PASSWORD = "correct horse battery"


@dataclass
class Api:
    client: TestClient
    settings: Settings
    tokens: dict[str, str]  # role -> bearer token
    other_device_token: str

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    @property
    def sessionmaker(self) -> Any:
        return self.client.app.state.sessionmaker  # type: ignore[attr-defined]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def event_body(
    files: dict[str, tuple[str, bytes]],
    *,
    camera: str = "cam-1",
    site: str = "lay-by-a123",
    started_at: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An ingest-contract body; ``files`` maps name -> (role, bytes)."""
    start = started_at or datetime.now(UTC) - timedelta(minutes=5)
    decl = []
    for name, (role, data) in files.items():
        decl.append(
            {
                "name": name,
                "role": role,
                "kind": "original",
                "media_type": "video/mp4" if name.endswith(".mp4") else "image/jpeg",
                "sha256": sha(data),
                "size": len(data),
                "captured_at": start.isoformat(),
            }
        )
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "type": "dumping",
        "site_id": site,
        "camera_id": camera,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(seconds=40)).isoformat(),
        "clock_source": "stream",
        "model": {"name": "ssd_mobilenet_v2_coco_2018_03_29", "sha256": sha(b"model")},
        "rule_version": "rules/1",
        "zone": "verge",
        "linked_event_ids": [],
        "plate": {"text": "AB12CDE", "confidence": 0.91, "valid_uk_format": True},
        "details": {"deposit_area_px": 5120, "people": 1},
        "files": decl,
    }
    body.update(extra)
    return body


def upload(api: Api, body: dict[str, Any], files: dict[str, bytes], token_role: str = "device") -> None:
    r = api.client.post("/api/v1/events", json=body, headers=api.h(token_role))
    assert r.status_code == 201, r.text
    for data in files.values():
        ct = "video/mp4" if data[4:8] == b"ftyp" else "image/jpeg"
        r = api.client.put(
            f"/api/v1/events/{body['id']}/files/{sha(data)}",
            content=data,
            headers={**api.h(token_role), "Content-Type": ct},
        )
        assert r.status_code in (200, 201), r.text


def api_settings(db_url: str, tmp_path: Path, **overrides: object) -> Settings:
    """The test API's settings (small file limits), with ``overrides`` (another blob store …)."""
    return Settings(
        **{
            "env": "test",
            "secret_key": "test-secret-0123456789abcdef",
            "data_dir": tmp_path / "data",
            "database_url": db_url,
            "max_image_bytes": 2_000_000,
            "max_clip_bytes": 5_000_000,
            **overrides,
        }
    )


@contextmanager
def serve_api(settings: Settings) -> Iterator[Api]:
    """An app on ``settings`` with one user per role and a device owning cam-1 (and one owning cam-9)."""
    app = create_app(settings)
    tokens: dict[str, str] = {}
    with app.state.sessionmaker() as session:
        staff = bootstrap.ensure_staff(session=session, password=PASSWORD)
        for name, user in staff.items():
            tokens[name], _ = users.issue_user_token(
                session=session, user=user, pepper=settings.secret_key, hours=1
            )
        cred = bootstrap.ensure_site_camera_device(
            session=session, site_key="lay-by-a123", camera_key="cam-1", pepper=settings.secret_key
        )
        other = bootstrap.ensure_site_camera_device(
            session=session,
            site_key="back-lane",
            camera_key="cam-9",
            pepper=settings.secret_key,
            covert=True,
            device_name="edge-other",
        )
        session.commit()
    tokens[Role.device.value] = cred.token
    with TestClient(app) as client:
        yield Api(client, settings, tokens, other.token)
    app.state.engine.dispose()
