"""Object-detector plugins and the factory that builds one from the site config.

Add a plugin by writing ``detector/backends/<name>.py`` with a config class whose ``type`` is a
``Literal`` and an :class:`~detector.backends.base.ObjectDetector`, then adding both to
:data:`PLUGINS` and to :data:`DetectorConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import Field

from detector.backends.base import ObjectDetector
from detector.backends.opencv_ssd import OpenCVSSDConfig, OpenCVSSDDetector
from detector.backends.pool import DetectorPool, pool_size
from detector.backends.ultralytics_yolo import YoloConfig, YoloDetector

DetectorConfig = Annotated[OpenCVSSDConfig | YoloConfig, Field(discriminator="type")]

PLUGINS: dict[str, Callable[..., ObjectDetector]] = {
    "opencv_ssd": OpenCVSSDDetector,
    "yolo": YoloDetector,
}


def create_detector(config: OpenCVSSDConfig | YoloConfig | None = None) -> ObjectDetector:
    """Build the detector a site file asks for (the bundled SSD by default)."""
    config = config or OpenCVSSDConfig()
    return PLUGINS[config.type](config)


def create_shared_detector(config: OpenCVSSDConfig | YoloConfig | None, cameras: int) -> ObjectDetector:
    """One detector for ``cameras`` camera pipelines in this process: a single instance for one
    camera, else a :class:`~detector.backends.pool.DetectorPool` with an instance per core (at most
    one per camera), which the pipelines borrow from run by run."""
    size = pool_size(cameras)
    if cameras <= 1:
        return create_detector(config)
    return DetectorPool(lambda: create_detector(config), size)


__all__ = [
    "PLUGINS",
    "DetectorConfig",
    "DetectorPool",
    "ObjectDetector",
    "OpenCVSSDConfig",
    "YoloConfig",
    "create_detector",
    "create_shared_detector",
]
