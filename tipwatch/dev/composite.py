"""Paste a deposit into real footage from a given frame onward (tests and benchmarks).

Real CCTV with a known "something was left here at frame N" is the honest check that the scene
model finds deposits on real texture, noise and lighting, not only on rendered samples.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import cv2
import numpy as np
import numpy.typing as npt

from detector.types import Frame

logger = logging.getLogger(__name__)

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
# Bottom-left lawn of vtest.avi: nobody walks there during the clip, so a deposit can persist.
VTEST_QUIET_SPOT = (40, 400)


def bin_bag(
    height: int = 44, width: int = 56, seed: int = 3
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """A black bin-bag-like blob (dark, slightly glossy, noisy) and its soft-edged alpha mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.full((height, width, 3), 22.0, np.float32) + rng.normal(0, 4, (height, width, 1)).astype(
        np.float32
    )
    highlight = 18.0 * np.exp(-((xx - width * 0.35) ** 2 + (yy - height * 0.3) ** 2) / 60.0)
    img += highlight[..., None]
    alpha = (((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2 <= 1).astype(
        np.float32
    )
    alpha = cv2.GaussianBlur(alpha, (5, 5), 0)
    return img, alpha


def photo_cutout(
    width: int = 64, height: int = 32
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """A board-sized cut-out of a real photo (the side panel of the bus in ultralytics' bus.jpg),
    with a soft-cornered alpha mask: real texture and colour, not a rendered blob."""
    from tipwatch.dev.samples.sprites import assets_dir

    path = assets_dir() / "bus.jpg"  # found without importing the model library
    photo = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if photo is None:
        raise FileNotFoundError(f"cannot read {path}")
    panel = cv2.resize(photo[520:640, 380:620], (width, height), interpolation=cv2.INTER_AREA)
    alpha = np.zeros((height, width), np.float32)
    cv2.rectangle(alpha, (2, 2), (width - 3, height - 3), 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (5, 5), 0).astype(np.float32)
    return panel.astype(np.float32), alpha


def paste(
    image: npt.NDArray[np.uint8],
    patch: npt.NDArray[np.float32],
    alpha: npt.NDArray[np.float32],
    x: int,
    y: int,
) -> npt.NDArray[np.uint8]:
    out = image.copy()
    h, w = alpha.shape
    h, w = min(h, out.shape[0] - y), min(w, out.shape[1] - x)
    roi = out[y : y + h, x : x + w].astype(np.float32)
    a = alpha[:h, :w, None]
    out[y : y + h, x : x + w] = (roi * (1 - a) + patch[:h, :w] * a).clip(0, 255).astype(np.uint8)
    return out


def with_deposit(
    frames: Iterable[Frame],
    from_index: int,
    at: tuple[int, int] = VTEST_QUIET_SPOT,
    scale: float = 1.0,
    kind: str = "bag",
) -> Iterator[Frame]:
    """``frames`` with a deposit composited at ``at`` (pixels of the original size, scaled with
    ``scale`` for resized footage) from frame ``from_index`` to the end; ``kind`` is ``bag`` (a
    black bin bag) or ``photo`` (a cut-out of a real photo)."""
    if kind == "photo":
        patch, alpha = photo_cutout(round(64 * scale), round(32 * scale))
    elif kind == "bag":
        patch, alpha = bin_bag(round(44 * scale), round(56 * scale))
    else:
        raise ValueError(f"deposit kind must be 'bag' or 'photo', got {kind!r}")
    x, y = round(at[0] * scale), round(at[1] * scale)
    for frame in frames:
        if frame.index >= from_index:
            frame = Frame(
                paste(frame.image, patch, alpha, x, y),
                frame.camera_id,
                frame.index,
                frame.captured_at,
                frame.clock_source,
                frame.video_time_s,
            )
        yield frame
