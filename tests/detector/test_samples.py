"""The synthetic sample clips: valid truth that matches the script, determinism, caching, and the
real COCO detector actually seeing the composited people and vehicle."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.backends.opencv_ssd import OpenCVSSDConfig, OpenCVSSDDetector
from detector.types import ObjectClass
from tipwatch.dev.commands import samples as samples_command
from tipwatch.dev.eval import load_truth
from tipwatch.dev.samples import GENERATOR, SCENARIOS, SampleError, frame_at, make_samples, truth_document
from tipwatch.dev.samples.motion import Carried
from tipwatch.dev.samples.render import write_clip
from tipwatch.dev.samples.scene import FPS, HEIGHT, WIDTH

EXPECTED_EVENTS = {
    "dumping_layby": ["dumping", "vehicle_visit"],
    "drive_through": [],
    "park_and_leave": ["vehicle_visit"],
    "dog_walker": [],
    "cloud_shadow": [],
    "put_down_pick_up": [],
    "dumping_no_vehicle": ["dumping"],
}


def _video_digest(path: Path) -> tuple[int, str]:
    cap = cv2.VideoCapture(str(path))
    digest = hashlib.sha256()
    count = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (HEIGHT, WIDTH, 3)
        digest.update(frame.tobytes())
        count += 1
    cap.release()
    return count, digest.hexdigest()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_truth_is_valid_and_says_what_the_scene_is_about(name: str) -> None:
    scenario = SCENARIOS[name]()
    doc = truth_document(scenario)
    assert doc["site"] is None
    assert doc["generator"] == GENERATOR
    assert 40.0 <= scenario.duration_s <= 90.0
    events = doc["events"]
    assert isinstance(events, list)
    assert sorted(e["type"] for e in events) == EXPECTED_EVENTS[name]
    for e in events:
        assert 0.0 <= e["start_s"] < e["end_s"] <= scenario.duration_s


def test_dumping_truth_matches_the_scripted_items() -> None:
    """The dumping span starts when the first item is put down and every item stays to the end."""
    for name in ("dumping_layby", "dumping_no_vehicle"):
        scenario = SCENARIOS[name]()
        dumping = next(e for e in scenario.events if e.type == "dumping")
        items = [a.motion for a in scenario.actors if a.kind == "item"]
        assert items and all(isinstance(m, Carried) for m in items)
        first_down = min(m.spans[-1][1] for m in items if isinstance(m, Carried))
        assert dumping.start_s == pytest.approx(first_down)
        assert dumping.end_s == scenario.duration_s
        for motion in items:
            assert isinstance(motion, Carried)
            down = motion.spans[-1][1]
            carried, resting, end = (motion.at(t) for t in (down - 1.0, down + 1.0, scenario.duration_s))
            assert carried is not None and carried.moving  # still in the hand
            assert resting is not None and not resting.moving  # put down ...
            assert end is not None and (end.x, end.y) == (resting.x, resting.y)  # ... and left there


def test_visit_truth_matches_the_scripted_stop() -> None:
    for name in ("dumping_layby", "park_and_leave"):
        scenario = SCENARIOS[name]()
        visit = next(e for e in scenario.events if e.type == "vehicle_visit")
        vehicle = next(a.motion for a in scenario.actors if a.kind == "vehicle")
        poses = [vehicle.at(t) for t in np.arange(visit.start_s + 0.1, visit.end_s, 0.5)]
        assert all(p is not None and not p.moving for p in poses)
        arriving, leaving = vehicle.at(visit.start_s - 1.0), vehicle.at(visit.end_s + 1.0)
        assert arriving is not None and arriving.moving
        assert leaving is not None and leaving.moving
        # and it is gone well before the end of the clip
        assert vehicle.at(scenario.duration_s - 1.0) is None


def test_negative_scenes_leave_nothing_behind() -> None:
    """In the scenes with no dumping, anything carried in is carried away again within 15 s."""
    for name in ("drive_through", "park_and_leave", "dog_walker", "cloud_shadow", "put_down_pick_up"):
        scenario = SCENARIOS[name]()
        for actor in scenario.actors:
            if actor.kind != "item":
                continue
            assert actor.motion.at(scenario.duration_s) is None
            assert isinstance(actor.motion, Carried)
            spans = actor.motion.spans
            for (_, down), (up, _) in itertools.pairwise(spans):
                assert up - down < 15.0


def test_a_rendered_clip_is_deterministic_across_processes(tmp_path: Path) -> None:
    scenario = SCENARIOS["dumping_layby"]()
    (tmp_path / "a").mkdir()
    video = write_clip(scenario, tmp_path / "a", end_s=3.0)
    count, digest = _video_digest(video)
    assert count == 3 * FPS
    # a fresh interpreter (fresh GrabCut, fresh RNGs) renders the same pixels
    code = (
        "import sys; from pathlib import Path; from tipwatch.dev.samples import make_samples; "
        "make_samples(Path(sys.argv[1]), only=['dumping_layby'], end_s=3.0)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "b")], check=True, timeout=120)
    again = tmp_path / "b" / "dumping_layby.mp4"
    assert _video_digest(again) == (count, digest)
    assert again.read_bytes() == video.read_bytes()
    # and the frames are not all alike: the noise and the vehicle move
    cap = cv2.VideoCapture(str(video))
    first = cap.read()[1]
    cap.set(cv2.CAP_PROP_POS_FRAMES, count - 1)
    last = cap.read()[1]
    assert np.abs(first.astype(int) - last.astype(int)).mean() > 1.0


def test_truth_file_is_readable_by_the_scorer(tmp_path: Path) -> None:
    (video,) = make_samples(tmp_path, only=["dumping_no_vehicle"], end_s=1.0)
    truth = tmp_path / "dumping_no_vehicle.truth.json"
    spans, site, _conditions = load_truth(truth)
    assert site is None
    assert [(s.type.value, s.start_s, s.end_s) for s in spans] == [("dumping", 11.0, 70.0)]
    assert json.loads(truth.read_text())["duration_s"] == 1.0
    assert video.stat().st_size > 0


def test_up_to_date_clips_are_not_rendered_again(tmp_path: Path) -> None:
    (video,) = make_samples(tmp_path, only=["cloud_shadow"], end_s=1.0)
    truth = tmp_path / "cloud_shadow.truth.json"
    stamps = (video.stat().st_mtime_ns, truth.stat().st_mtime_ns)

    assert make_samples(tmp_path, only=["cloud_shadow"], end_s=1.0) == [video]
    assert (video.stat().st_mtime_ns, truth.stat().st_mtime_ns) == stamps

    # a clip written by another generator version is stale
    doc = json.loads(truth.read_text())
    doc["generator"] = "tipwatch-samples/0"
    truth.write_text(json.dumps(doc))
    make_samples(tmp_path, only=["cloud_shadow"], end_s=1.0)
    assert json.loads(truth.read_text())["generator"] == GENERATOR
    assert video.stat().st_mtime_ns != stamps[0]

    # a clip of another length (a short test render is not the full clip) is stale too
    make_samples(tmp_path, only=["cloud_shadow"], end_s=1.5)
    assert json.loads(truth.read_text())["duration_s"] == 1.5

    # and force renders even an up-to-date clip
    stamp = video.stat().st_mtime_ns
    make_samples(tmp_path, only=["cloud_shadow"], end_s=1.5, force=True)
    assert video.stat().st_mtime_ns != stamp


def test_unknown_scene_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(SampleError, match="dumping_layby"):
        make_samples(tmp_path / "out", only=["dumping_layby", "no_such_scene"])
    assert not (tmp_path / "out").exists()


def test_cli_parses_make_and_rejects_unknown_scenes() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="tipwatch samples")
    samples_command.add_arguments(parser)
    args = parser.parse_args(["make", "out", "--force", "--only", "drive_through", "dog_walker"])
    assert (args.samples_command, args.directory, args.force, args.only) == (
        "make",
        Path("out"),
        True,
        ["drive_through", "dog_walker"],
    )
    assert parser.parse_args(["make"]).directory == Path("sample_clips")
    with pytest.raises(SystemExit):
        parser.parse_args(["make", "out", "--only", "no_such_scene"])


@pytest.fixture(scope="module")
def ssd() -> OpenCVSSDDetector:
    return OpenCVSSDDetector(OpenCVSSDConfig(min_confidence=0.4))


# (scene, time) where people and/or the vehicle are fully in view
DETECTION_FRAMES = [
    ("dumping_layby", 12.0),
    ("dumping_layby", 21.0),
    ("drive_through", 6.2),
    ("drive_through", 35.0),
    ("park_and_leave", 18.0),
    ("dog_walker", 14.0),
    ("put_down_pick_up", 6.0),
    ("dumping_no_vehicle", 6.0),
]


@pytest.mark.parametrize(("name", "t"), DETECTION_FRAMES)
def test_the_real_detector_sees_the_people_and_the_vehicle(
    ssd: OpenCVSSDDetector, name: str, t: float
) -> None:
    scenario = SCENARIOS[name]()
    frame = frame_at(name, t)
    dets = ssd.detect(frame)
    wanted = 0
    for actor in scenario.actors:
        pose = actor.motion.at(t)
        if actor.kind == "item" or pose is None:
            continue
        sprite = actor.sprite()
        width = sprite.width * actor.height * pose.scale / sprite.height
        classes = {ObjectClass.PERSON} if actor.kind == "person" else {ObjectClass.BUS, ObjectClass.VAN_TRUCK}
        centres = [(b[0] + b[2]) / 2 for b, c in zip(dets.xyxy, dets.class_id, strict=True) if c in classes]
        assert any(abs(cx - pose.x) < width * 0.6 for cx in centres), (
            f"{name}@{t}s: no {actor.kind} found near x={pose.x:.0f}; detections {dets.xyxy.round()} "
            f"{dets.class_id} {dets.confidence.round(2)}"
        )
        wanted += 1
    assert wanted > 0


def test_the_detector_still_sees_them_after_mp4_encoding(ssd: OpenCVSSDDetector, tmp_path: Path) -> None:
    """What the demo feeds the detector is the decoded mp4, not the rendered frame."""
    (video,) = make_samples(tmp_path, only=["park_and_leave"], end_s=18.1)
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 180)
    ok, frame = cap.read()
    cap.release()
    assert ok
    dets = ssd.detect(np.asarray(frame, np.uint8))
    found = {ObjectClass(int(c)) for c in dets.class_id}
    assert ObjectClass.PERSON in found
    assert ObjectClass.BUS in found or ObjectClass.VAN_TRUCK in found
