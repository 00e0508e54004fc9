"""Helpers shared by the detector tests (synthetic textures, pasted objects)."""

from __future__ import annotations

import cv2
import numpy as np


def textured(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    """A grass/tarmac-like textured BGR image."""
    rng = np.random.default_rng(seed)
    base = rng.normal(110, 25, (h // 4, w // 4)).astype(np.float32)
    img = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 6, (h, w)).astype(
        np.float32
    )
    grey = img.clip(0, 255).astype(np.uint8)
    bgr = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    bgr[..., 1] = np.clip(bgr[..., 1].astype(np.int16) + 20, 0, 255).astype(np.uint8)
    return bgr
