"""The seam every object-detector plugin implements.

A plugin declares a pydantic config type whose ``type`` is a ``Literal`` (the key in the site file)
and an :class:`ObjectDetector` subclass that converts its model's output into
:class:`~detector.types.Detections` at its own edge.  Model libraries are imported only inside
``detector/backends``.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from detector.backends.registry import ModelInfo
from detector.types import Detections

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]


class ObjectDetector(abc.ABC):
    """Finds people and vehicles in a frame, optionally only inside some crops."""

    #: side of the square model input, in pixels; crops are planned at this size
    input_size: int = 300

    @property
    @abc.abstractmethod
    def model(self) -> ModelInfo:
        """What was loaded: name, licence, classes and the SHA-256 of the weights file."""

    @abc.abstractmethod
    def detect_crops(self, image: npt.NDArray[np.uint8], crops: Sequence[Box]) -> Detections:
        """Detect inside each crop and return full-frame pixel boxes (duplicates not yet merged)."""

    def detect(
        self, image: npt.NDArray[np.uint8], crops: Sequence[Box] | None = None, nms_iou: float = 0.5
    ) -> Detections:
        """Detect in ``crops`` (the whole frame when None) and merge duplicates across overlapping crops."""
        h, w = image.shape[:2]
        crops = list(crops) if crops else [(0, 0, w, h)]
        dets = self.detect_crops(image, crops)
        if len(crops) > 1 and len(dets) > 1:
            dets = non_max_suppression(dets, nms_iou)
        return dets


def non_max_suppression(dets: Detections, iou: float) -> Detections:
    """Class-aware NMS (OpenCV's), keeping the highest-confidence box of each overlapping group."""
    keep: list[int] = []
    for cls in np.unique(dets.class_id):
        idx = np.flatnonzero(dets.class_id == cls)
        xywh = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in dets.xyxy[idx]]
        chosen = cv2.dnn.NMSBoxes(xywh, dets.confidence[idx].tolist(), 0.0, iou)
        keep.extend(int(idx[int(i)]) for i in np.asarray(chosen).reshape(-1))
    return dets[np.array(sorted(keep), dtype=np.int64)]
