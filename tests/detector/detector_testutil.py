"""Helpers shared by the detector tests (synthetic textures, pasted objects)."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


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


def noisy(img: np.ndarray, rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    return (img.astype(np.float32) + rng.normal(0, sigma, img.shape)).clip(0, 255).astype(np.uint8)


def with_bag(img: np.ndarray, cx: int, cy: int, rx: int = 18, ry: int = 14, level: int = 25) -> np.ndarray:
    """A black bin bag: a dark, nearly flat ellipse with a faint highlight."""
    out = img.copy()
    cv2.ellipse(out, (cx, cy), (rx, ry), 0, 0, 360, (level, level, level), -1)
    cv2.ellipse(out, (cx - rx // 3, cy - ry // 3), (rx // 4, ry // 4), 0, 0, 360, (level + 20,) * 3, -1)
    return out


def shaded(img: np.ndarray, gain_field: np.ndarray) -> np.ndarray:
    return (img.astype(np.float32) * gain_field[..., None]).clip(0, 255).astype(np.uint8)
