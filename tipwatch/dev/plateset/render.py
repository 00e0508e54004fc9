"""One vehicle of the plate test set: its mark, its conditions and its views (frames).

A vehicle is drawn from the set's seed and its index alone (``numpy.random.default_rng([seed,
index])``), so any subset renders the same pixels as the whole set.  Its conditions hold for all of
its views: the plate's size in pixels (frontal height, 20–60 px), how far the plate faces away from
the camera (0–30°, in a random direction, plus a roll of up to 5°), the blur band, yellow (rear)
or white (front) plate, one line or two (square car or motorcycle plate), day or night (night:
the scene at a fifth to a third of its light, the retroreflective plate brighter than the scene,
sensor noise; half of the night views infrared, in grey), the national identifier band, and the
photograph.  Each view (a frame of the vehicle's track) varies what changes between frames: the
plate's size by up to 8 %, its angle by up to 3°, where it sits, the vehicle box the detector
gives, the amount of blur within the band, the noise, and the JPEG quality (40–90).

A view is the camera's frame cropped to the vehicle and its surroundings (the reader only looks
inside the vehicle box), the vehicle box in that frame, and the plate's four corners.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from detector.jpeg import decode_jpeg, encode_jpeg
from tipwatch.dev.plateset.marks import Mark, draw_format, draw_mark
from tipwatch.dev.plateset.photos import PHOTOS, load_photo
from tipwatch.dev.plateset.typeface import LAYOUTS, draw_plate

U8 = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]

HEIGHT_RANGE_PX = (20.0, 60.0)
MAX_ANGLE_DEG = 30.0
MAX_ROLL_DEG = 5.0
JPEG_QUALITY_RANGE = (40, 90)
#: blur bands: a Gaussian sigma (defocus) or a motion streak length, in pixels of the frame
BLUR_SIGMA = {"none": (0.0, 0.0), "soft": (0.6, 1.2), "heavy": (1.2, 2.0)}
BLUR_STREAK = {"none": (0.0, 0.0), "soft": (2.0, 4.0), "heavy": (4.0, 7.0)}
CAMERA_DISTANCE_MM = 6000.0  # sets the perspective of a tilted plate (a camera ~6 m away)
SURROUND = 0.15  # the frame extends this fraction of the vehicle box beyond it on each side
VIEWS_PER_VEHICLE = 5


@dataclass(frozen=True, slots=True)
class PlateConditions:
    """What holds for every view of one vehicle (see the module docstring)."""

    height_px: float
    angle_deg: float
    tilt_direction_deg: float
    roll_deg: float
    blur: str  # "none", "soft", "heavy"
    blur_kind: str  # "defocus", "motion"
    colour: str  # "yellow" (rear), "white" (front)
    layout: str  # "one_line", "square", "motorcycle"
    night: bool
    uk_band: bool
    photo: str

    @property
    def lines(self) -> int:
        return LAYOUTS[self.layout].lines


@dataclass(frozen=True, slots=True)
class PlateView:
    """One frame of a vehicle: the image (BGR uint8, decoded from ``jpeg``), the vehicle box (xyxy) the reader
    is given, the plate's corners (shape (4, 2), frame pixels, clockwise from top-left) and the
    view's own settings."""

    image: U8 = field(repr=False)
    jpeg: bytes = field(repr=False)
    vehicle_box: Box
    plate_corners: tuple[tuple[float, float], ...]
    jpeg_quality: int
    blur_amount: float
    infrared: bool

    def truth(self) -> dict[str, Any]:
        return {
            "vehicle_box": [round(v, 1) for v in self.vehicle_box],
            "plate_corners": [[round(x, 1), round(y, 1)] for x, y in self.plate_corners],
            "jpeg_quality": self.jpeg_quality,
            "blur_amount": round(self.blur_amount, 2),
            "infrared": self.infrared,
        }


@dataclass(frozen=True, slots=True)
class PlateVehicle:
    """One vehicle of the set: its index, mark and conditions, and the seed its views render from."""

    index: int
    seed: int
    mark: Mark
    conditions: PlateConditions

    def truth(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "text": self.mark.text,
            "display": self.mark.display,
            "format": self.mark.format,
            "conditions": asdict(self.conditions),
        }


def draw_vehicle(seed: int, index: int) -> PlateVehicle:
    """The mark and conditions of vehicle ``index`` of the set seeded ``seed``."""
    rng = np.random.default_rng([seed, index, 0])
    mark = draw_mark(rng, draw_format(rng))
    two_line = rng.random() < 0.25
    conditions = PlateConditions(
        height_px=round(float(rng.uniform(*HEIGHT_RANGE_PX)), 1),
        angle_deg=round(float(rng.uniform(0.0, MAX_ANGLE_DEG)), 1),
        tilt_direction_deg=round(float(rng.uniform(0.0, 360.0)), 1),
        roll_deg=round(float(rng.uniform(-MAX_ROLL_DEG, MAX_ROLL_DEG)), 1),
        blur=str(rng.choice(["none", "soft", "heavy"], p=[0.4, 0.35, 0.25])),
        blur_kind=str(rng.choice(["defocus", "motion"])),
        colour=str(rng.choice(["yellow", "white"])),
        layout=str(rng.choice(["square", "motorcycle"])) if two_line else "one_line",
        night=bool(rng.random() < 0.25),
        uk_band=bool(not two_line and rng.random() < 0.25),
        photo=str(rng.choice(sorted(PHOTOS))),
    )
    return PlateVehicle(index, seed, mark, conditions)


def _rotation(yaw: float, pitch: float, roll: float) -> npt.NDArray[np.float64]:
    cy, sy, cp, sp, cr, sr = (f(math.radians(a)) for a in (yaw, pitch, roll) for f in (math.cos, math.sin))
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def plate_quad(
    width_mm: float, height_mm: float, px_per_mm: float, yaw: float, pitch: float, roll: float
) -> npt.NDArray[np.float64]:
    """The plate's corners (shape (4, 2), pixels about its centre) seen by a pinhole camera
    ``CAMERA_DISTANCE_MM`` away whose focal length gives ``px_per_mm`` at that distance."""
    w, h = width_mm / 2, height_mm / 2
    corners = np.array([[-w, -h, 0], [w, -h, 0], [w, h, 0], [-w, h, 0]], np.float64)
    cam = corners @ _rotation(yaw, pitch, roll).T + np.array([0, 0, CAMERA_DISTANCE_MM])
    focal = px_per_mm * CAMERA_DISTANCE_MM
    return focal * cam[:, :2] / cam[:, 2:3]


def _composite(frame: npt.NDArray[np.float32], plate: U8, quad: npt.NDArray[np.float64]) -> None:
    """Warp ``plate`` onto ``frame`` (in place) with its corners at ``quad``, supersampled 2x."""
    x1, y1 = np.floor(quad.min(axis=0)).astype(int) - 2
    x2, y2 = np.ceil(quad.max(axis=0)).astype(int) + 2
    x1, y1 = max(x1, 0), max(y1, 0)
    x2, y2 = min(x2, frame.shape[1]), min(y2, frame.shape[0])
    if x2 <= x1 or y2 <= y1:
        return
    target_h = 2.0 * float(np.ptp(quad[:, 1]))
    if plate.shape[0] > 2 * target_h:  # shrink with area averaging first: the warp alone would alias
        k = 2 * target_h / plate.shape[0]
        plate = np.asarray(cv2.resize(plate, None, fx=k, fy=k, interpolation=cv2.INTER_AREA), np.uint8)
    ph, pw = plate.shape[:2]
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    dst = ((quad - [x1, y1]) * 2).astype(np.float32)
    size = (2 * (x2 - x1), 2 * (y2 - y1))
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(plate.astype(np.float32), m, size, flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(np.ones((ph, pw), np.float32), m, size, flags=cv2.INTER_LINEAR)
    warped = cv2.resize(warped, (x2 - x1, y2 - y1), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, (x2 - x1, y2 - y1), interpolation=cv2.INTER_AREA)[..., None]
    patch = frame[y1:y2, x1:x2]
    patch[:] = patch * (1 - alpha) + warped * alpha


def _blur(image: npt.NDArray[np.float32], kind: str, amount: float, angle: float) -> npt.NDArray[np.float32]:
    if amount <= 0:
        return image
    if kind == "defocus":
        return np.asarray(cv2.GaussianBlur(image, (0, 0), amount), np.float32)
    n = max(3, math.ceil(amount) | 1)
    line = np.zeros((n, n), np.float32)
    line[n // 2, :] = 1.0
    turn = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), angle, 1.0)
    streak = np.asarray(cv2.warpAffine(line, turn, (n, n)), np.float32)
    streak /= max(float(streak.sum()), 1e-6)
    return np.asarray(cv2.filter2D(image, -1, streak), np.float32)


def render_views(vehicle: PlateVehicle, count: int = VIEWS_PER_VEHICLE) -> list[PlateView]:
    """The vehicle's first ``count`` views (each from its own seed: view k is the same whatever
    ``count`` is)."""
    c = vehicle.conditions
    layout = LAYOUTS[c.layout]
    plate = draw_plate(vehicle.mark.groups, c.layout, c.colour, uk_band=c.uk_band)
    photo = PHOTOS[c.photo]
    source = load_photo(c.photo)
    place = np.random.default_rng([vehicle.seed, vehicle.index, 1])
    centre = (
        float(place.uniform(photo.plate_centres[0], photo.plate_centres[2])),
        float(place.uniform(photo.plate_centres[1], photo.plate_centres[3])),
    )
    night_gain = float(place.uniform(0.2, 0.35))
    plate_gain = float(place.uniform(0.45, 0.75))  # retroreflective: lit by headlights or infrared
    return [
        _render_view(vehicle, k, plate, layout.width, layout.height, source, centre, night_gain, plate_gain)
        for k in range(count)
    ]


def _render_view(
    vehicle: PlateVehicle,
    k: int,
    plate: U8,
    width_mm: float,
    height_mm: float,
    source: U8,
    centre: tuple[float, float],
    night_gain: float,
    plate_gain: float,
) -> PlateView:
    c = vehicle.conditions
    photo = PHOTOS[c.photo]
    rng = np.random.default_rng([vehicle.seed, vehicle.index, 2, k])
    height_px = c.height_px * float(rng.uniform(0.92, 1.08))
    angle = c.angle_deg + float(rng.uniform(-3.0, 3.0))
    direction = math.radians(c.tilt_direction_deg)
    px_per_mm = height_px / height_mm
    # The photograph scaled so its vehicle is as wide as a real one would be beside this plate, and
    # cropped to the vehicle and its surroundings.
    bx1, by1, bx2, by2 = photo.vehicle_box
    scale = photo.vehicle_width_mm * px_per_mm / (bx2 - bx1)
    mx, my = SURROUND * (bx2 - bx1), SURROUND * (by2 - by1)
    cx1, cy1 = max(0.0, bx1 - mx), max(0.0, by1 - my)
    cx2, cy2 = min(float(source.shape[1]), bx2 + mx), min(float(source.shape[0]), by2 + my)
    crop = source[int(cy1) : int(cy2), int(cx1) : int(cx2)]
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    frame = cv2.resize(crop, size, interpolation=interpolation).astype(np.float32)
    jitter = rng.normal(0.0, 0.02, 4) * (bx2 - bx1)  # the detector's box is never exact
    x1, y1, x2, y2 = (
        float(np.clip((v - o + j) * scale, 0, lim))
        for v, o, j, lim in zip(
            (bx1, by1, bx2, by2), (cx1, cy1, cx1, cy1), jitter, (*size, *size), strict=True
        )
    )
    box = (x1, y1, x2, y2)
    quad = plate_quad(
        width_mm,
        height_mm,
        px_per_mm,
        yaw=angle * math.cos(direction),
        pitch=angle * math.sin(direction),
        roll=c.roll_deg + float(rng.uniform(-1.0, 1.0)),
    )
    shift = rng.normal(0.0, 0.01, 2) * (bx2 - bx1)
    quad = quad + np.array([(centre[0] + shift[0] - cx1) * scale, (centre[1] + shift[1] - cy1) * scale])
    lit = plate.astype(np.float32)
    if c.night:
        frame = frame * night_gain * np.asarray([1.1, 1.0, 0.9], np.float32)  # sodium/LED cast gone blue
        lit = lit * plate_gain + 8.0  # the ink never quite black under headlights
    _composite(frame, np.asarray(np.clip(lit, 0, 255), np.uint8), quad)
    lo, hi = (BLUR_SIGMA if c.blur_kind == "defocus" else BLUR_STREAK)[c.blur]
    amount = float(rng.uniform(lo, hi))
    frame = _blur(frame, c.blur_kind, amount, float(rng.uniform(-20.0, 20.0)))
    infrared = c.night and bool(rng.random() < 0.5)
    if infrared:
        grey = cv2.cvtColor(np.clip(frame, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(np.float32)
        frame = np.repeat(grey[..., None], 3, axis=2)
    sigma = float(rng.uniform(5.0, 9.0) if c.night else rng.uniform(1.0, 3.0))
    frame = frame + rng.normal(0.0, sigma, frame.shape).astype(np.float32)
    quality = int(rng.integers(JPEG_QUALITY_RANGE[0], JPEG_QUALITY_RANGE[1] + 1))
    data = encode_jpeg(np.asarray(np.clip(frame, 0, 255), np.uint8), quality)
    corners = tuple((float(x), float(y)) for x, y in quad)
    return PlateView(decode_jpeg(data), data, box, corners, quality, amount, infrared)
