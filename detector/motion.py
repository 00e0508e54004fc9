"""Motion gate: a cheap per-frame motion mask on a downscaled frame, and the detector crops it implies.

The object detector is the expensive stage.  The gate decides, per frame, *where* (crops around
what changed, each sized to the model input so small distant vehicles keep their pixels) and the
pipeline decides *when* (a capped rate while things move, a slow keep-alive otherwise).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from detector.geometry import contains, overlaps, union

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]


@dataclass(slots=True)
class MotionResult:
    """What moved in one frame."""

    mask: npt.NDArray[np.uint8]  # 0/255 at the gate's working resolution
    regions: list[Box]  # boxes around moving blobs, full-frame pixels
    fraction: float  # share of the frame that moved
    lighting_change: bool  # so much changed at once that it is light, not objects


class MotionGate:
    """Frame differencing against a running average on a small grey copy of the frame."""

    def __init__(
        self,
        width: int = 320,
        threshold: int = 18,
        time_constant_s: float = 1.2,
        min_area_frac: float = 0.0004,
        lighting_frac: float = 0.5,
    ) -> None:
        self.width = width
        self.threshold = threshold
        # The running average forgets with a time constant in seconds, not per frame, so a 25 fps
        # camera and a gate looking 5 times a second adapt alike (1.2 s: 0.08 per frame at 10 fps).
        self.time_constant_s = time_constant_s
        self._last_t: float | None = None
        self.min_area_frac = min_area_frac
        self.lighting_frac = lighting_frac
        self._avg: npt.NDArray[np.float32] | None = None
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def small_grey(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """``image`` (grey ``(H, W)`` — a decoder's luma plane costs nothing — or BGR) shrunk to
        ``width`` and blurred.

        The Gaussian pyramid halves the picture (blurring as it goes) while it is at least twice
        ``width``, which costs a fraction of one bilinear resize from full size; a cheap resize on
        the small image finishes.  The final 5x5 blur at the gate's width removes the aliasing,
        and the specks (snowflakes, rain, sensor noise), a motion mask would see as flicker.
        """
        small = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        while small.shape[1] >= 2 * self.width:
            small = cv2.pyrDown(small)
        if small.shape[1] > self.width:  # the last step to the gate's width, on an image already small
            sh = max(1, round(small.shape[0] * self.width / small.shape[1]))
            small = cv2.resize(small, (self.width, sh), interpolation=cv2.INTER_LINEAR)
        small = cv2.GaussianBlur(small, (5, 5), 0)
        return np.asarray(small, np.uint8)

    def _alpha(self, t: float | None) -> float:
        """The running average's weight for a look at video time ``t`` (seconds)."""
        dt = 0.1 if t is None or self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        return float(1.0 - np.exp(-dt / self.time_constant_s))

    def detect(self, image: npt.NDArray[np.uint8], t: float | None = None) -> MotionResult:
        """Motion in ``image`` (grey or BGR) against the running average; ``t`` is its video time in
        seconds (None: 0.1 s after the previous look)."""
        grey: npt.NDArray[np.uint8] = self.small_grey(image)
        h, w = image.shape[:2]
        alpha = self._alpha(t)
        if self._avg is None or self._avg.shape != grey.shape:
            self._avg = grey.astype(np.float32)
            return MotionResult(np.zeros_like(grey), [], 0.0, False)
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(self._avg))
        _, thresholded = cv2.threshold(diff, self.threshold, 255, cv2.THRESH_BINARY)
        if not cv2.countNonZero(thresholded):  # the usual case on quiet footage: nothing to grow
            cv2.accumulateWeighted(grey, self._avg, alpha)
            return MotionResult(np.asarray(thresholded, np.uint8), [], 0.0, False)
        mask: npt.NDArray[np.uint8] = np.asarray(
            cv2.dilate(thresholded, self._kernel, iterations=2), np.uint8
        )
        fraction = float(np.count_nonzero(mask)) / mask.size
        if fraction > self.lighting_frac:
            # A light switching, auto-exposure or a cloud: relearn instead of reporting the whole frame.
            self._avg = grey.astype(np.float32)
            logger.debug(
                "motion gate: %.0f%% of the frame changed at once, treating as lighting", fraction * 100
            )
            return MotionResult(np.zeros_like(grey), [], fraction, True)
        cv2.accumulateWeighted(grey, self._avg, alpha)
        if fraction == 0.0:
            return MotionResult(mask, [], 0.0, False)
        scale_x = w / grey.shape[1]
        scale_y = h / grey.shape[0]
        n, _labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        min_area = self.min_area_frac * mask.size
        regions: list[Box] = []
        for i in range(1, n):
            x, y, bw, bh, area = (int(v) for v in stats[i])
            if area < min_area:
                continue
            regions.append(
                (
                    int(x * scale_x),
                    int(y * scale_y),
                    min(w, int(np.ceil((x + bw) * scale_x))),
                    min(h, int(np.ceil((y + bh) * scale_y))),
                )
            )
        return MotionResult(mask, regions, fraction, False)

    def mask_at(self, result: MotionResult, width: int, height: int) -> npt.NDArray[np.uint8]:
        return cv2.resize(result.mask, (width, height), interpolation=cv2.INTER_NEAREST)  # type: ignore[return-value]


def busy_boxes(mask: npt.NDArray[np.uint8], boxes: Mapping[int, Box], min_share: float) -> dict[int, bool]:
    """Per key, whether more than ``min_share`` (0–1) of the box's pixels move in ``mask``.

    ``mask`` is a 0/255 motion mask at the resolution the boxes are given in; an empty box is
    never busy.
    """
    busy = {}
    for key, (x1, y1, x2, y2) in boxes.items():
        patch = mask[y1:y2, x1:x2]
        busy[key] = bool(patch.size and np.count_nonzero(patch) > min_share * patch.size)
    return busy


def _square_crop(box: Box, side: int, width: int, height: int) -> Box:
    cx = (box[0] + box[2]) / 2
    cy = (box[1] + box[3]) / 2
    side = min(side, width, height)
    x1 = round(min(max(cx - side / 2, 0), width - side))
    y1 = round(min(max(cy - side / 2, 0), height - side))
    return (x1, y1, x1 + side, y1 + side)


def plan_crops(
    regions: list[Box],
    width: int,
    height: int,
    model_size: int = 300,
    max_crops: int = 2,
    margin: float = 0.15,
) -> list[Box]:
    """Square crops (at least ``model_size`` px) covering every motion region.

    A region smaller than the model input gets a crop of exactly the model input, so the detector
    sees it at native resolution; nearby regions are merged; if more than ``max_crops`` crops would
    be needed, or they would cover most of the frame anyway, one full-frame crop is returned.
    """
    if not regions:
        return []
    boxes: list[Box] = []
    for x1, y1, x2, y2 in regions:
        mx = int((x2 - x1) * margin) + 8
        my = int((y2 - y1) * margin) + 8
        boxes.append((max(0, x1 - mx), max(0, y1 - my), min(width, x2 + mx), min(height, y2 + my)))
    crops = [_square_crop(b, max(model_size, b[2] - b[0], b[3] - b[1]), width, height) for b in boxes]
    merged = True
    while merged and len(crops) > 1:
        merged = False
        for i in range(len(crops)):
            for j in range(i + 1, len(crops)):
                u = union(crops[i], crops[j])
                area_u = (u[2] - u[0]) * (u[3] - u[1])
                area_sum = sum((c[2] - c[0]) * (c[3] - c[1]) for c in (crops[i], crops[j]))
                if area_u <= area_sum * 1.1:
                    side = max(u[2] - u[0], u[3] - u[1])
                    crops[i] = _square_crop(u, side, width, height)
                    del crops[j]
                    merged = True
                    break
            if merged:
                break
    # A crop that could not be square (region wider than the frame is tall) is clipped to the frame.
    crops = [c for c in crops if c[2] > c[0] and c[3] > c[1]]
    covered = sum((c[2] - c[0]) * (c[3] - c[1]) for c in crops)
    if len(crops) > max_crops or covered >= 0.6 * width * height:
        return [(0, 0, width, height)]
    for c in crops:
        if not all(contains(c, b) for b in boxes if overlaps(c, b)):
            return [(0, 0, width, height)]
    return crops
