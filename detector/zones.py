"""Hotspot zones and fixtures as polygons in normalised coordinates, rasterised per resolution."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class PolygonZone:
    """A named polygon (normalised 0–1 coordinates) that answers 'is this point / region inside?'."""

    name: str
    polygon: Sequence[tuple[float, float]]
    _masks: dict[tuple[int, int], npt.NDArray[np.uint8]] = field(default_factory=dict, repr=False)

    def mask(self, width: int, height: int) -> npt.NDArray[np.uint8]:
        """A 0/255 mask of the zone at this resolution (cached)."""
        key = (width, height)
        cached = self._masks.get(key)
        if cached is None:
            pts = np.array([(x * width, y * height) for x, y in self.polygon], dtype=np.float32)
            cached = np.zeros((height, width), np.uint8)
            cv2.fillPoly(cached, [np.round(pts).astype(np.int32)], 255)
            self._masks[key] = cached
        return cached

    def contains(self, x: float, y: float, width: int, height: int) -> bool:
        """Whether pixel point (x, y) of a width×height image is inside the zone."""
        xi = min(max(int(x), 0), width - 1)
        yi = min(max(int(y), 0), height - 1)
        return bool(self.mask(width, height)[yi, xi])

    def overlap(self, region: npt.NDArray[np.uint8]) -> float:
        """Fraction of the non-zero pixels of ``region`` (a mask) that lie inside the zone."""
        total = int(np.count_nonzero(region))
        if total == 0:
            return 0.0
        zone = self.mask(region.shape[1], region.shape[0])
        return int(np.count_nonzero(region & zone)) / total


def first_zone_containing(
    zones: Sequence[PolygonZone], x: float, y: float, width: int, height: int
) -> str | None:
    """The name of the first zone holding pixel point (x, y) of a width×height image, or None."""
    for zone in zones:
        if zone.contains(x, y, width, height):
            return zone.name
    return None
