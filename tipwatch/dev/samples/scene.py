"""The fixed camera view: a rural lay-by (or a back alley), sensor noise, lighting and swaying leaves.

The backdrop is drawn once per clip from a seeded RNG; each frame then only warps the hedge band
(wind), composites the actors, applies the lighting gain and adds a pre-drawn noise frame, which
keeps a 960x540 frame to a few milliseconds.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]

WIDTH, HEIGHT = 960, 540
FPS = 10

# Ground geometry (rows of the 960x540 frame): far edge of the lay-by where the verge starts,
# the edge line between lay-by and carriageway.  Perspective: an object standing at row y is
# ``perspective(y)`` times its size at row 450 (the lay-by's middle).
SKY_BOTTOM = 105
HEDGE_BOTTOM = 232
VERGE_BOTTOM = 300
EDGE_LINE = 478

Backdrop = Literal["layby", "alley"]


def perspective(y_ground: float) -> float:
    return 1.0 + (y_ground - 450.0) * 0.00147


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale: float) -> F32:
    """Value noise: a coarse random grid blown up with cubic interpolation (0-mean, ~unit spread)."""
    gh, gw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    grid = rng.normal(0, 1, (gh, gw)).astype(np.float32)
    return np.asarray(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), np.float32)


def _fractal(rng: np.random.Generator, h: int, w: int, scales: tuple[float, ...]) -> F32:
    out = np.zeros((h, w), np.float32)
    for i, s in enumerate(scales):
        out += _smooth_noise(rng, h, w, s) / (1.6**i)
    return out


def _sky(rng: np.random.Generator, h: int, w: int) -> F32:
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    top = np.array([205, 160, 120], np.float32)  # BGR: a soft blue
    low = np.array([228, 214, 200], np.float32)  # hazy near the horizon
    sky = top * (1 - t) + low * t
    cloud = np.clip(_fractal(rng, h, w, (90, 40, 15)) * 0.6 + 0.1, 0, None)
    return (sky + cloud[..., None] * 22).astype(np.float32)


def _hedge(rng: np.random.Generator, h: int, w: int) -> tuple[F32, F32]:
    """Leafy hedge texture and its coverage mask (its top edge is ragged against the sky)."""
    leaf = _fractal(rng, h, w, (30, 9, 3))
    speck = rng.normal(0, 1, (h, w)).astype(np.float32)
    base = np.array([46, 88, 52], np.float32)
    shade = np.clip(1.0 + 0.28 * leaf + 0.12 * speck, 0.35, 1.7)
    dark = np.linspace(1.05, 0.7, h, dtype=np.float32)[:, None]  # the base of a hedge is in shadow
    colour = base[None, None, :] * (shade * dark)[..., None]
    edge = 18 + 10 * _smooth_noise(rng, 1, w, 25)[0] + 4 * _smooth_noise(rng, 1, w, 5)[0]
    rows = np.arange(h, dtype=np.float32)[:, None]
    cover = np.clip(rows - edge[None, :] + 1.0, 0, 1).astype(np.float32)
    return colour.astype(np.float32), cover


def _wall(rng: np.random.Generator, h: int, w: int) -> tuple[F32, F32]:
    """A brick wall for the alley: courses of slightly varied bricks with mortar joints."""
    colour = np.zeros((h, w, 3), np.float32)
    mortar = np.array([150, 160, 165], np.float32)
    colour[:] = mortar
    brick_h, brick_w = 14, 44
    for row, y in enumerate(range(0, h, brick_h)):
        offset = (row % 2) * brick_w // 2
        for x in range(-offset, w, brick_w):
            tone = np.array([52, 70, 140], np.float32) * rng.uniform(0.75, 1.15)
            cv2.rectangle(colour, (x + 2, y + 2), (x + brick_w - 2, y + brick_h - 2), tone.tolist(), -1)
    grime = _fractal(rng, h, w, (40, 8))
    colour *= np.clip(1 + 0.12 * grime, 0.6, 1.3)[..., None]
    colour *= np.linspace(0.95, 0.8, h, dtype=np.float32)[:, None, None]
    # a back gate and a drainpipe, so the wall reads as the back of a terrace
    cv2.rectangle(colour, (640, h - 150), (730, h - 1), (48, 62, 70), -1)
    cv2.rectangle(colour, (646, h - 144), (724, h - 1), (60, 78, 88), 2)
    cv2.rectangle(colour, (210, 0), (219, h - 1), (38, 40, 42), -1)
    cv2.line(colour, (213, 0), (213, h - 1), (70, 72, 75), 1)
    return colour, np.ones((h, w), np.float32)


def _grass(rng: np.random.Generator, h: int, w: int) -> F32:
    base = np.array([58, 128, 92], np.float32)
    tex = _fractal(rng, h, w, (40, 10))
    blades = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (1, 5), 0)
    shade = np.clip(1.0 + 0.18 * tex + 0.22 * blades, 0.5, 1.5)
    return (base[None, None, :] * shade[..., None]).astype(np.float32)


def _tarmac(rng: np.random.Generator, h: int, w: int) -> F32:
    base = np.array([96, 96, 100], np.float32)
    patches = _fractal(rng, h, w, (120, 35))
    grit = rng.normal(0, 1, (h, w)).astype(np.float32)
    shade = np.clip(1.0 + 0.07 * patches + 0.09 * grit, 0.6, 1.4)
    colour = base[None, None, :] * shade[..., None]
    return colour.astype(np.float32)


@dataclass(frozen=True)
class Scene:
    """The static view and what varies per frame but is not an actor (wind, noise)."""

    backdrop: Backdrop
    base: U8
    sway_rows: tuple[int, int]
    sway_weight: F32
    sway_phase: F32
    noise_pos: tuple[U8, ...]
    noise_neg: tuple[U8, ...]

    def frame(self, t: float) -> U8:
        """The empty view at time ``t`` seconds (leaves moved by the wind), as a fresh array."""
        out = self.base.copy()
        y0, y1 = self.sway_rows
        if y1 > y0:
            gust = 1.0 + 0.6 * math.sin(2 * math.pi * t / 11.0)
            dx = (np.sin(self.sway_phase + 2 * math.pi * t / 2.7) * 1.6 * gust).astype(np.float32)
            map_x = np.arange(WIDTH, dtype=np.float32)[None, :] + self.sway_weight[:, None] * dx[None, :]
            map_y = np.repeat(np.arange(y0, y1, dtype=np.float32)[:, None], WIDTH, axis=1)
            out[y0:y1] = cv2.remap(self.base, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return out

    def add_noise(self, frame: U8, index: int) -> None:
        """Sensor noise, in place: one of a bank of pre-drawn noise frames, chosen by frame index."""
        k = (index * 7) % len(self.noise_pos)
        cv2.add(frame, self.noise_pos[k], dst=frame)
        cv2.subtract(frame, self.noise_neg[k], dst=frame)


def build_scene(backdrop: Backdrop = "layby", seed: int = 2026, noise_sigma: float = 2.2) -> Scene:
    """Draw the backdrop: sky, hedge (or brick wall), grass verge, kerb, lay-by and carriageway."""
    rng = np.random.default_rng(seed)
    img = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    img[:HEDGE_BOTTOM] = _sky(rng, HEDGE_BOTTOM, WIDTH)
    # the hedge's ragged top reaches up into the sky; an alley's wall fills the view above the footway
    y0 = SKY_BOTTOM - 25 if backdrop == "layby" else 0
    band_h = HEDGE_BOTTOM - y0
    if backdrop == "layby":
        hedge, cover = _hedge(rng, band_h, WIDTH)
    else:
        hedge, cover = _wall(rng, band_h, WIDTH)
    img[y0:HEDGE_BOTTOM] = img[y0:HEDGE_BOTTOM] * (1 - cover[..., None]) + hedge * cover[..., None]
    verge_h = VERGE_BOTTOM - HEDGE_BOTTOM
    if backdrop == "layby":
        img[HEDGE_BOTTOM:VERGE_BOTTOM] = _grass(rng, verge_h, WIDTH)
    else:
        img[HEDGE_BOTTOM:VERGE_BOTTOM] = _tarmac(rng, verge_h, WIDTH) * 0.85  # a footway at the wall
    img[VERGE_BOTTOM:] = _tarmac(rng, HEIGHT - VERGE_BOTTOM, WIDTH)
    # kerb stones along the verge edge, with their joints
    kerb = img[VERGE_BOTTOM : VERGE_BOTTOM + 7]
    kerb[:] = kerb * 0.4 + np.array([175, 178, 180], np.float32) * 0.6
    for x in range(int(rng.integers(0, 60)), WIDTH, 61):
        img[VERGE_BOTTOM : VERGE_BOTTOM + 7, x : x + 2] *= 0.6
    img[VERGE_BOTTOM + 7 : VERGE_BOTTOM + 11] *= 0.75  # the kerb's shadow on the road
    # a worn, dashed edge line between lay-by and carriageway
    wear = _smooth_noise(rng, 4, WIDTH, 6)
    for x in range(0, WIDTH if backdrop == "layby" else 0, 90):
        seg = img[EDGE_LINE : EDGE_LINE + 4, x : x + 55]
        paint = np.clip(0.75 + 0.15 * wear[:, x : x + 55], 0, 1)[..., None]
        seg[:] = seg * (1 - paint) + np.array([215, 220, 222], np.float32) * paint
    # a shallow vignette, as most CCTV lenses have
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    r2 = ((xx - WIDTH / 2) / WIDTH) ** 2 + ((yy - HEIGHT / 2) / HEIGHT) ** 2
    img *= (1.0 - 0.35 * r2)[..., None]
    img = np.asarray(cv2.GaussianBlur(img, (0, 0), 0.6), np.float32)  # lens softness
    base = np.clip(img, 0, 255).astype(np.uint8)

    sway_rows = (y0, HEDGE_BOTTOM - 10) if backdrop == "layby" else (0, 0)
    rows = max(sway_rows[1] - sway_rows[0], 1)
    sway_weight = np.linspace(1.0, 0.15, rows, dtype=np.float32) ** 1.5
    sway_phase = (np.arange(WIDTH, dtype=np.float32) / 37.0 + _smooth_noise(rng, 1, WIDTH, 60)[0]).astype(
        np.float32
    )
    pos, neg = [], []
    for _ in range(10):
        n = rng.normal(0, noise_sigma, (HEIGHT, WIDTH, 3)).astype(np.float32)
        pos.append(np.clip(n, 0, 255).astype(np.uint8))
        neg.append(np.clip(-n, 0, 255).astype(np.uint8))
    return Scene(backdrop, base, sway_rows, sway_weight, sway_phase, tuple(pos), tuple(neg))


def cloud_gain(t: float, start_s: float, end_s: float, depth: float = 0.4) -> F32 | None:
    """A soft cloud shadow sweeping left to right between ``start_s`` and ``end_s``: a per-pixel gain.

    Returns None when the shadow is off screen.
    """
    if not start_s <= t <= end_s:
        return None
    u = (t - start_s) / (end_s - start_s)
    cx = -500 + u * (WIDTH + 1000)
    gh, gw = HEIGHT // 10, WIDTH // 10
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32) * 10
    # an irregular oval shadow, skewed as a cloud's would be on sloping ground
    d2 = ((xx - cx - 0.3 * (yy - 270)) / 330.0) ** 2 + ((yy - 300) / 420.0) ** 2
    gain = 1.0 - depth * np.exp(-d2 * 1.6)
    return cv2.resize(gain.astype(np.float32), (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
