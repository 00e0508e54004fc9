"""The real evidence API (``evidence_api.main.create_app``, SQLite) served by uvicorn on a free
loopback port in a background thread, with a site, a camera and a device token, for edge tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from ingest_server import free_port

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
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "evidence API did not start"
        time.sleep(0.05)
    try:
        yield RealApi(f"http://127.0.0.1:{port}", cred.token, app)
    finally:
        server.should_exit = True
        thread.join(10)
        app.state.engine.dispose()
