"""A vehicle's colour in the DVLA's words, from its crop: what an officer matches against the keeper
enquiry's reply.  Real photographs where packages ship them; painted panels under light and shade."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import ultralytics

from detector.vehicle_colour import DVLA_COLOURS, body_region, dominant_colour

BUS = Path(ultralytics.__file__).parent / "assets" / "bus.jpg"


def panel(rgb: tuple[int, int, int], *, shade: float = 1.0, seed: int = 0) -> np.ndarray:
    """A 160x240 crop of one paint colour with sensor noise; the right half in shade (x ``shade``)."""
    rng = np.random.default_rng(seed)
    crop = np.empty((160, 240, 3), np.float32)
    crop[:] = rgb[::-1]
    crop[:, 120:] *= shade
    crop += rng.normal(0, 6, crop.shape)
    return np.asarray(np.clip(crop, 0, 255), np.uint8)


@pytest.mark.parametrize("name", sorted(DVLA_COLOURS))
def test_each_dvla_colour_is_named_as_itself_under_noise(name: str) -> None:
    colour = dominant_colour(panel(DVLA_COLOURS[name]))
    assert colour.name == name and colour.share >= 0.9


@pytest.mark.parametrize("name", ["Red", "Blue", "Black", "Green", "Yellow"])
def test_a_panel_half_in_shade_keeps_its_name(name: str) -> None:
    """Light and shade on one panel are one colour: the clusters of one name count together.  (White,
    silver and grey are not here: a shaded white panel is what a camera records as silver, which is
    why the name is an aid to matching, not an identification.)"""
    colour = dominant_colour(panel(DVLA_COLOURS[name], shade=0.8, seed=3))
    assert colour.name == name


def test_the_blue_bus_in_a_real_photograph_is_blue_though_people_stand_in_front() -> None:
    image = cv2.imread(str(BUS))
    assert image is not None
    colour = dominant_colour(image[231:768, 17:802])  # the bus, as a detector boxes it
    assert colour.name == "Blue"


def test_the_windows_and_the_road_are_left_out() -> None:
    crop = panel(DVLA_COLOURS["Red"])
    crop[: int(160 * 0.45)] = 15  # dark glass above the beltline
    crop[int(160 * 0.9) :] = 90  # grey road below
    assert dominant_colour(crop).name == "Red"
    assert body_region(crop).mean(axis=(0, 1)).tolist() == pytest.approx(
        crop[80:136, 48:192].mean(axis=(0, 1)).tolist(), abs=3
    )


def test_a_crop_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        dominant_colour(np.zeros((3, 40, 3), np.uint8))


def test_the_same_crop_gets_the_same_name_every_time() -> None:
    crop = panel((120, 130, 90), seed=5)  # between references
    assert len({dominant_colour(crop) for _ in range(5)}) == 1
