"""Cut-outs: real people and a real vehicle from the photos ultralytics ships, plus rendered waste.

The people and the vehicle are cut from ``ultralytics/assets/bus.jpg`` (AGPL-3.0, shipped in the
ultralytics wheel) by fixed rectangles, so the real COCO detector sees real photographic texture.
The rectangles were found once by running the bundled SSD-MobileNet-v2 COCO on the photo
(conf >= 0.2, 810x1080 original pixels):

    person 0.99  [ 51, 392, 228, 899]   beige coat, full body, clean background  -> PERSON_A
    person 0.66  [229, 409, 352, 878]   black coat, full body, bus behind him    -> PERSON_B
    bus    0.86  [ 11, 208, 805, 762]   the two people above stand in front of its lower half
    person 0.57  [677, 362, 810, 882]   cut off by the right edge of the photo (not used)

The bus's lower front is hidden by the two people, so the vehicle keeps the unoccluded upper front
(windscreen, destination sign) and gets its lower front from the clear lower body further back
(see :func:`vehicle`).  Waste (bin bags, a box, a mattress, a tyre) and the "dog" are drawn here.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]

# (x1, y1, x2, y2) in bus.jpg pixels; see the module docstring for where they come from
PERSON_A_BOX = (51, 392, 228, 899)
PERSON_B_BOX = (229, 409, 352, 878)
# a corner of the bus window by his head, the neighbour's hand in front of his left leg, the bollard
# and pavement between his legs: certainly not him
PERSON_A_NOT = ((60, 380, 110, 402), (44, 728, 66, 815), (122, 740, 142, 822), (100, 825, 170, 860))
# his jeans are as blue as the bus behind them, his hair as dark as its windows: marked as sure
PERSON_A_SURE = (
    (118, 412, 148, 460),
    (82, 690, 98, 790),
    (152, 690, 170, 720),
    (160, 720, 180, 800),
    (60, 860, 95, 885),
    (190, 865, 220, 885),
)
# his shoes are dark against a bright, patterned pavement, which GrabCut alone drops: marked as sure
PERSON_B_SHOES = ((258, 822, 290, 855), (282, 800, 298, 818))
# the bus from its front edge (road signs and its mirror at x < 40 stay out) to just before the
# third person, who hides the rear wheel from x ~713; y from the roof to the bottom of the skirt
VEHICLE_BOX = (40, 244, 712, 684)
# the two people hide the bus below y=392 left of x=345: that band is refilled from the clear body
# to its right (x 345..650), which also brings a wheel to the front of the vehicle
VEHICLE_OCCLUDED = (40, 392, 345, 684)
# street bollards stand in front of the bus skirt; they are painted out (Telea inpainting)
VEHICLE_BOLLARDS = ((422, 615, 463, 684), (655, 620, 693, 684))


class SampleAssetError(RuntimeError):
    """The photos the sample clips are cut from cannot be found or read."""


@dataclass(eq=False)
class Sprite:
    """An RGBA cut-out: BGR colour and a 0..1 alpha, with a small cache of resized copies."""

    name: str
    bgr: U8
    alpha: F32
    _scaled: dict[int, tuple[U8, F32]] = field(default_factory=dict, repr=False)

    @property
    def height(self) -> int:
        return int(self.bgr.shape[0])

    @property
    def width(self) -> int:
        return int(self.bgr.shape[1])

    def at_height(self, height: int) -> tuple[U8, F32]:
        """This sprite resized (aspect kept) to ``height`` pixels; cached per height."""
        height = max(2, int(height))
        hit = self._scaled.get(height)
        if hit is None:
            width = max(2, round(self.width * height / self.height))
            interp = cv2.INTER_AREA if height < self.height else cv2.INTER_LINEAR
            bgr = cv2.resize(self.bgr, (width, height), interpolation=interp)
            alpha = cv2.resize(self.alpha, (width, height), interpolation=interp)
            hit = (np.ascontiguousarray(bgr), np.clip(alpha, 0.0, 1.0).astype(np.float32))
            self._scaled[height] = hit
        return hit

    def mirrored(self) -> Sprite:
        return Sprite(f"{self.name}-mirrored", self.bgr[:, ::-1].copy(), self.alpha[:, ::-1].copy())


def assets_dir() -> Path:
    """``ultralytics/assets`` inside the installed wheel (found without importing ultralytics)."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise SampleAssetError(
            "the ultralytics package is not installed; it ships the photos the samples use"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "assets"


@functools.cache
def _photo(name: str) -> U8:
    path = assets_dir() / name
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SampleAssetError(f"cannot read {path}; reinstall ultralytics-opencv-headless")
    return np.asarray(image, np.uint8)


Rect = tuple[int, int, int, int]


def _cut_person(box: Rect, name: str, sure: tuple[Rect, ...] = (), never: tuple[Rect, ...] = ()) -> Sprite:
    """GrabCut inside the box, cleaned up and feathered.

    ``sure`` rectangles are certainly the person, ``never`` ones certainly background.
    """
    image = _photo("bus.jpg")
    x1, y1, x2, y2 = box
    pad = 12
    rx1, ry1 = max(0, x1 - pad), max(0, y1 - pad)
    rx2, ry2 = min(image.shape[1], x2 + pad), min(image.shape[0], y2 + pad)
    roi = image[ry1:ry2, rx1:rx2].copy()
    mask = np.full(roi.shape[:2], cv2.GC_BGD, np.uint8)
    mask[y1 - ry1 : y2 - ry1, x1 - rx1 : x2 - rx1] = cv2.GC_PR_FGD
    for sx1, sy1, sx2, sy2 in sure:
        mask[sy1 - ry1 : sy2 - ry1, sx1 - rx1 : sx2 - rx1] = cv2.GC_FGD
    for nx1, ny1, nx2, ny2 in never:
        mask[ny1 - ry1 : ny2 - ry1, nx1 - rx1 : nx2 - rx1] = cv2.GC_BGD
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(12345)  # GrabCut's k-means start draws from OpenCV's global RNG
    cv2.grabCut(roi, mask, (0, 0, 0, 0), bgd, fgd, 5, cv2.GC_INIT_WITH_MASK)  # rect unused with a mask
    fg = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    fg = np.asarray(cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel), np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg)
    if count > 1:  # keep the person, drop specks of background GrabCut let through
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        fg = np.where(labels == biggest, 255, 0).astype(np.uint8)
    alpha = cv2.GaussianBlur(fg.astype(np.float32) / 255.0, (0, 0), 1.5)
    ys, xs = np.nonzero(alpha > 0.02)
    alpha = alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    roi = roi[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return Sprite(name, np.ascontiguousarray(roi), np.ascontiguousarray(alpha))


@functools.cache
def person_a() -> Sprite:
    """The man in the beige coat (bus.jpg), facing the camera."""
    return _cut_person(PERSON_A_BOX, "person-a", PERSON_A_SURE, PERSON_A_NOT)


@functools.cache
def person_b() -> Sprite:
    """The man in the black coat (bus.jpg)."""
    return _cut_person(PERSON_B_BOX, "person-b", PERSON_B_SHOES)


@functools.cache
def vehicle() -> Sprite:
    """The minibus from bus.jpg, front to the left, as a side view with rounded roof corners."""
    image = _photo("bus.jpg")
    x1, y1, x2, y2 = VEHICLE_BOX
    body = image[y1:y2, x1:x2].copy()
    paint = np.zeros(body.shape[:2], np.uint8)
    for bx1, by1, bx2, by2 in VEHICLE_BOLLARDS:
        paint[by1 - y1 : by2 - y1, bx1 - x1 : bx2 - x1] = 255
    body = np.asarray(cv2.inpaint(body, paint, 7, cv2.INPAINT_TELEA), np.uint8)
    ox1, oy1, ox2, oy2 = VEHICLE_OCCLUDED
    width = ox2 - ox1
    src_x = ox2 - x1  # the clear body starts where the occluded band ends
    body[oy1 - y1 : oy2 - y1, ox1 - x1 : ox2 - x1] = body[oy1 - y1 : oy2 - y1, src_x : src_x + width]
    h, w = body.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    top, front_r, rear_r = 8, 62, 26  # the roof line; a rounder front corner like the real one
    cv2.rectangle(mask, (front_r, top), (w - 1 - rear_r, h - 1), 255, -1)
    cv2.rectangle(mask, (0, top + front_r), (front_r, h - 1), 255, -1)
    cv2.rectangle(mask, (w - 1 - rear_r, top + rear_r), (w - 1, h - 1), 255, -1)
    cv2.circle(mask, (front_r, top + front_r), front_r, 255, -1)
    cv2.circle(mask, (w - 1 - rear_r, top + rear_r), rear_r, 255, -1)
    alpha = np.asarray(cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 1.2), np.float32)
    return Sprite("vehicle", body, alpha)


# ---------------------------------------------------------------- rendered waste and the "dog"


def _blob_mask(rng: np.random.Generator, w: int, h: int, roughness: float, flat_bottom: bool) -> F32:
    """An irregular filled outline: a circle with low-frequency radial noise, squashed to w x h."""
    n = 48
    angles = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    radius = np.ones(n)
    for k in (2, 3, 5):
        radius += roughness / k * np.sin(k * angles + rng.uniform(0, 2 * math.pi))
    cx, cy = w / 2, h / 2
    pts = np.stack([cx + np.cos(angles) * radius * w * 0.45, cy + np.sin(angles) * radius * h * 0.45], 1)
    if flat_bottom:
        pts[:, 1] = np.minimum(pts[:, 1], h * 0.94)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255, lineType=cv2.LINE_AA)
    return mask.astype(np.float32) / 255.0


def _shade(w: int, h: int, light: float, dark: float) -> F32:
    """A top-left lit gradient from ``light`` to ``dark`` (multipliers)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (xx / max(w - 1, 1) * 0.4 + yy / max(h - 1, 1) * 0.6).astype(np.float32)
    return (light + (dark - light) * t).astype(np.float32)


def _finish(name: str, colour: npt.NDArray[np.floating], alpha: npt.NDArray[np.floating]) -> Sprite:
    bgr = np.clip(colour, 0, 255).astype(np.uint8)
    return Sprite(name, bgr, np.clip(alpha, 0, 1).astype(np.float32))


def bin_bag(seed: int) -> Sprite:
    """A black plastic sack: dark, glossy, lumpy, knotted at the top."""
    rng = np.random.default_rng(seed)
    w, h = 64, 60
    alpha = _blob_mask(rng, w, h, 0.16, flat_bottom=True)
    # the knot: a small bunched neck at the top
    knot = np.zeros((h, w), np.uint8)
    kx = int(w * rng.uniform(0.42, 0.58))
    cv2.ellipse(knot, (kx, 6), (6, 7), 0, 0, 360, 255, -1, cv2.LINE_AA)
    alpha = np.maximum(alpha, knot.astype(np.float32) / 255.0)
    base = np.array([24, 22, 22], np.float32) + rng.normal(0, 1.5, 3).astype(np.float32)
    colour = base[None, None, :] * _shade(w, h, 1.5, 0.55)[..., None]
    # folds: soft darker creases, and glossy highlights along some of them
    folds = np.zeros((h, w), np.float32)
    gloss = np.zeros((h, w), np.float32)
    for _ in range(5):
        p0 = (int(rng.uniform(8, w - 8)), int(rng.uniform(10, h - 10)))
        p1 = (p0[0] + int(rng.uniform(-14, 14)), p0[1] + int(rng.uniform(6, 16)))
        cv2.line(folds, p0, p1, 1.0, 3, cv2.LINE_AA)
        cv2.line(gloss, (p0[0] + 3, p0[1]), (p1[0] + 3, p1[1]), 1.0, 1, cv2.LINE_AA)
    folds = np.asarray(cv2.GaussianBlur(folds, (0, 0), 2.0), np.float32)
    gloss = np.asarray(cv2.GaussianBlur(gloss, (0, 0), 1.0), np.float32)
    spec = np.zeros((h, w), np.float32)
    cv2.ellipse(spec, (int(w * 0.35), int(h * 0.32)), (7, 3), -30, 0, 360, 1.0, -1, cv2.LINE_AA)
    spec = np.asarray(cv2.GaussianBlur(spec, (0, 0), 1.5), np.float32)
    colour = colour * (1 - 0.45 * folds)[..., None] + (95 * gloss + 120 * spec)[..., None]
    return _finish(f"bin-bag-{seed}", colour, alpha)


def cardboard_box(seed: int) -> Sprite:
    """A taped brown box seen from slightly above: front face, lit top face, darker side."""
    rng = np.random.default_rng(seed)
    w, h = 74, 60
    colour = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    brown = np.array([70, 125, 170], np.float32) + rng.normal(0, 4, 3).astype(np.float32)
    top_h, side_w = 14, 14
    front = np.array([[0, top_h], [w - side_w, top_h], [w - side_w, h - 1], [0, h - 1]], np.int32)
    top = np.array([[0, top_h], [side_w, 0], [w - 1, 0], [w - side_w, top_h]], np.int32)
    side = np.array([[w - side_w, top_h], [w - 1, 0], [w - 1, h - 1 - top_h], [w - side_w, h - 1]], np.int32)
    for poly, gain in ((front, 0.95), (top, 1.25), (side, 0.68)):
        face = np.zeros((h, w), np.uint8)
        cv2.fillPoly(face, [poly], 255, lineType=cv2.LINE_AA)
        f = face.astype(np.float32) / 255.0
        colour += f[..., None] * brown * gain
        alpha = np.maximum(alpha, f)
    grain = rng.normal(0, 5, (h, w)).astype(np.float32)
    colour += (cv2.GaussianBlur(grain, (0, 0), 0.8) * alpha)[..., None]
    tape = np.zeros((h, w), np.uint8)  # parcel tape across the top and down the front
    mid = (w - side_w) // 2 + side_w // 2
    cv2.line(tape, (mid - side_w // 2, top_h), (mid + side_w // 2, 0), 255, 5)
    cv2.line(tape, (mid - side_w // 2, top_h), (mid - side_w // 2, top_h + 12), 255, 5)
    t = (tape.astype(np.float32) / 255.0) * alpha
    colour = colour * (1 - 0.5 * t)[..., None] + (np.array([120, 170, 200], np.float32) * 0.5 * t[..., None])
    edges = cv2.Canny((alpha * 255).astype(np.uint8), 50, 150).astype(np.float32) / 255.0
    colour *= (1 - 0.35 * cv2.GaussianBlur(edges, (0, 0), 0.7))[..., None]
    return _finish(f"box-{seed}", colour, alpha)


def mattress(seed: int) -> Sprite:
    """A single mattress on its long edge: a light quilted slab with piping and a stain."""
    rng = np.random.default_rng(seed)
    w, h = 150, 62
    alpha = np.zeros((h, w), np.uint8)
    cv2.rectangle(alpha, (3, 3), (w - 4, h - 4), 255, -1)
    alpha_f = np.asarray(cv2.GaussianBlur(alpha.astype(np.float32) / 255.0, (0, 0), 1.6), np.float32)
    base = np.array([212, 218, 222], np.float32) + rng.normal(0, 3, 3).astype(np.float32)
    colour = base[None, None, :] * _shade(w, h, 1.05, 0.8)[..., None]
    quilt = np.zeros((h, w), np.float32)
    for x in range(14, w - 8, 18):
        for y in range(12, h - 8, 16):
            cv2.circle(quilt, (x + int(rng.integers(-1, 2)), y), 2, 1.0, -1, cv2.LINE_AA)
    cv2.rectangle(quilt, (5, 5), (w - 6, h - 6), 1.0, 1, cv2.LINE_AA)
    colour *= (1 - 0.22 * cv2.GaussianBlur(quilt, (0, 0), 1.2))[..., None]
    stain = np.zeros((h, w), np.float32)
    cv2.ellipse(stain, (int(w * 0.66), int(h * 0.55)), (16, 9), 10, 0, 360, 1.0, -1, cv2.LINE_AA)
    stain = np.asarray(cv2.GaussianBlur(stain, (0, 0), 4.0), np.float32)
    colour = colour * (1 - stain * 0.25)[..., None] + stain[..., None] * np.array([10, 40, 60], np.float32)
    return _finish(f"mattress-{seed}", colour, alpha_f)


def tyre(seed: int) -> Sprite:
    """A car tyre lying flat, seen at an angle: a dark treaded ring."""
    rng = np.random.default_rng(seed)
    w, h = 70, 36
    outer = np.zeros((h, w), np.uint8)
    inner = np.zeros((h, w), np.uint8)
    cv2.ellipse(outer, (w // 2, h // 2), (w // 2 - 2, h // 2 - 2), 0, 0, 360, 255, -1, cv2.LINE_AA)
    cv2.ellipse(inner, (w // 2, h // 2 - 2), (w // 4, h // 4), 0, 0, 360, 255, -1, cv2.LINE_AA)
    alpha = (outer.astype(np.float32) - inner.astype(np.float32)).clip(0, 255) / 255.0
    colour = np.full((h, w, 3), 30.0, np.float32) * _shade(w, h, 1.6, 0.7)[..., None]
    tread = rng.normal(0, 6, (h, w)).astype(np.float32)
    colour += tread[..., None]
    # the lit side wall ring
    wall = np.zeros((h, w), np.float32)
    cv2.ellipse(wall, (w // 2, h // 2 - 1), (w // 3, h // 3), 0, 180, 360, 1.0, 2, cv2.LINE_AA)
    colour += (cv2.GaussianBlur(wall, (0, 0), 1.0) * 35)[..., None]
    return _finish(f"tyre-{seed}", colour, alpha)


def dog(seed: int) -> Sprite:
    """A dog-sized brown shape (body, head, ears, legs, tail): what a dog walker carries."""
    rng = np.random.default_rng(seed)
    w, h = 70, 50
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (34, 25), (24, 12), 0, 0, 360, 255, -1, cv2.LINE_AA)  # body
    cv2.ellipse(mask, (60, 15), (9, 8), 0, 0, 360, 255, -1, cv2.LINE_AA)  # head
    cv2.ellipse(mask, (55, 9), (3, 6), 20, 0, 360, 255, -1, cv2.LINE_AA)  # ear
    for lx in (16, 24, 42, 50):
        cv2.line(mask, (lx, 30), (lx + int(rng.integers(-2, 3)), 47), 255, 5, cv2.LINE_AA)
    cv2.line(mask, (11, 22), (3, 12), 255, 3, cv2.LINE_AA)  # tail
    alpha = mask.astype(np.float32) / 255.0
    fur = np.array([55, 90, 135], np.float32) + rng.normal(0, 4, 3).astype(np.float32)
    colour = fur[None, None, :] * _shade(w, h, 1.25, 0.6)[..., None]
    colour += cv2.GaussianBlur(rng.normal(0, 14, (h, w)).astype(np.float32), (0, 0), 0.7)[..., None]
    return _finish(f"dog-{seed}", colour, alpha)
