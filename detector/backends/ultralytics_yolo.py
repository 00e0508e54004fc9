"""Operator-supplied ultralytics YOLO weights (.pt or .onnx), e.g. a model fine-tuned on the site."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from detector.backends.base import Box, ObjectDetector
from detector.backends.registry import ModelInfo, yolo_model_info
from detector.types import Detections, ObjectClass

logger = logging.getLogger(__name__)

# Label names (as a model's ``names`` gives them) -> our classes.
NAME_TO_CLASS: dict[str, ObjectClass] = {
    "person": ObjectClass.PERSON,
    "pedestrian": ObjectClass.PERSON,
    "car": ObjectClass.CAR,
    "van": ObjectClass.VAN_TRUCK,
    "truck": ObjectClass.VAN_TRUCK,
    "lorry": ObjectClass.VAN_TRUCK,
    "pickup": ObjectClass.VAN_TRUCK,
    "bus": ObjectClass.BUS,
    "motorcycle": ObjectClass.MOTORCYCLE,
    "motorbike": ObjectClass.MOTORCYCLE,
}
# 0-based COCO-80 order, used when a model's labels are bare numbers (an untrained COCO-shaped model).
COCO80_TO_CLASS: dict[int, ObjectClass] = {
    0: ObjectClass.PERSON,
    2: ObjectClass.CAR,
    3: ObjectClass.MOTORCYCLE,
    5: ObjectClass.BUS,
    7: ObjectClass.VAN_TRUCK,
}


class YoloConfig(BaseModel):
    """Your own ultralytics YOLO weights."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["yolo"] = Field(
        title="Detector type", description="yolo: operator-supplied ultralytics weights"
    )
    model_path: Path = Field(
        title="Model path",
        description="A .pt or .onnx file, relative to the site file (e.g. models/their.pt)",
    )
    imgsz: int = Field(
        default=640, ge=32, le=2048, title="Input size", description="Model input side in pixels"
    )
    min_confidence: float = Field(
        default=0.3, gt=0, lt=1, title="Model confidence", description="Raw scores below this are discarded"
    )


def class_map(names: dict[int, str]) -> dict[int, ObjectClass]:
    """Map a model's label ids onto our classes, by name, or by COCO-80 order for numeric labels."""
    mapping = {i: NAME_TO_CLASS[n.lower()] for i, n in names.items() if n.lower() in NAME_TO_CLASS}
    if not mapping and len(names) == 80 and all(str(n).isdigit() for n in names.values()):
        mapping = dict(COCO80_TO_CLASS)
    return mapping


class YoloDetector(ObjectDetector):
    def __init__(self, config: YoloConfig) -> None:
        from ultralytics import YOLO  # imported here: only sites that choose YOLO pay for it

        self.config = config
        self.input_size = config.imgsz
        path = Path(config.model_path)
        classes_probe = yolo_model_info(path, ())  # raises a clear error when the file is missing
        self._yolo: Any = YOLO(str(path), task="detect")
        names = dict(self._yolo.names) if getattr(self._yolo, "names", None) else {}
        self._map = class_map({int(k): str(v) for k, v in names.items()})
        if not self._map:
            logger.warning(
                "%s: none of its labels is a person or vehicle: %s", path, sorted(names.values())[:10]
            )
        self._lut = np.full(max(names, default=0) + 1, -1, np.int32)
        for i, cls in self._map.items():
            self._lut[i] = int(cls)
        self._model = yolo_model_info(path, tuple(sorted(set(self._map.values()))))
        logger.info("loaded %s (sha256 %s)", self._model.name, classes_probe.sha256[:12])

    @property
    def model(self) -> ModelInfo:
        return self._model

    def detect_crops(self, image: npt.NDArray[np.uint8], crops: Sequence[Box]) -> Detections:
        patches = [np.ascontiguousarray(image[y1:y2, x1:x2]) for x1, y1, x2, y2 in crops]
        results = self._yolo.predict(
            patches, imgsz=self.config.imgsz, conf=self.config.min_confidence, verbose=False, device="cpu"
        )
        parts: list[Detections] = []
        for (x1, y1, _x2, _y2), result in zip(crops, results, strict=True):
            boxes = result.boxes
            if boxes is None or len(boxes) == 0:
                continue
            xyxy = np.asarray(boxes.xyxy.cpu().numpy(), np.float32) + np.array([x1, y1, x1, y1], np.float32)
            conf = np.asarray(boxes.conf.cpu().numpy(), np.float32)
            ids = np.asarray(boxes.cls.cpu().numpy(), np.int64).clip(0, len(self._lut) - 1)
            cls = self._lut[ids]
            keep = cls >= 0
            parts.append(Detections(xyxy=xyxy[keep], confidence=conf[keep], class_id=cls[keep]))
        return Detections.merge(parts)
