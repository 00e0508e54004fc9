"""Real background footage for the evaluation set, and how big things look in it.

The footage is Debian's ``opencv-doc`` package (``/usr/share/doc/opencv-doc/examples/data``):

- ``vtest.avi``: 768×576, 10 fps, 795 frames (79.5 s) of a real campus street filmed from a first
  floor: pedestrians on grass, path and road, two vehicles parked top right for the whole clip,
  litter already lying on the grass.  Clips longer than the file play it forward then backward
  (a "ping-pong" loop), so the static scene never jumps while the people keep walking.
- ``tree.avi``: 320×240, 15 fps, a real tree swaying in the wind; its leaves are keyed out by
  colour and laid over the street as foreground foliage (the "swaying foliage" condition).

Nothing is downloaded: a missing file raises :class:`FootageError` naming the Debian package.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
VTEST = OPENCV_DATA / "vtest.avi"
TREE = OPENCV_DATA / "tree.avi"
VTEST_FPS = 10.0
VTEST_SIZE = (768, 576)  # width, height


class FootageError(RuntimeError):
    """Real footage the evaluation set is built from is missing or unreadable."""


def _read_all(path: Path) -> list[U8]:
    if not path.is_file():
        raise FootageError(
            f"{path} is missing: install Debian's opencv-doc package (apt-get install opencv-doc)"
        )
    cap = cv2.VideoCapture(str(path))
    frames: list[U8] = []
    try:
        while True:
            ok, image = cap.read()
            if not ok or image is None:
                break
            frames.append(np.asarray(image, np.uint8))
    finally:
        cap.release()
    if not frames:
        raise FootageError(f"{path}: no frame could be decoded")
    return frames


@functools.cache
def vtest_frames() -> tuple[U8, ...]:
    """Every frame of vtest.avi (795 × 768×576 BGR, ~1 GB held while a set is built)."""
    return tuple(_read_all(VTEST))


def street_frame(index: int) -> U8:
    """Frame ``index`` of the street footage at 10 fps, looping forward then backward."""
    frames = vtest_frames()
    period = 2 * (len(frames) - 1)
    k = index % period
    return frames[k if k < len(frames) else period - k]


@functools.cache
def _tree() -> tuple[tuple[U8, F32], ...]:
    """tree.avi frames with a leaf mask (green, textured, not sky): (BGR, alpha 0..1)."""
    out = []
    for image in _read_all(TREE):
        hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
        hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
        green = ((hue > 25) & (hue < 95) & (sat > 45) & (val > 40) & (val < 235)).astype(np.float32)
        leaves = cv2.morphologyEx(green, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        alpha = np.asarray(cv2.GaussianBlur(leaves, (0, 0), 1.2), np.float32)
        out.append((np.asarray(image, np.uint8), alpha))
    return tuple(out)


def foliage(t: float, size: tuple[int, int]) -> tuple[U8, F32]:
    """The swaying tree at video time ``t`` (15 fps source, ping-pong), resized to ``size`` (w, h)."""
    frames = _tree()
    period = 2 * (len(frames) - 1)
    k = round(t * 15.0) % period
    image, alpha = frames[k if k < len(frames) else period - k]
    w, h = size
    return (
        np.asarray(cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR), np.uint8),
        np.asarray(cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR), np.float32),
    )


def person_height(y_ground: float) -> float:
    """Height in pixels of a 1.75 m person whose feet are on row ``y_ground`` of vtest.

    Fitted by hand to the pedestrians in the footage: ~55 px on the far path (row 200), ~85 px
    at the near edge of the road (row 285), ~110 px on the near road (row 410).
    """
    return max(12.0, 0.21 * y_ground + 25.0)


def size_at(y_ground: float, metres: float) -> float:
    """Pixel height of something ``metres`` tall standing on row ``y_ground``."""
    return person_height(y_ground) * metres / 1.75


# Fixed things in the street that can stand in front of a deposit: (x1, y1, x2, y2) in vtest pixels.
LAMP_POST = (425, 30, 439, 392)
SIGN_POST = (424, 202, 444, 244)
