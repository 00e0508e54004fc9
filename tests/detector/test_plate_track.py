"""A vehicle visit's plate is read on several views of its track and voted: the event carries the
voted plate and a crop of the view that shows it, and the policy holds only a few small crops.

The views are the plate test set's (``tipwatch.dev.plateset``, seed 7: not the benchmark's seed), a
real photograph with a rendered UK plate, five frames of one track."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from detector_testutil import START

from detector.backends.registry import ssd_model_info
from detector.config import CameraConfig, PerformanceConfig, ThresholdsConfig
from detector.events import EventFactory
from detector.evidence import EvidenceWriter
from detector.evidence_policy import EvidencePolicy
from detector.plates import PlateReader
from detector.types import (
    ClockSource,
    Detections,
    Event,
    FileKind,
    Frame,
    ObjectClass,
    StillRole,
    VehicleVisit,
)
from tipwatch.dev.plateset import PHOTOS, draw_vehicle, render_views, typeface

SEED = 7  # a set apart from the benchmark's (13)


@pytest.fixture(scope="module", autouse=True)
def _photos_installed() -> None:
    for name, photo in PHOTOS.items():
        if not photo.path().is_file():
            pytest.skip(f"{name} photo not installed ({photo.package})")
    if not typeface.FONT_PATH.is_file():
        pytest.skip(f"plate typeface not installed ({typeface.FONT_PACKAGE})")


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


def _visit_event(
    tmp_path: Path, reader: PlateReader, vehicle_index: int, views: int, plate_views: int
) -> tuple[Event, list[int]]:
    """A visit of plate-set vehicle ``vehicle_index`` tracked over ``views`` frames, the later
    frames with the more confident boxes; returns the policy, the final event and the sizes (bytes)
    of the plate views the policy held when the visit ended."""
    vehicle = draw_vehicle(SEED, vehicle_index)
    rendered = render_views(vehicle, views)
    policy = EvidencePolicy(
        EvidenceWriter(tmp_path / "staging", min_free_bytes=0),
        PerformanceConfig(plate_views=plate_views),
        ThresholdsConfig(),
        plates=reader,
    )
    box0 = rendered[0].vehicle_box
    visit = VehicleVisit(
        visit_id=1,
        track_id=5,
        object_class=ObjectClass.CAR,
        zone="frame",
        started_s=0.0,
        started_at=START,
        box=box0,
        last_seen_s=0.0,
        last_seen_at=START,
    )
    for i, view in enumerate(rendered):
        frame = Frame(view.image, "cam-1", i, START + timedelta(seconds=i), ClockSource.STREAM, float(i))
        if i == 0:
            policy.visit_started(visit, frame)
        tracked = Detections(
            xyxy=np.array([view.vehicle_box], np.float32),
            confidence=np.array([0.5 + 0.05 * i], np.float32),
            class_id=np.array([int(ObjectClass.CAR)], np.int32),
            tracker_id=np.array([5]),
        )
        policy.observe_visits(frame, tracked, [visit])
    held = [v.frame.image.nbytes for v in policy._views[1].plate_views]
    visit.ended_s, visit.ended_at = float(views), START + timedelta(seconds=views)
    event = EventFactory("lay-by", CameraConfig(id="cam-1"), ssd_model_info()).visit(
        visit, ClockSource.STREAM
    )
    policy.visit_ended(event, visit)
    return event, held


def test_the_event_carries_the_plate_voted_over_the_views_of_its_track(
    tmp_path: Path, reader: PlateReader
) -> None:
    # seed 7 vehicle 9: a square two-line plate "ZJZ3", 45 px high, soft blur, on the civic
    vehicle = draw_vehicle(SEED, 9)
    event, held = _visit_event(tmp_path, reader, 9, views=7, plate_views=5)
    plate = event.plate
    assert plate is not None
    assert (plate.text, plate.valid_uk_format) == (vehicle.mark.text, True)
    assert event.details["plate_views"] == 5
    # the views kept are the plate reader's region of each frame, not whole frames
    frame_bytes = render_views(vehicle, 1)[0].image.nbytes
    assert len(held) == 5 and max(held) < frame_bytes
    crops = [f for f in event.files if f.role == StillRole.PLATE]
    assert {f.kind for f in crops} == {FileKind.ORIGINAL, FileKind.ANNOTATED}


def test_one_plate_view_reads_the_best_view_alone(tmp_path: Path, reader: PlateReader) -> None:
    event, held = _visit_event(tmp_path, reader, 0, views=3, plate_views=1)
    assert len(held) == 1
    plate = event.plate
    assert plate is not None
    assert (plate.text, plate.valid_uk_format) == (draw_vehicle(SEED, 0).mark.text, True)
    assert event.details["plate_views"] == 1
