"""Shared fixtures for the detector tests: the real SSD model, vtest.avi and the sample clips."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from detector_testutil import START

from detector.backends.opencv_ssd import OpenCVSSDDetector
from detector.pipeline import configure_threads
from detector.sources import FileSource
from detector.types import Frame
from tipwatch.dev.composite import VTEST


@pytest.fixture(scope="session", autouse=True)
def _opencv_threads() -> None:
    configure_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def ssd() -> OpenCVSSDDetector:
    return OpenCVSSDDetector()


@pytest.fixture(scope="session")
def vtest_path() -> str:
    if not Path(VTEST).is_file():
        pytest.skip(f"{VTEST} not installed (apt package opencv-doc)")
    return VTEST


@pytest.fixture(scope="session")
def vtest_frames(vtest_path: str) -> list[Frame]:
    """A handful of real CCTV frames: 0, 100, ..., 700."""
    source = FileSource(vtest_path, "cam-1", start_time=START)
    frames = [f for f in source.frames() if f.index % 100 == 0]
    source.close()
    return frames


@pytest.fixture(scope="session")
def samples_dir() -> Iterator[Path]:
    """The rendered sample clips (cached between runs; make_samples re-renders stale ones)."""
    from tipwatch.dev.samples import make_samples

    root = Path(
        os.environ.get("TIPWATCH_SAMPLES_DIR", Path(tempfile.gettempdir()) / "tipwatch-samples-cache")
    )
    make_samples(root)
    yield root
