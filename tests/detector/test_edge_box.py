"""An edge box with several cameras: one process, one detector shared between them, a spool each."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from detector.backends import DetectorPool, create_shared_detector
from detector.backends.opencv_ssd import OpenCVSSDDetector
from detector.backends.pool import pool_size
from detector.config import load_site
from detector.sinks.spool import Spool
from detector.types import Frame
from detector.worker import WorkerError, WorkerOptions, build_box


def test_pool_size_is_one_instance_per_core_and_never_more_than_cameras() -> None:
    assert pool_size(8, cores=2) == 2
    assert pool_size(1, cores=16) == 1
    assert pool_size(3, cores=4) == 3
    assert pool_size(0, cores=4) == 1
    with pytest.raises(ValueError):
        DetectorPool(OpenCVSSDDetector, 0)


def test_a_shared_detector_gives_every_camera_the_answer_its_own_model_would(
    vtest_frames: list[Frame], ssd: OpenCVSSDDetector
) -> None:
    """Eight threads hammer a pool of two instances at once: each answer is the lone model's."""
    pool = create_shared_detector(None, cameras=8)
    assert isinstance(pool, DetectorPool) and pool.size == min(8, os.cpu_count() or 1)
    assert pool.model.sha256 == ssd.model.sha256
    expected = [ssd.detect(f.image) for f in vtest_frames]
    wrong: list[int] = []

    def camera(k: int) -> None:
        for _ in range(2):
            for i, frame in enumerate(vtest_frames):
                got = pool.detect(frame.image)
                if not (
                    np.allclose(got.xyxy, expected[i].xyxy, atol=1e-3)
                    and np.array_equal(got.class_id, expected[i].class_id)
                ):
                    wrong.append(k)

    threads = [threading.Thread(target=camera, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def _site(tmp_path: Path, cameras: dict[str, Path | None]) -> Path:
    lines = ["site_id: box-test", "cameras:"]
    for cam, source in cameras.items():
        lines.append(f"  - id: {cam}")
        lines.append("    mode: overt")
        lines.append("    authorisation_ref: DPIA-1")
        if source is not None:
            lines.append(f"    source: {source}")
    path = tmp_path / "site.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_all_cameras_of_a_site_run_in_one_process_each_with_its_own_spool(
    samples_dir: Path, tmp_path: Path
) -> None:
    site = _site(
        tmp_path,
        {"gateway": samples_dir / "dumping_no_vehicle.mp4", "layby": samples_dir / "park_and_leave.mp4"},
    )
    spool = tmp_path / "spool"
    cmd = [sys.executable, "-m", "tipwatch", "detect", "--site", str(site), "--all-cameras"]
    subprocess.run(
        [*cmd, "--spool", str(spool), "--no-plates"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    gateway = Spool(spool / "gateway").pending()
    layby = Spool(spool / "layby").pending()
    assert [e.payload["type"] for e in gateway] == ["dumping"]
    assert [e.payload["type"] for e in layby] == ["vehicle_visit"]
    assert gateway[0].payload["camera_id"] == "gateway" and layby[0].payload["camera_id"] == "layby"
    assert gateway[0].verify() == [] and layby[0].verify() == []


def test_the_box_shares_one_detector_between_its_cameras(samples_dir: Path, tmp_path: Path) -> None:
    site = load_site(
        _site(
            tmp_path,
            {"a": samples_dir / "dog_walker.mp4", "b": samples_dir / "cloud_shadow.mp4"},
        )
    )
    workers = build_box(site, WorkerOptions(spool_dir=tmp_path / "spool", read_plates=False))
    try:
        assert [w.camera.id for w in workers] == ["a", "b"]
        assert workers[0].pipeline.detector is workers[1].pipeline.detector
        assert workers[0].options.spool_dir == tmp_path / "spool" / "a"
    finally:
        for w in workers:
            w.source.close()
            w.sinks.close()


def test_a_camera_without_a_source_stops_the_box_before_anything_opens(
    samples_dir: Path, tmp_path: Path
) -> None:
    site = load_site(_site(tmp_path, {"a": samples_dir / "dog_walker.mp4", "b": None}))
    with pytest.raises(WorkerError, match=r"no source for camera\(s\) b:"):
        build_box(site, WorkerOptions(spool_dir=tmp_path / "spool"))
    assert not (tmp_path / "spool").exists()


def test_all_cameras_refuses_a_source_or_camera_given_on_the_command_line(
    samples_dir: Path, tmp_path: Path
) -> None:
    site = _site(tmp_path, {"a": samples_dir / "dog_walker.mp4"})
    result = subprocess.run(
        [sys.executable, "-m", "tipwatch", "detect", "--site", str(site), "--all-cameras", "--camera", "a"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "--all-cameras takes each camera's source from the site file" in result.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--start-time", "2026-11-24T09:00:00Z"], "drop --start-time/--fps"),
        (["--fps", "5"], "drop --start-time/--fps"),
    ],
)
def test_all_cameras_refuses_one_start_time_or_frame_rate_for_every_camera(
    samples_dir: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    site = _site(tmp_path, {"a": samples_dir / "dog_walker.mp4", "b": samples_dir / "cloud_shadow.mp4"})
    result = subprocess.run(
        [sys.executable, "-m", "tipwatch", "detect", "--site", str(site), "--all-cameras", *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and message in result.stderr


def test_a_spool_path_that_is_a_file_is_refused_before_anything_loads(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.write_text("not a folder")
    cmd = [sys.executable, "-m", "tipwatch", "detect", "--source", str(tmp_path / "x.mp4")]
    result = subprocess.run(
        [*cmd, "--spool", str(spool)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "is a file, not a directory" in result.stderr
    assert spool.read_text() == "not a folder"
