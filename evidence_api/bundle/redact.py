"""Working copies of a still: cropped to the vehicle and plate, and people blurred for disclosure.

Working copies are derived, clearly labelled files; the master is never touched.  People are found
with OpenCV's Haar face cascade when the installed ``cv2`` ships one, and always with the person finder
the caller injects (a :data:`PersonFinderFactory`; the product passes the edge box's offline SSD
detector, :func:`tipwatch.person_finder.ssd_person_finder`), so a bystander seen from behind is blurred
too.  The blur is irreversible: each region is pixelated to a coarse grid, then smoothed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from evidence_api.bundle.spec import VehicleBox

logger = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]
JPEG_QUALITY = 90


class RedactionError(ValueError):
    """A still cannot be turned into a working copy (unreadable bytes, box outside the frame)."""


class PersonFinder(Protocol):
    """Finds the people in a BGR still (``np.ndarray`` of shape (H, W, 3), uint8): ``(x1, y1, x2, y2)``
    pixel boxes, which may reach past the frame."""

    def __call__(self, image: Image) -> list[Box]: ...


# Makes a person finder for one export (loading a model is slow: once per export, not per still).
PersonFinderFactory = Callable[[], PersonFinder]


def decode_jpeg(data: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise RedactionError("the still cannot be decoded as an image")
    return np.asarray(image, dtype=np.uint8)


def encode_jpeg(image: Image, quality: int = JPEG_QUALITY) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RedactionError("OpenCV could not encode the working copy as JPEG")
    return bytes(buf)


def crop_to_vehicle(image: Image, box: VehicleBox, margin: float = 0.15) -> Image:
    """The vehicle (and its plate, when located) with a margin around them, clipped to the frame."""
    h, w = image.shape[:2]
    boxes = [box.vehicle_xyxy] + ([box.plate_xyxy] if box.plate_xyxy else [])
    x1 = min(b[0] for b in boxes)
    y1 = min(b[1] for b in boxes)
    x2 = max(b[2] for b in boxes)
    y2 = max(b[3] for b in boxes)
    mx, my = int((x2 - x1) * margin), int((y2 - y1) * margin)
    x1, y1, x2, y2 = max(0, x1 - mx), max(0, y1 - my), min(w, x2 + mx), min(h, y2 + my)
    if x2 - x1 < 2 or y2 - y1 < 2:
        raise RedactionError(f"vehicle box {box.vehicle_xyxy} lies outside the {w}x{h} still")
    return np.ascontiguousarray(image[y1:y2, x1:x2])


def blur_regions(image: Image, boxes: list[Box]) -> Image:
    """Pixelate then smooth each box (clipped to the frame); returns a new image."""
    out = image.copy()
    h, w = out.shape[:2]
    for x1, y1, x2, y2 in boxes:
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        region = out[y1:y2, x1:x2]
        rh, rw = region.shape[:2]
        cells = max(1, min(rw, rh) // 12)
        small = cv2.resize(region, (max(1, rw // cells), max(1, rh // cells)), interpolation=cv2.INTER_AREA)
        coarse = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_NEAREST)
        k = max(3, (min(rw, rh) // 4) | 1)
        out[y1:y2, x1:x2] = cv2.GaussianBlur(coarse, (k, k), 0)
    return out


@cache
def _face_cascade() -> Any | None:
    # OpenCV 5 builds drop the objdetect Haar classes and data files; the person finder then suffices.
    data = getattr(cv2, "data", None)
    folder = getattr(data, "haarcascades", None)
    classifier = getattr(cv2, "CascadeClassifier", None)
    if not folder or classifier is None:
        return None
    path = Path(folder) / "haarcascade_frontalface_default.xml"
    if not path.is_file():
        logger.info("no Haar face cascade in this cv2 build; blurring the person finder's boxes only")
        return None
    cascade = classifier(str(path))
    return None if cascade.empty() else cascade


def find_faces(image: Image) -> list[Box]:
    cascade = _face_cascade()
    if cascade is None:
        return []
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
    return [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h in np.asarray(found).reshape(-1, 4)]


def blur_people(image: Image, person_finder: PersonFinder) -> tuple[Image, int]:
    """Blur every face and person found; returns the copy and how many regions were blurred."""
    boxes = find_faces(image) + person_finder(image)
    return blur_regions(image, boxes), len(boxes)
