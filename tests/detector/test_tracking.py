"""Tracker adapter: our Detections through ultralytics' BYTETracker and back, ids stable."""

from __future__ import annotations

import numpy as np

from detector.tracking import create_tracker
from detector.types import Detections, ObjectClass


def test_a_moving_object_keeps_its_id_and_another_gets_a_new_one() -> None:
    tracker = create_tracker()
    ids = []
    for step in range(8):
        dets = Detections(
            xyxy=[[100 + 6 * step, 100, 160 + 6 * step, 260], [500, 300, 700, 420]],
            confidence=[0.9, 0.8],
            class_id=[int(ObjectClass.PERSON), int(ObjectClass.CAR)],
        )
        tracked = tracker.update(dets)
        assert tracked.tracker_id is not None
        ids.append(dict(zip(tracked.class_id.tolist(), tracked.tracker_id.tolist(), strict=True)))
    person_ids = {i[int(ObjectClass.PERSON)] for i in ids}
    car_ids = {i[int(ObjectClass.CAR)] for i in ids}
    assert len(person_ids) == 1 and len(car_ids) == 1
    assert person_ids != car_ids


def test_tracked_boxes_follow_the_detections() -> None:
    tracker = create_tracker()
    for step in range(5):
        box = [200 + 4 * step, 50, 260 + 4 * step, 200]
        tracked = tracker.update(Detections(xyxy=[box], confidence=[0.9], class_id=[0]))
    assert len(tracked) == 1
    assert np.allclose(tracked.xyxy[0], box, atol=3.0)
    assert tracked.confidence[0] > 0.5


def test_no_detections_give_an_empty_tracked_set() -> None:
    tracker = create_tracker()
    tracked = tracker.update(Detections.empty())
    assert len(tracked) == 0
    assert tracked.tracker_id is not None and tracked.tracker_id.shape == (0,)


def test_a_lost_object_is_dropped_after_the_buffer() -> None:
    tracker = create_tracker()
    for _ in range(3):
        tracker.update(Detections(xyxy=[[10, 10, 60, 120]], confidence=[0.9], class_id=[0]))
    for _ in range(tracker.settings.track_buffer + 2):
        tracked = tracker.update(Detections.empty())
    assert len(tracked) == 0
