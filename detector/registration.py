"""Camera registration: keep every scene sample aligned with the background when the camera moves.

A camera knocked by a few pixels (wind on the pole, a ladder against it, a vandal) makes every edge
in the picture "new" to a background model.  Before the scene model compares a sample with its
background, :class:`Registration` estimates the rigid motion (shift and rotation) between the two
with OpenCV's ECC alignment (Evangelidis & Psarakis 2008: maximises the enhanced correlation
coefficient, so it ignores gain and offset — a knock during a lighting change still registers),
over the pixels nothing moves or stands in front of, warm-started from the previous estimate.  The
sample is then warped into the background's frame, so a moved camera is *registered*, not
relearnt, and deposits already waiting keep their place.

A move that persists is recorded as a :class:`CameraMove` (for the camera's health record and the
officer: the view changed at that time, by that much).  A move too large to register (more than
``max_shift_frac`` of the width) asks the caller to relearn.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class RegistrationSettings:
    iterations: int = 40  # ECC iterations per sample (warm-started, so few are needed)
    epsilon: float = 1e-4  # ECC convergence threshold
    min_correlation: float = 0.6  # an estimate correlating less than this is not trusted
    moved_px: float = 1.5  # working pixels: a persistent offset beyond this is a "camera moved"
    moved_samples: int = 3  # samples the new offset must hold before it is recorded
    max_shift_frac: float = 0.08  # beyond this share of the width, registration gives up: relearn
    min_valid_frac: float = 0.3  # the share of the picture that must be usable for an estimate


@dataclass(frozen=True, slots=True)
class CameraMove:
    """The camera's view moved: when, and how far (full-frame pixels and degrees)."""

    video_time_s: float
    dx_px: float
    dy_px: float
    degrees: float

    @property
    def magnitude_px(self) -> float:
        return math.hypot(self.dx_px, self.dy_px)


def offset_of(warp: F32) -> tuple[float, float, float]:
    """A warp's shift (working pixels) and rotation (degrees)."""
    return (
        float(warp[0, 2]),
        float(warp[1, 2]),
        math.degrees(math.atan2(float(warp[1, 0]), float(warp[0, 0]))),
    )


class Registration:
    """Aligns working-resolution samples to a reference (the scene's long-term background)."""

    def __init__(self, settings: RegistrationSettings | None = None) -> None:
        self.s = settings or RegistrationSettings()
        self.warp: F32 = np.eye(2, 3, dtype=np.float32)  # reference coords -> sample coords
        self._reported: F32 = np.eye(2, 3, dtype=np.float32)
        self._pending = 0
        self.moves: list[CameraMove] = []
        self.failures = 0

    @property
    def is_identity(self) -> bool:
        dx, dy, deg = offset_of(self.warp)
        return abs(dx) < 0.25 and abs(dy) < 0.25 and abs(deg) < 0.02

    def estimate(self, sample: F32, reference: F32, usable: npt.NDArray[np.bool_]) -> bool:
        """Update :attr:`warp` from ``sample`` against ``reference`` over ``usable`` pixels.

        Returns False when the camera moved further than registration can follow (the caller
        should relearn its background and call :meth:`reset`)."""
        if usable.mean() < self.s.min_valid_frac:
            return True  # too little to go on (most of the picture moving): keep the last estimate
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, self.s.iterations, self.s.epsilon)
        try:
            rho, found = cv2.findTransformECC(
                reference,
                sample,
                self.warp.copy(),
                cv2.MOTION_EUCLIDEAN,
                criteria,
                usable.astype(np.uint8) * 255,
                5,
            )
            warp = np.asarray(found, np.float32)
        except cv2.error:
            self.failures += 1  # no convergence (a featureless or changing picture): keep the last
            return True
        if not np.isfinite(warp).all() or rho < self.s.min_correlation:
            self.failures += 1
            return True
        dx, dy, _deg = offset_of(warp)
        if math.hypot(dx, dy) > self.s.max_shift_frac * reference.shape[1]:
            return False
        self.warp = np.asarray(warp, np.float32)
        return True

    def moved(self, t: float, scale: tuple[float, float]) -> CameraMove | None:
        """A move to record: the offset changed by more than ``moved_px`` from the last recorded
        one and has held for ``moved_samples`` samples (``scale``: working → full pixels)."""
        dx, dy, deg = offset_of(self.warp)
        rx, ry, rdeg = offset_of(self._reported)
        shift = math.hypot(dx - rx, dy - ry) + abs(math.radians(deg - rdeg)) * 160.0
        if shift < self.s.moved_px:
            self._pending = 0
            return None
        self._pending += 1
        if self._pending < self.s.moved_samples:
            return None
        self._pending = 0
        self._reported = self.warp.copy()
        move = CameraMove(t, (dx - rx) * scale[0], (dy - ry) * scale[1], deg - rdeg)
        self.moves.append(move)
        logger.warning(
            "camera moved at t=%.1f s by (%.1f, %.1f) px and %.2f°: registered to the background",
            t,
            move.dx_px,
            move.dy_px,
            move.degrees,
        )
        return move

    def to_reference(self, image: F32, border_value: float = 0.0) -> F32:
        """``image`` (sample coordinates) warped into the reference's frame."""
        if self.is_identity:
            return image
        h, w = image.shape[:2]
        return np.asarray(
            cv2.warpAffine(
                image,
                self.warp,
                (w, h),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=border_value,
            ),
            np.float32,
        )

    def mask_to_reference(self, mask: npt.NDArray[np.bool_], margin: int = 0) -> npt.NDArray[np.bool_]:
        """A sample-coordinates mask in the reference's frame.  What came from outside the picture
        is True, grown by ``margin`` pixels (comparison windows there mix in the border)."""
        if self.is_identity:
            return mask
        h, w = mask.shape
        warped = cv2.warpAffine(
            mask.astype(np.uint8),
            self.warp,
            (w, h),
            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=1,
        )
        inside = cv2.warpAffine(
            np.ones((h, w), np.uint8),
            self.warp,
            (w, h),
            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        if margin > 0:
            # The picture's own edges count as outside: a shift under half a pixel brings nothing
            # in (nearest-neighbour), yet the warped sample's comparison windows at the edges
            # already mix interpolated border pixels, which then look "new".
            inside = cv2.erode(
                inside,
                np.ones((2 * margin + 1, 2 * margin + 1), np.uint8),
                borderType=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
        return np.asarray(warped.astype(bool) | ~inside.astype(bool), bool)

    def box_to_sample(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """A reference-frame box (working pixels) where it now appears in the sample."""
        if self.is_identity:
            return box
        x1, y1, x2, y2 = box
        pts = np.array([[x1, y1, 1], [x2, y1, 1], [x1, y2, 1], [x2, y2, 1]], np.float32) @ self.warp.T
        return (
            math.floor(pts[:, 0].min()),
            math.floor(pts[:, 1].min()),
            math.ceil(pts[:, 0].max()),
            math.ceil(pts[:, 1].max()),
        )

    def reset(self) -> None:
        self.warp = np.eye(2, 3, dtype=np.float32)
        self._reported = self.warp.copy()
        self._pending = 0
