"""Scene model: a black bag is found; light, shadow, noise and swaying leaves are not deposits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from detector_testutil import noisy, shaded, textured, with_bag

from detector.scene import SceneModel
from detector.types import Frame
from tipwatch.dev.composite import bin_bag, paste


def _feed(scene: SceneModel, images: list[np.ndarray], t0: float = 0.0, exclusion: np.ndarray | None = None):
    regions = []
    for i, img in enumerate(images):
        regions = scene.update(img, t0 + 0.5 * i, exclusion)
    return regions


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture
def ground() -> np.ndarray:
    return textured(240, 320, seed=3)


def test_black_bin_bag_on_textured_ground_is_a_new_static_region(ground, rng) -> None:
    scene = SceneModel()
    _feed(scene, [noisy(ground, rng) for _ in range(4)])
    bagged = with_bag(ground, 200, 150)
    regions = _feed(scene, [noisy(bagged, rng) for _ in range(10)], t0=2.0)
    assert len(regions) == 1
    x1, y1, x2, y2 = regions[0].box
    assert x1 <= 190 and x2 >= 210 and y1 <= 145 and y2 >= 155
    assert (x2 - x1) < 60 and (y2 - y1) < 50
    assert scene.still_new(regions[0].region_id, noisy(bagged, rng))
    assert not scene.still_new(regions[0].region_id, noisy(ground, rng))  # picked up again: not new


@pytest.mark.parametrize("gain", [0.55, 0.8, 1.3])
def test_sudden_global_lighting_change_is_not_a_deposit(ground, rng, gain: float) -> None:
    scene = SceneModel()
    _feed(scene, [noisy(ground, rng) for _ in range(4)])
    lit = cv2.convertScaleAbs(ground, alpha=gain)
    assert _feed(scene, [noisy(lit, rng) for _ in range(12)], t0=2.0) == []


def test_gradual_dusk_is_not_a_deposit(ground, rng) -> None:
    scene = SceneModel()
    images = [noisy(cv2.convertScaleAbs(ground, alpha=1.0 - 0.02 * i), rng) for i in range(30)]
    assert _feed(scene, images) == []


def test_soft_cloud_shadow_over_part_of_the_scene_is_not_a_deposit(ground, rng) -> None:
    scene = SceneModel()
    _feed(scene, [noisy(ground, rng) for _ in range(4)])
    field = np.ones(ground.shape[:2], np.float32)
    cv2.circle(field, (120, 120), 70, 0.55, -1)
    field = cv2.GaussianBlur(field, (0, 0), 18)
    assert _feed(scene, [noisy(shaded(ground, field), rng) for _ in range(12)], t0=2.0) == []


def test_a_shadow_does_not_hide_a_black_bag(ground, rng) -> None:
    """MOG2's shadow detection calls a black bag a shadow; this model must not."""
    scene = SceneModel()
    _feed(scene, [noisy(ground, rng) for _ in range(4)])
    field = np.ones(ground.shape[:2], np.float32)
    field[:, :160] = 0.7
    field = cv2.GaussianBlur(field, (0, 0), 10)
    images = [noisy(shaded(with_bag(ground, 80, 170), field), rng) for _ in range(12)]
    regions = _feed(scene, images, t0=2.0)
    assert len(regions) == 1
    x1, _, x2, _ = regions[0].box
    assert x1 < 80 < x2


def test_sensor_noise_rain_and_swaying_vegetation_are_not_deposits(ground, rng) -> None:
    scene = SceneModel()
    _feed(scene, [noisy(ground, rng) for _ in range(4)])
    images = []
    for _ in range(20):
        frame = noisy(ground, rng, sigma=6.0)
        # swaying hedge: a textured band that shifts by a few pixels every sample
        shift = int(rng.integers(-4, 5))
        frame[20:70, :] = np.roll(ground[20:70, :], shift, axis=1)
        # rain: bright streaks at random places
        for _ in range(30):
            x, y = int(rng.integers(0, 320)), int(rng.integers(0, 230))
            cv2.line(frame, (x, y), (x + 1, y + 8), (200, 200, 200), 1)
        images.append(frame)
    assert _feed(scene, images, t0=2.0) == []


def test_masked_person_is_no_candidate_until_they_have_gone(ground, rng) -> None:
    scene = SceneModel()
    _feed(scene, [noisy(ground, rng) for _ in range(4)])
    bagged = with_bag(ground, 200, 150)
    mask = np.zeros(ground.shape[:2], np.uint8)
    mask[100:200, 160:240] = 255  # a tracked person standing over the bag (with margin)
    assert _feed(scene, [noisy(bagged, rng) for _ in range(10)], t0=2.0, exclusion=mask) == []
    regions = _feed(scene, [noisy(bagged, rng) for _ in range(8)], t0=7.0)
    assert len(regions) == 1


def test_something_that_leaves_the_background_is_a_ghost_not_a_deposit(ground, rng) -> None:
    scene = SceneModel()
    car = ground.copy()
    cv2.rectangle(car, (60, 80), (140, 130), (40, 40, 180), -1)  # in view when the model starts
    _feed(scene, [noisy(car, rng) for _ in range(4)])
    assert _feed(scene, [noisy(ground, rng) for _ in range(12)], t0=2.0) == []


def test_absorbed_region_is_background_afterwards(ground, rng) -> None:
    scene = SceneModel()
    _feed(scene, [noisy(ground, rng) for _ in range(4)])
    bagged = with_bag(ground, 200, 150)
    regions = _feed(scene, [noisy(bagged, rng) for _ in range(10)], t0=2.0)
    scene.absorb(regions[0].region_id, bagged)
    assert _feed(scene, [noisy(bagged, rng) for _ in range(6)], t0=8.0) == []


@pytest.mark.parametrize("gain", [0.7, 1.3])
def test_real_cctv_lighting_change_barely_registers(vtest_frames: list[Frame], gain: float) -> None:
    scene = SceneModel()
    frame = vtest_frames[0].image
    base = scene.prepare(frame)
    relit = scene.prepare(cv2.convertScaleAbs(frame, alpha=gain))
    assert float(scene.dissimilar(relit, base).mean()) < 0.03


def test_real_cctv_bin_bag_is_found(vtest_frames: list[Frame]) -> None:
    scene = SceneModel()
    rng = np.random.default_rng(2)
    frame = vtest_frames[0].image
    _feed(scene, [noisy(frame, rng, 2.0) for _ in range(4)])
    patch, alpha = bin_bag()
    bagged = paste(frame, patch, alpha, 40, 400)
    regions = _feed(scene, [noisy(bagged, rng, 2.0) for _ in range(10)], t0=2.0)
    assert len(regions) == 1
    x1, y1, x2, y2 = regions[0].box
    assert x1 < 68 < x2 and y1 < 422 < y2
