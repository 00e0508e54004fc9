"""Detector plugins: real models in, validated Detections out, with the weights' real SHA-256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.backends import PLUGINS, YoloConfig, create_detector
from detector.backends.base import non_max_suppression
from detector.backends.opencv_ssd import OpenCVSSDDetector
from detector.backends.registry import ModelNotFoundError, ssd_paths
from detector.backends.ultralytics_yolo import YoloDetector, class_map
from detector.types import Detections, ObjectClass


def _asset(name: str) -> np.ndarray:
    import ultralytics

    path = Path(ultralytics.__file__).parent / "assets" / name
    image = cv2.imread(str(path))
    assert image is not None, path
    return image


def test_ssd_finds_the_bus_and_people_in_full_frame_coordinates(ssd: OpenCVSSDDetector) -> None:
    image = _asset("bus.jpg")
    dets = ssd.detect(image)
    assert isinstance(dets, Detections)
    classes = set(dets.class_id.tolist())
    assert int(ObjectClass.PERSON) in classes
    assert classes & {int(ObjectClass.BUS), int(ObjectClass.VAN_TRUCK)}
    h, w = image.shape[:2]
    assert (dets.xyxy[:, 0] >= 0).all() and (dets.xyxy[:, 2] <= w).all() and (dets.xyxy[:, 3] <= h).all()
    assert (dets.confidence >= ssd.config.min_confidence).all()


def test_ssd_crop_boxes_map_back_onto_the_frame(ssd: OpenCVSSDDetector) -> None:
    image = _asset("zidane.jpg")  # 1280x720, two people
    full = ssd.detect(image)
    people = full[full.class_id == int(ObjectClass.PERSON)]
    assert len(people) >= 1
    best = people.xyxy[int(np.argmax(people.confidence))]
    cx = int((best[0] + best[2]) / 2)
    side = 600
    x1 = max(0, min(image.shape[1] - side, cx - side // 2))
    cropped = ssd.detect(image, [(x1, 120, x1 + side, 720)])
    ious = [_iou(best, b) for b in cropped.xyxy[cropped.class_id == int(ObjectClass.PERSON)]]
    assert ious and max(ious) > 0.5


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def test_registry_records_the_sha256_of_the_weights_loaded(ssd: OpenCVSSDDetector) -> None:
    pb, _ = ssd_paths()
    assert ssd.model.sha256 == hashlib.sha256(pb.read_bytes()).hexdigest()
    assert ssd.model.name == "ssd_mobilenet_v2_coco_2018_03_29"
    assert "Apache-2.0" in ssd.model.licence
    assert set(ssd.model.classes) == set(ObjectClass)


def test_overlapping_crops_do_not_double_count() -> None:
    dets = Detections(
        xyxy=[[10, 10, 50, 90], [12, 11, 51, 92], [200, 10, 240, 90]],
        confidence=[0.9, 0.8, 0.7],
        class_id=[0, 0, 0],
    )
    kept = non_max_suppression(dets, 0.5)
    assert len(kept) == 2
    assert kept.confidence.tolist() == pytest.approx([0.9, 0.7])


def test_plugin_table_and_factory() -> None:
    assert set(PLUGINS) == {"opencv_ssd", "yolo"}
    with pytest.raises(ModelNotFoundError, match="YOLO weights not found"):
        create_detector(YoloConfig(type="yolo", model_path=Path("/nonexistent/their.pt")))


def test_yolo_label_mapping() -> None:
    assert class_map({0: "person", 1: "bicycle", 2: "car", 7: "truck", 9: "Van"}) == {
        0: ObjectClass.PERSON,
        2: ObjectClass.CAR,
        7: ObjectClass.VAN_TRUCK,
        9: ObjectClass.VAN_TRUCK,
    }
    numeric = class_map({i: str(i) for i in range(80)})
    assert (
        numeric[0] is ObjectClass.PERSON and numeric[2] is ObjectClass.CAR and numeric[5] is ObjectClass.BUS
    )


def test_yolo_backend_loads_user_weights_and_runs(tmp_path: Path) -> None:
    """A tiny untrained YOLO built from yolov8n.yaml (no download), saved to .pt and run for real."""
    from ultralytics import YOLO

    weights = tmp_path / "their.pt"
    YOLO("yolov8n.yaml").save(str(weights))
    assert weights.stat().st_size > 100_000
    detector = YoloDetector(YoloConfig(type="yolo", model_path=weights, imgsz=320, min_confidence=0.01))
    assert detector.model.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert detector.model.name == "yolo:their.pt"
    image = _asset("bus.jpg")
    dets = detector.detect(image)
    assert isinstance(dets, Detections)  # untrained: any count, but valid arrays in frame coordinates
    assert dets.xyxy.shape == (len(dets), 4)
    assert set(dets.class_id.tolist()) <= {int(c) for c in ObjectClass}
    crops = detector.detect(image, [(0, 0, 400, 400), (400, 400, 810, 1080)])
    assert isinstance(crops, Detections)
