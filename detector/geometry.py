"""Boxes in pixels: the one copy of the box arithmetic the stages share.

A box is ``(x1, y1, x2, y2)`` with ``x1 <= x2`` and ``y1 <= y2``, in the pixels of whatever image it
belongs to (full frame, a working copy, a crop).  Every helper takes any sequence of four numbers
(Python numbers, NumPy scalars or a row of an ``(N, 4)`` array) and does its arithmetic in the type
it is given, so a float32 box from a detector gives the same result here as it did inline.

Example::

    >>> iou((0, 0, 10, 10), (5, 0, 15, 10))
    0.3333333333333333
    >>> expand((10.0, 10.0, 20.0, 30.0), 0.5, 1.0)
    (4.0, -1.0, 26.0, 41.0)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
IntBox = tuple[int, int, int, int]


def center(box: Sequence[Any]) -> tuple[Any, Any]:
    """The centre ``(cx, cy)`` of a box, in the box's own number type."""
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def anchor_point(box: Sequence[float]) -> tuple[float, float]:
    """Where an object touches the ground: the bottom centre of its box, as floats."""
    x1, _y1, x2, y2 = box
    return (float(x1 + x2) / 2.0, float(y2))


def expand(box: Sequence[float], frac: float, px: float) -> Box:
    """The box grown on every side by ``frac`` of its width/height plus ``px`` pixels."""
    w, h = box[2] - box[0], box[3] - box[1]
    return (box[0] - w * frac - px, box[1] - h * frac - px, box[2] + w * frac + px, box[3] + h * frac + px)


def overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two boxes share any area (touching edges do not count)."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def contains(outer: Sequence[float], inner: Sequence[float]) -> bool:
    """Whether ``inner`` lies wholly inside ``outer`` (edges may touch)."""
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def union(a: IntBox, b: IntBox) -> IntBox:
    """The smallest box holding both."""
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _intersection(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union, 0–1 (0 for two empty boxes)."""
    inter = _intersection(a, b)
    union_area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union_area if union_area > 0 else 0.0


def containment(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over the smaller box's area, 0–1: 1 when one box lies inside the other."""
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return _intersection(a, b) / smaller if smaller > 0 else 0.0


def context_box(
    box: Sequence[float],
    frame_size: tuple[int, int],
    *,
    margin: float,
    min_side: float,
    max_aspect: float,
) -> IntBox:
    """The region to crop to show ``box`` in its surroundings, in the frame's pixels.

    ``box`` grown by ``margin`` × its width (height) on the left and right (top and bottom); its
    short side lengthened until the long side is at most ``max_aspect`` times it; each side at
    least ``min_side`` pixels; then moved, not shrunk, to lie inside the ``(width, height)`` frame
    (shrunk only where it is bigger than the frame).  It always holds the part of ``box`` inside
    the frame.  Example::

        >>> context_box((100, 100, 120, 130), (960, 540), margin=0.75, min_side=160, max_aspect=2.0)
        (30, 35, 190, 195)
    """
    width, height = frame_size
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    cw, ch = w * (1.0 + 2.0 * margin), h * (1.0 + 2.0 * margin)
    cw, ch = max(cw, ch / max_aspect), max(ch, cw / max_aspect)
    cw, ch = min(max(cw, min_side), width), min(max(ch, min_side), height)
    cx, cy = center(box)

    def span(mid: float, length: float, limit: int) -> tuple[int, int]:
        start = min(max(0.0, float(mid) - length / 2.0), limit - length)
        return max(0, math.floor(start)), min(limit, math.ceil(start + length))

    x1, x2 = span(cx, cw, width)
    y1, y2 = span(cy, ch, height)
    return (x1, y1, x2, y2)
