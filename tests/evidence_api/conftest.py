"""API fixtures: an app on ``db_url`` with one user per role, a device owning cam-1, real media."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
import ultralytics
from evidence_testutil import Api, api_settings, serve_api
from s3_testutil import TEST_CREDENTIALS, MotoServer

ASSETS = Path(ultralytics.__file__).parent / "assets"
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Real stills (photographs) and a real mp4 cut from OpenCV's CCTV sample."""
    out = tmp_path_factory.mktemp("media")
    clip = out / "clip.mp4"
    cap = cv2.VideoCapture(str(VTEST))
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"mp4v"), 10, (384, 288))
    for _ in range(10):
        ok, frame = cap.read()
        assert ok
        writer.write(cv2.resize(frame, (384, 288)))
    writer.release()
    cap.release()
    return {
        "bus": (ASSETS / "bus.jpg").read_bytes(),
        "zidane": (ASSETS / "zidane.jpg").read_bytes(),
        "clip": clip.read_bytes(),
    }


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A real S3-compatible server (moto's) on a free loopback port, shared by the session's tests;
    each test makes its own bucket."""
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The standard AWS variables, as a deployment sets them; no AWS profile or config file is read."""
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    with serve_api(api_settings(db_url, tmp_path)) as served:
        yield served
