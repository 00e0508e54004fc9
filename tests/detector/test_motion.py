"""Motion gate: still scenes cost nothing, moving things give regions, crops fit the model input."""

from __future__ import annotations

import cv2
import numpy as np
from detector_testutil import textured

from detector.motion import MotionGate, plan_crops


def _with_square(img: np.ndarray, x: int, y: int, size: int = 40) -> np.ndarray:
    out = img.copy()
    cv2.rectangle(out, (x, y), (x + size, y + size), (30, 30, 200), -1)
    return out


def test_still_scene_has_no_motion() -> None:
    gate = MotionGate()
    bg = textured(480, 640)
    rng = np.random.default_rng(1)
    for _ in range(10):
        noisy = (bg.astype(np.int16) + rng.normal(0, 2, bg.shape)).clip(0, 255).astype(np.uint8)
        result = gate.detect(noisy)
        assert result.regions == []


def test_moving_object_gives_a_region_around_it() -> None:
    gate = MotionGate()
    bg = textured(480, 640)
    gate.detect(bg)
    result = gate.detect(_with_square(bg, 400, 300))
    assert len(result.regions) == 1
    x1, y1, x2, y2 = result.regions[0]
    assert x1 <= 400 and y1 <= 300 and x2 >= 440 and y2 >= 340
    assert (x2 - x1) < 120 and (y2 - y1) < 120  # tight, not the whole frame


def test_sudden_global_lighting_change_is_not_motion() -> None:
    gate = MotionGate()
    bg = textured(480, 640)
    gate.detect(bg)
    result = gate.detect(cv2.convertScaleAbs(bg, alpha=1.6))
    assert result.lighting_change
    assert result.regions == []
    assert gate.detect(cv2.convertScaleAbs(bg, alpha=1.6)).regions == []  # relearnt


def test_small_distant_region_gets_a_model_sized_crop() -> None:
    crops = plan_crops([(1000, 100, 1020, 130)], 1280, 720, model_size=300)
    assert len(crops) == 1
    x1, y1, x2, y2 = crops[0]
    assert (x2 - x1, y2 - y1) == (300, 300)  # native resolution for a small vehicle
    assert x1 <= 1000 and x2 >= 1020 and y1 <= 100 and y2 >= 130


def test_crops_merge_nearby_regions_and_fall_back_to_full_frame() -> None:
    merged = plan_crops([(100, 100, 130, 150), (160, 110, 190, 160)], 1280, 720)
    assert len(merged) == 1
    scattered = [(50, 50, 70, 70), (600, 400, 620, 420), (1200, 50, 1220, 70), (50, 650, 70, 700)]
    assert plan_crops(scattered, 1280, 720, max_crops=2) == [(0, 0, 1280, 720)]
    assert plan_crops([], 1280, 720) == []


def test_crop_near_the_border_stays_inside_the_frame() -> None:
    for region in [(0, 0, 10, 10), (1270, 710, 1280, 720)]:
        (x1, y1, x2, y2), *_ = plan_crops([region], 1280, 720)
        assert 0 <= x1 < x2 <= 1280 and 0 <= y1 < y2 <= 720
