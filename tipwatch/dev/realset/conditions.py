"""What happens to the picture: lighting, the camera being moved, weather, foliage, stream faults.

Each effect is a small frozen dataclass with ``apply(image, t, index) -> image`` (BGR uint8 in and
out; ``t`` seconds, ``index`` the output frame number) and a ``tag`` naming its condition for the
per-condition report.  Every random draw is seeded from the effect's seed and the frame index, so
a clip renders the same pixels every time.

Stream faults that change *which* frames exist (dropped, frozen) are not image effects: the
scene's :class:`StreamFaults` tells the writer which frames to skip or repeat.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from tipwatch.dev.realset.footage import foliage

logger = logging.getLogger(__name__)

U8 = npt.NDArray[np.uint8]


class Effect(Protocol):
    tag: str

    def apply(self, image: U8, t: float, index: int) -> U8: ...


def _rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, index])


def _scale(image: U8, gains: tuple[float, float, float]) -> U8:
    out = image.astype(np.float32) * np.asarray(gains, np.float32)[None, None, :]
    return np.asarray(np.clip(out, 0, 255), np.uint8)


@dataclass(frozen=True)
class Gain:
    """Brightness going from ``start_gain`` to ``end_gain`` between ``t0`` and ``t1`` (a step when
    ``t0 == t1``): dusk, a cloud bank, or the camera's auto-exposure jumping."""

    t0: float
    t1: float
    start_gain: float
    end_gain: float
    tag: str = "lighting"

    def gain(self, t: float) -> float:
        if t <= self.t0:
            return self.start_gain
        if t >= self.t1:
            return self.end_gain
        u = (t - self.t0) / (self.t1 - self.t0)
        return self.start_gain + (self.end_gain - self.start_gain) * u

    def apply(self, image: U8, t: float, index: int) -> U8:
        g = self.gain(t)
        return image if g == 1.0 else _scale(image, (g, g, g))


@dataclass(frozen=True)
class ExposureStep:
    """At ``t0`` the camera's exposure and black level change at once: every level ``v`` becomes
    ``gain * v + offset`` (clipped), which squeezes pale surfaces against white."""

    t0: float
    gain: float
    offset: float
    tag: str = "sudden_gain"

    def apply(self, image: U8, t: float, index: int) -> U8:
        if t < self.t0:
            return image
        out = image.astype(np.float32) * self.gain + self.offset
        return np.asarray(np.clip(out, 0, 255), np.uint8)


@dataclass(frozen=True)
class ColourTemperature:
    """White balance jumps at ``t0``: warmer (more red, less blue) when ``warmth`` > 0."""

    t0: float
    warmth: float = 0.15
    tag: str = "colour_temperature"

    def apply(self, image: U8, t: float, index: int) -> U8:
        if t < self.t0:
            return image
        return _scale(image, (1.0 - self.warmth, 1.0, 1.0 + self.warmth))


@dataclass(frozen=True)
class InfraredSwitch:
    """The camera's day/night switch at ``t0``: the IR-cut filter lifts, colour goes, the picture is
    grey, brighter in the middle (the IR lamp) and noisier."""

    t0: float
    seed: int = 7
    tag: str = "ir_switch"

    def apply(self, image: U8, t: float, index: int) -> U8:
        if t < self.t0:
            return image
        h, w = image.shape[:2]
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        lamp = 0.75 + 0.55 * np.exp(-(((xx - w / 2) / (0.6 * w)) ** 2 + ((yy - h / 2) / (0.6 * h)) ** 2))
        noise = _rng(self.seed, index).normal(0.0, 5.0, (h, w)).astype(np.float32)
        out = np.clip(grey * lamp * 0.9 + 20.0 + noise, 0, 255).astype(np.uint8)
        return np.asarray(cv2.cvtColor(out, cv2.COLOR_GRAY2BGR), np.uint8)


CAMERA_MARGIN = 12  # px the moved-camera clips crop from each side, so a move shows real scenery


def _camera_view(image: U8, dx: float, dy: float, degrees: float, m: int = CAMERA_MARGIN) -> U8:
    """What a camera sees whose view is the footage minus :data:`CAMERA_MARGIN` on each side, moved
    by (dx, dy) pixels and turned by ``degrees``: new scenery comes in at the edges, nothing is
    smeared or invented."""
    h, w = image.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    rot[0, 2] += -m - dx
    rot[1, 2] += -m - dy
    return np.asarray(
        cv2.warpAffine(
            image, rot, (w - 2 * m, h - 2 * m), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        ),
        np.uint8,
    )


@dataclass(frozen=True)
class Nudge:
    """The camera is knocked at ``t0`` and stays moved: its view shifts by (dx, dy) pixels and turns
    by ``degrees`` (wind on the pole, a ladder against it).  The clip shows a view cropped
    :data:`CAMERA_MARGIN` px inside the footage throughout, so the move brings in real scenery."""

    t0: float
    dx: float = 6.0
    dy: float = 0.0
    degrees: float = 0.0
    tag: str = "camera_nudge"
    margin: int = CAMERA_MARGIN

    def apply(self, image: U8, t: float, index: int) -> U8:
        if t < self.t0:
            return _camera_view(image, 0.0, 0.0, 0.0, self.margin)
        return _camera_view(image, self.dx, self.dy, self.degrees, self.margin)


@dataclass(frozen=True)
class Shake:
    """The pole shakes between ``t0`` and ``t1``: a random jitter of up to ``amplitude`` pixels
    every frame, then the camera settles back where it was (cropped view as for :class:`Nudge`)."""

    t0: float
    t1: float
    amplitude: float = 3.0
    seed: int = 11
    tag: str = "camera_shake"
    margin: int = CAMERA_MARGIN

    def apply(self, image: U8, t: float, index: int) -> U8:
        if not self.t0 <= t < self.t1:
            return _camera_view(image, 0.0, 0.0, 0.0, self.margin)
        dx, dy = _rng(self.seed, index).uniform(-self.amplitude, self.amplitude, 2)
        return _camera_view(image, float(dx), float(dy), 0.0, self.margin)


@dataclass(frozen=True)
class Rain:
    """Falling rain: short bright slanted streaks, a fresh draw every frame."""

    drops: int = 350
    seed: int = 3
    tag: str = "rain"

    def apply(self, image: U8, t: float, index: int) -> U8:
        rng = _rng(self.seed, index)
        h, w = image.shape[:2]
        layer = np.zeros((h, w), np.uint8)
        xs = rng.integers(0, w, self.drops)
        ys = rng.integers(0, h, self.drops)
        lengths = rng.integers(8, 22, self.drops)
        for x, y, n in zip(xs, ys, lengths, strict=True):
            cv2.line(layer, (int(x), int(y)), (int(x - n * 0.25), int(y + n)), 255, 1, cv2.LINE_AA)
        a = (cv2.GaussianBlur(layer, (3, 3), 0).astype(np.float32) / 255.0 * 0.35)[..., None]
        out = image.astype(np.float32) * (1 - a) + 200.0 * a
        return np.asarray(out, np.uint8)


@dataclass(frozen=True)
class Snow:
    """Falling snow: soft white flakes of a few pixels drifting down, some near the lens (large)."""

    flakes: int = 260
    seed: int = 5
    tag: str = "snow"

    def apply(self, image: U8, t: float, index: int) -> U8:
        rng = np.random.default_rng(self.seed)  # the same flakes every frame, moved by time
        h, w = image.shape[:2]
        x0 = rng.uniform(0, w, self.flakes)
        y0 = rng.uniform(0, h, self.flakes)
        speed = rng.uniform(25, 70, self.flakes)
        radius = np.where(rng.uniform(0, 1, self.flakes) < 0.06, 5, rng.integers(1, 3, self.flakes))
        layer = np.zeros((h, w), np.uint8)
        for i in range(self.flakes):
            x = (x0[i] + 12.0 * math.sin(t * 1.3 + i)) % w
            y = (y0[i] + speed[i] * t) % h
            cv2.circle(layer, (int(x), int(y)), int(radius[i]), 255, -1, cv2.LINE_AA)
        a = (cv2.GaussianBlur(layer, (5, 5), 0).astype(np.float32) / 255.0 * 0.8)[..., None]
        out = image.astype(np.float32) * (1 - a) + 235.0 * a
        return np.asarray(out, np.uint8)


@dataclass(frozen=True)
class Insects:
    """Insects drawn to the IR lamp at night: dark blurred blobs crossing close to the lens."""

    count: int = 4
    seed: int = 13
    tag: str = "insects"

    def apply(self, image: U8, t: float, index: int) -> U8:
        rng = np.random.default_rng(self.seed)
        h, w = image.shape[:2]
        out = image.astype(np.float32)
        for i in range(self.count):
            cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
            rx, ry = rng.uniform(0.1, 0.3) * w, rng.uniform(0.1, 0.3) * h
            speed = rng.uniform(0.6, 1.6)
            x = cx + rx * math.sin(speed * t + i)
            y = cy + ry * math.sin(1.7 * speed * t + 2 * i)
            size = int(rng.uniform(10, 26))
            blob = np.zeros((h, w), np.float32)
            cv2.circle(blob, (int(x), int(y)), size, 1.0, -1, cv2.LINE_AA)
            blob = cv2.GaussianBlur(blob, (0, 0), size / 2.5)[..., None] * 0.8
            out = out * (1 - blob) + 25.0 * blob
        return np.asarray(np.clip(out, 0, 255), np.uint8)


@dataclass(frozen=True)
class Foliage:
    """A real tree swaying in the wind in front of part of the picture (``box`` in vtest pixels)."""

    box: tuple[int, int, int, int] = (0, 0, 300, 230)
    tag: str = "foliage"

    def apply(self, image: U8, t: float, index: int) -> U8:
        x1, y1, x2, y2 = self.box
        leaves, alpha = foliage(t, (x2 - x1, y2 - y1))
        roi = image[y1:y2, x1:x2].astype(np.float32)
        a = alpha[..., None]
        out = image.copy()
        out[y1:y2, x1:x2] = np.clip(roi * (1 - a) + leaves.astype(np.float32) * a, 0, 255).astype(np.uint8)
        return out


@dataclass(frozen=True)
class Resize:
    """From ``t0`` the camera sends another resolution (a reconnect to its sub-stream)."""

    t0: float
    width: int = 640
    height: int = 480
    tag: str = "resolution_change"

    def apply(self, image: U8, t: float, index: int) -> U8:
        if t < self.t0:
            return image
        return np.asarray(
            cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA), np.uint8
        )


@dataclass(frozen=True)
class Corrupt:
    """Decoder damage on a share of frames: a band of grey-green blocks and smeared rows, as a lost
    packet leaves in an H.264 picture."""

    share: float = 0.03
    seed: int = 17
    tag: str = "corrupt_frames"

    def apply(self, image: U8, t: float, index: int) -> U8:
        rng = _rng(self.seed, index)
        if rng.uniform() >= self.share:
            return image
        h, w = image.shape[:2]
        out = image.copy()
        y = int(rng.integers(0, h - 64))
        band = int(rng.integers(32, 96))
        out[y : y + band] = np.array([90, 140, 60], np.uint8)  # the green of missing chroma
        blocks = rng.integers(0, 255, ((band + 15) // 16, (w + 15) // 16, 3)).astype(np.uint8)
        out[y : y + band] = cv2.resize(blocks, (w, band), interpolation=cv2.INTER_NEAREST)[: min(band, h - y)]
        return out


@dataclass(frozen=True)
class StreamFaults:
    """Which frames the camera actually delivered: ``drop_share`` of frames lost (their timestamps
    are missing from the file), ``freeze`` spans where the encoder repeated one picture, and
    ``bitstream_damage``: at each of these times the next predicted (non-key) H.264 packet has
    ``damage_bytes`` bytes of its payload overwritten, as a lossy radio link or a failing card does;
    the decoder conceals what it can and the damage persists, smeared, until the next keyframe."""

    drop_share: float = 0.0
    freeze: tuple[tuple[float, float], ...] = ()
    seed: int = 23
    bitstream_damage: tuple[float, ...] = ()
    damage_bytes: int = 3

    def damage(self, payload: bytes, t: float, is_keyframe: bool, done: set[int]) -> bytes:
        """``payload`` as sent, damaged if it is the first predicted packet at or after a damage time
        not yet in ``done`` (which it then joins)."""
        if is_keyframe:
            return payload
        for k, at in enumerate(self.bitstream_damage):
            if k in done or t < at:
                continue
            done.add(k)
            rng = _rng(self.seed, 10_000 + k)
            out = bytearray(payload)
            for _ in range(self.damage_bytes):  # past the slice header, in the coded macroblocks
                out[int(rng.integers(len(out) // 4, len(out)))] = int(rng.integers(0, 256))
            return bytes(out)
        return payload

    def dropped(self, index: int) -> bool:
        return self.drop_share > 0 and bool(_rng(self.seed, index).uniform() < self.drop_share)

    def frozen_at(self, t: float) -> float | None:
        """The time whose picture is shown at ``t`` (the start of a freeze), or None."""
        for t0, t1 in self.freeze:
            if t0 <= t < t1:
                return t0
        return None

    @property
    def tags(self) -> tuple[str, ...]:
        return (
            (("dropped_frames",) if self.drop_share else ())
            + (("frozen_frames",) if self.freeze else ())
            + (("bitstream_damage",) if self.bitstream_damage else ())
        )
