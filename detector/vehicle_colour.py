"""A vehicle's dominant colour, named in the DVLA's basic colour words, from its crop.

The DVLA's vehicle record (the V5C and a keeper enquiry's reply) gives one basic colour: the officer
matches the camera's vehicle against it, so the name comes from that list, not a camera's own.  A
camera's white balance, exposure and the light of the day shift what it records (silver and grey,
white and cream, maroon and red lie close), so the name is an aid to matching, never an
identification; :class:`VehicleColour` says how much of the body agreed.

How: the crop's body panels (below the window line, above the road, away from the wheels), in CIE
L*a*b*, are clustered with k-means (OpenCV); each cluster's centre is named by the nearest DVLA
colour's reference (CIE76 distance in L*a*b*), and the name covering most of the panels wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

#: DVLA basic colours and an sRGB reference for each (a typical car paint of that name in daylight)
DVLA_COLOURS: dict[str, tuple[int, int, int]] = {
    "Beige": (200, 180, 140),
    "Black": (25, 25, 28),
    "Blue": (30, 60, 160),
    "Bronze": (140, 95, 50),
    "Brown": (100, 65, 40),
    "Cream": (235, 225, 190),
    "Gold": (190, 160, 80),
    "Green": (35, 110, 55),
    "Grey": (110, 112, 115),
    "Maroon": (100, 20, 35),
    "Orange": (230, 120, 30),
    "Pink": (230, 140, 170),
    "Purple": (100, 40, 120),
    "Red": (190, 25, 30),
    "Silver": (175, 178, 182),
    "Turquoise": (40, 170, 170),
    "White": (238, 238, 238),
    "Yellow": (235, 205, 35),
}

CLUSTERS = 4  # k-means clusters: body, glass, shadow, and one to spare
WORKING_PIXELS = 4096  # the body region is shrunk to about this many pixels before clustering


@dataclass(frozen=True, slots=True)
class VehicleColour:
    """``name``: a DVLA basic colour; ``share``: the fraction (0-1) of the body region in that
    cluster; ``lab``: its centre in CIE L*a*b* (L 0-100)."""

    name: str
    share: float
    lab: tuple[float, float, float]


def _lab(rgb: tuple[int, int, int]) -> npt.NDArray[np.float32]:
    pixel = np.asarray([[rgb[::-1]]], np.uint8)  # one BGR pixel
    lab = cv2.cvtColor(pixel.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    return np.asarray(lab[0, 0], np.float32)


_REFERENCES = {name: _lab(rgb) for name, rgb in DVLA_COLOURS.items()}


#: the body band, as fractions of the box: below the beltline (where cars, vans and buses have their
#: windows) and above the road; and the middle of its width, away from the wheels and the background
BODY_TOP, BODY_BOTTOM, BODY_SIDE = 0.50, 0.85, 0.20


def body_region(crop: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The part of a vehicle crop ``(H, W, 3)`` BGR most likely to be painted body (see
    :data:`BODY_TOP`).  ValueError for a crop under 4 pixels either way."""
    h, w = crop.shape[:2]
    if h < 4 or w < 4:
        raise ValueError(f"a vehicle crop of {w}x{h} pixels is too small to name its colour")
    top, bottom = int(h * BODY_TOP), max(int(h * BODY_BOTTOM), int(h * BODY_TOP) + 1)
    left, right = int(w * BODY_SIDE), max(int(w * (1 - BODY_SIDE)), int(w * BODY_SIDE) + 1)
    return crop[top:bottom, left:right]


def name_lab(lab: npt.NDArray[np.float32] | tuple[float, float, float]) -> str:
    """The DVLA colour whose reference is nearest ``lab`` (CIE76)."""
    point = np.asarray(lab, np.float32)
    return min(_REFERENCES, key=lambda name: float(np.linalg.norm(_REFERENCES[name] - point)))


def dominant_colour(crop: npt.NDArray[np.uint8]) -> VehicleColour:
    """The vehicle's dominant colour from its crop (BGR ``(H, W, 3)`` uint8, the detector's box).

    ValueError for a crop too small to judge."""
    region = body_region(crop)
    scale = min(1.0, float(np.sqrt(WORKING_PIXELS / max(region.shape[0] * region.shape[1], 1))))
    body = np.asarray(region, np.float32) / 255.0
    if scale < 1.0:
        size = (max(2, round(body.shape[1] * scale)), max(2, round(body.shape[0] * scale)))
        body = np.asarray(cv2.resize(body, size, interpolation=cv2.INTER_AREA), np.float32)
    lab = np.asarray(cv2.cvtColor(body, cv2.COLOR_BGR2Lab), np.float32).reshape(-1, 3)
    k = min(CLUSTERS, len(lab))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    # a fixed seed: the same crop always gets the same name (evidence must be reproducible)
    cv2.setRNGSeed(7)
    labels_in = np.zeros((len(lab), 1), np.int32)
    _compactness, labels, centres = cv2.kmeans(lab, k, labels_in, criteria, 3, cv2.KMEANS_PP_CENTERS)
    counts = np.bincount(labels.ravel(), minlength=k)
    # Clusters of one colour (a panel in light and in shade) count together.
    names = [name_lab(c) for c in centres]
    totals: dict[str, int] = {}
    for name, count in zip(names, counts, strict=True):
        totals[name] = totals.get(name, 0) + int(count)
    winner = max(totals, key=lambda n: totals[n])
    largest = max((i for i in range(k) if names[i] == winner), key=lambda i: counts[i])
    centre = centres[largest]
    return VehicleColour(
        name=winner,
        share=round(totals[winner] / float(len(labels)), 2),
        lab=(round(float(centre[0]), 1), round(float(centre[1]), 1), round(float(centre[2]), 1)),
    )
