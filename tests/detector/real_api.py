"""The real evidence API (``evidence_api.main.create_app``, SQLite) served by uvicorn on a free
loopback port in a background thread, with a site, a camera and a device token, for edge tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests_support_uvicorn import serve_in_thread

from evidence_api.main import create_app
from evidence_api.services import bootstrap
from evidence_api.settings import Settings


@dataclass
class RealApi:
    url: str
    token: str
    app: Any


@contextmanager
def running_api(data_dir: Path, camera_key: str = "cam-1") -> Iterator[RealApi]:
    settings = Settings(env="test", secret_key="test-secret-0123456789abcdef", data_dir=data_dir)
    app = create_app(settings)
    with app.state.sessionmaker() as session:
        cred = bootstrap.ensure_site_camera_device(
            session=session, site_key="lay-by-a123", camera_key=camera_key, pepper=settings.secret_key
        )
        session.commit()
    with serve_in_thread(app) as port:
        yield RealApi(f"http://127.0.0.1:{port}", cred.token, app)
        app.state.engine.dispose()
