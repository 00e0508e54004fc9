"""A dumping event's stills tell the story: *before* (the empty scene from before the first person or
vehicle came into view), *act*, *after* and a *deposit* crop that shows the deposit in its
surroundings.  On the real frames of the sample clip ``dumping_layby`` (a minibus arrives at once,
the driver puts a bin bag on the verge at 14.4 s)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from detector_testutil import START
from edge_fixtures import bus_image

from detector.backends.registry import ssd_model_info
from detector.config import CameraConfig, PerformanceConfig, ThresholdsConfig
from detector.events import EventFactory
from detector.evidence import EvidenceWriter
from detector.evidence_policy import EvidencePolicy
from detector.geometry import contains, context_box
from detector.snapshots import SnapshotRing
from detector.sources import FileSource
from detector.types import ClockSource, Deposit, DumpingIncident, Event, EvidenceFile, FileKind, Frame

BAG = (328, 254, 376, 298)  # where the bin bag lies on the verge from 14.4 s (960×540 pixels)
STRIP = (321, 261, 342, 291)  # the 21×30 px box the detector drew on part of it


def _play(policy: EvidencePolicy, clip: Path, start_s: float, end_s: float) -> Frame:
    """Feed the clip's frames from ``start_s`` to ``end_s`` to the policy (as a source that starts at
    ``start_s``); the last one comes back."""
    source = FileSource(clip, "cam-1", start_time=START)
    last = None
    try:
        for frame in source.frames():
            if frame.video_time_s > end_s + 1e-6:
                break
            if frame.video_time_s >= start_s - 1e-6:
                policy.observe_frame(frame)
                last = frame
    finally:
        source.close()
    assert last is not None
    return last


def _confirm(
    tmp_path: Path, clip: Path, *, footage_from_s: float, arrival_s: float, deposit: tuple[int, int, int, int]
) -> tuple[Event, dict[tuple[str, FileKind], EvidenceFile]]:
    """A dumping event on the clip: footage from ``footage_from_s`` to 20 s, the first person or
    vehicle in view at ``arrival_s``, the bag put down at 14.4 s, confirmed at 20 s."""
    policy = EvidencePolicy(
        EvidenceWriter(tmp_path / "staging", min_free_bytes=0), PerformanceConfig(), ThresholdsConfig()
    )
    now = _play(policy, clip, footage_from_s, 20.0)
    put_down = START + timedelta(seconds=14.4)
    incident = DumpingIncident(
        incident_id=1,
        zone="frame",
        started_s=arrival_s,
        started_at=START + timedelta(seconds=arrival_s),
        confirmed_s=now.video_time_s,
        confirmed_at=now.captured_at,
        box=deposit,
        deposits=[Deposit(3, 14.4, put_down, deposit, "frame", 16.0, 14.4)],
        linked_visits=set(),
        people={2},
        vehicles=set(),
        deposit_s=14.4,
        act_still_s=14.9,
        departed_s=16.0,
    )
    event = EventFactory("lay-by", CameraConfig(id="cam-1"), ssd_model_info()).dumping(
        incident, [], ClockSource.STREAM, 30.0
    )
    policy.dumping_confirmed(event, incident, now)
    assert "evidence_incomplete" not in event.details
    return event, {(f.role, f.kind): f for f in event.files}


def _image(f: EvidenceFile) -> np.ndarray:
    img = cv2.imread(str(f.path))
    assert img is not None, f"{f.path} does not decode"
    return img


def _region(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    return img[box[1] : box[3], box[0] : box[2]].astype(np.int16)


# -- the before still ----------------------------------------------------------------------------


def test_an_arrival_seconds_after_the_footage_starts_gets_the_empty_scene_before_it(
    samples_dir: Path, tmp_path: Path
) -> None:
    """The minibus is in view 4.4 s after the footage starts: no snapshot is 5 s before that, so the
    before still is the earliest frame, the empty lay-by (before: the event had no before still)."""
    event, files = _confirm(
        tmp_path, samples_dir / "dumping_layby.mp4", footage_from_s=0.0, arrival_s=4.4, deposit=BAG
    )
    before = files[("before", FileKind.ORIGINAL)]
    assert ("before", FileKind.ANNOTATED) in files
    assert before.captured_at == START < event.started_at  # the first frame of the footage
    assert "the earliest kept" in str(event.details["before_still"])
    # The spot is empty before and the bag lies there after.
    after = files[("after", FileKind.ORIGINAL)]
    assert np.abs(_region(_image(before), BAG) - _region(_image(after), BAG)).mean() > 30


def test_a_later_arrival_gets_the_snapshot_at_least_the_offset_before_it(
    samples_dir: Path, tmp_path: Path
) -> None:
    event, files = _confirm(
        tmp_path, samples_dir / "dumping_layby.mp4", footage_from_s=0.0, arrival_s=12.0, deposit=BAG
    )
    before = files[("before", FileKind.ORIGINAL)]
    assert before.captured_at == START + timedelta(seconds=5.0)  # snapshots every 5 s: 0, 5, 10
    assert event.details["before_still"] == "snapshot 7.0 s before the arrival"


def test_footage_that_starts_with_the_person_in_view_says_there_is_no_before_still(
    samples_dir: Path, tmp_path: Path
) -> None:
    """The recording begins at 14 s, the driver already at the verge: nothing shows the scene
    before him, and the event says so instead of silently lacking the still."""
    event, files = _confirm(
        tmp_path, samples_dir / "dumping_layby.mp4", footage_from_s=14.0, arrival_s=14.0, deposit=BAG
    )
    assert not any(role == "before" for role, _kind in files)
    assert event.details["before_still"] == (
        "none: the source started after the arrival (in view on its first frame)"
    )
    for role in ("act", "after", "deposit"):
        assert (role, FileKind.ORIGINAL) in files


def _frames(
    sizes: Iterator[tuple[int, int]], *, t0: float = 0.0, fps: float = 10.0, gap_at: int | None = None
) -> Iterator[Frame]:
    """Frames of the bus photo, one per size, at ``fps`` from video time ``t0``; from frame ``gap_at``
    on, capture time is 60 s later than video time (a stream that reconnected: its video time
    continues)."""
    photo = bus_image()
    scaled: dict[tuple[int, int], np.ndarray] = {}
    for i, size in enumerate(sizes):
        if size not in scaled:
            scaled[size] = np.asarray(cv2.resize(photo, size, interpolation=cv2.INTER_AREA), np.uint8)
        t = t0 + i / fps
        late = 60.0 if gap_at is not None and i >= gap_at else 0.0
        yield Frame(scaled[size], "cam-1", i, START + timedelta(seconds=t + late), ClockSource.RECEIVE, t)


def test_a_reconnect_or_a_new_picture_size_takes_a_snapshot_at_once() -> None:
    ring = SnapshotRing(every_s=5.0)
    sizes = [(160, 120)] * 20 + [(80, 60)] * 10  # a reconnect at 1.0 s, a new size at 2.0 s
    for frame in _frames(iter(sizes), gap_at=10):
        ring.observe(frame)
    taken = []
    for t in (0.05, 1.05, 2.05):  # just after each: the latest snapshot before it
        still = ring.before_arrival(t, offset_s=0.0)
        assert still.frame is not None
        taken.append((still.frame.video_time_s, still.frame.width))
    assert taken == [(0.0, 160), (1.0, 160), (2.0, 80)]


def test_the_snapshots_stay_bounded_in_memory() -> None:
    ring = SnapshotRing(every_s=5.0, keep_s=300.0)
    steady = _frames(itertools.repeat((160, 120), 20 * 60 * 10))  # 20 minutes at 10 fps
    for frame in steady:
        ring.observe(frame)
    assert len(ring) == 61  # 300 s at one every 5 s
    one = ring.nbytes / len(ring)
    # A stream that changes size on every frame forces a snapshot each time: the oldest go.
    flapping = _frames(itertools.islice(itertools.cycle([(160, 120), (120, 90)]), 1000), t0=1200.0)
    for frame in flapping:
        ring.observe(frame)
    assert len(ring) == ring.max_count == 122
    assert ring.nbytes <= ring.max_count * one * 1.5


# -- the deposit crop ----------------------------------------------------------------------------


def test_a_small_deposit_crop_shows_it_in_its_surroundings(samples_dir: Path, tmp_path: Path) -> None:
    """The 21×30 px box on the bag: its crop was a 29×40 px strip; now it is at least 160 px a side
    with the box in the middle."""
    _event, files = _confirm(
        tmp_path, samples_dir / "dumping_layby.mp4", footage_from_s=0.0, arrival_s=4.4, deposit=STRIP
    )
    crop = _image(files[("deposit", FileKind.ORIGINAL)])
    h, w = crop.shape[:2]
    t = ThresholdsConfig()
    assert min(w, h) >= t.deposit_crop_min_px and max(w, h) / min(w, h) <= t.deposit_crop_max_aspect
    after = _image(files[("after", FileKind.ORIGINAL)])
    region = context_box(
        STRIP,
        (960, 540),
        margin=t.deposit_crop_margin,
        min_side=t.deposit_crop_min_px,
        max_aspect=t.deposit_crop_max_aspect,
    )
    assert (w, h) == (region[2] - region[0], region[3] - region[1])
    assert np.abs(crop.astype(np.int16) - _region(after, region)).mean() < 3  # those pixels, untouched


@pytest.mark.parametrize(
    ("box", "expect"),
    [
        ((100, 100, 120, 130), "small: grown to the minimum, box in the middle"),
        ((200, 300, 600, 330), "flat: taller, long side at most twice the short"),
        ((0, 0, 12, 12), "in a corner: moved inside the frame, still the minimum"),
        ((900, 200, 960, 520), "tall at the edge: clamped to the frame, not a strip"),
        ((0, 0, 960, 540), "the whole frame: the whole frame"),
    ],
)
def test_deposit_context_box(box: tuple[int, int, int, int], expect: str) -> None:
    region = context_box(box, (960, 540), margin=0.75, min_side=160, max_aspect=2.0)
    x1, y1, x2, y2 = region
    w, h = x2 - x1, y2 - y1
    assert 0 <= x1 < x2 <= 960 and 0 <= y1 < y2 <= 540, expect
    assert contains(region, box), expect
    assert min(w, h) >= 160 and max(w, h) / min(w, h) <= 2.0, expect
    bw, bh = box[2] - box[0], box[3] - box[1]
    # Context on each side: 75 % of the box's size, unless the frame edge is nearer.
    assert box[0] - x1 >= min(0.75 * bw, box[0]) - 1 and x2 - box[2] >= min(0.75 * bw, 960 - box[2]) - 1
    assert box[1] - y1 >= min(0.75 * bh, box[1]) - 1 and y2 - box[3] >= min(0.75 * bh, 540 - box[3]) - 1
