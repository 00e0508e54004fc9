"""One detector shared by every camera of an edge box: a small pool of model instances.

A model instance is the largest thing a camera pipeline holds (SSD-MobileNet-v2 under OpenCV DNN
is ~205 MB resident once its layers are initialised), and one instance cannot run two frames at
once (``cv2.dnn.Net`` is not thread-safe).  Eight cameras with a model each spend 1.6 GB on eight
copies of the same weights; the cores, not the copies, bound how many forward passes run at a time.
So the box loads as many instances as it has cores (or cameras, if fewer) and each camera borrows
a free one for each detector run — the way Frigate shares its detector processes between cameras.
"""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from detector.backends.base import Box, ObjectDetector
from detector.backends.registry import ModelInfo
from detector.types import Detections

logger = logging.getLogger(__name__)


def pool_size(cameras: int, cores: int | None = None) -> int:
    """Model instances worth loading for ``cameras`` cameras: one per core, never more than cameras."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, min(cameras, cores))


class DetectorPool(ObjectDetector):
    """``size`` instances from ``factory``, lent one per call; a drop-in :class:`ObjectDetector`.

    Parameters
    ----------
    factory:
        Builds one model instance (e.g. ``lambda: create_detector(site.detector)``); called
        ``size`` times now.
    size:
        Instances to hold (>= 1).  A call finding all of them busy waits for the first one free.

    Raises whatever ``factory`` raises (e.g. :class:`~detector.backends.registry.ModelNotFoundError`).
    """

    def __init__(self, factory: Callable[[], ObjectDetector], size: int) -> None:
        if size < 1:
            raise ValueError(f"a detector pool needs at least one instance, got {size}")
        self._instances = [factory() for _ in range(size)]
        first = self._instances[0]
        self.input_size = first.input_size
        self._free: queue.SimpleQueue[ObjectDetector] = queue.SimpleQueue()
        for instance in self._instances:
            self._free.put(instance)
        logger.info("detector pool: %d instance(s) of %s", size, first.model.name)

    @property
    def size(self) -> int:
        return len(self._instances)

    @property
    def model(self) -> ModelInfo:
        return self._instances[0].model

    def detect_crops(self, image: npt.NDArray[np.uint8], crops: Sequence[Box]) -> Detections:
        instance = self._free.get()
        try:
            return instance.detect_crops(image, crops)
        finally:
            self._free.put(instance)
