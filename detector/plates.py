"""Number plates: find the plate in the lower part of a vehicle box, OCR it, check UK formats.

The text itself is read by an OCR backend (``detector.backends.ocr_rapidocr``: RapidOCR's PP-OCR
models from inside its wheel, loaded on first use, never downloaded); this module holds the plate
logic around it.  Calls are serialised with a lock so the pipeline thread and anything else can
share one reader.

Localisation has two passes: the text detector over the lower part of the vehicle (fast, and it
finds plates wherever the vehicle carries them), then, only if that finds nothing plate-like,
a colour/contrast heuristic for the yellow (rear) and white (front) UK plate rectangle, each
candidate enlarged and read on its own (it helps for small, distant plates).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from detector.types import PlateRead

logger = logging.getLogger(__name__)

Box = tuple[float, float, float, float]

# Letter/digit templates of each UK format, by priority (a read is checked against the first that fits).
# L = letter, D = digit.
_FORMATS: list[tuple[str, list[str]]] = [
    ("current", ["LLDDLLL"]),  # AB12 CDE (2001-)
    ("prefix", ["LDLLL", "LDDLLL", "LDDDLLL"]),  # A123 BCD (1983-2001)
    ("suffix", ["LLLDL", "LLLDDL", "LLLDDDL"]),  # ABC 123D (1963-1983)
    (
        "dateless",  # 1-3 letters and 1-4 digits either way round (pre-1963, cherished, NI)
        [("L" * a) + ("D" * d) for a in (1, 2, 3) for d in (1, 2, 3, 4)]
        + [("D" * d) + ("L" * a) for a in (1, 2, 3) for d in (1, 2, 3, 4)],
    ),
]
# OCR confusions, fixed by position: a digit where a letter must be, and the reverse.
_TO_LETTER = {"0": "O", "1": "I", "2": "Z", "4": "A", "5": "S", "6": "G", "7": "T", "8": "B"}
_TO_DIGIT = {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "G": "6", "B": "8"}
# The looser a format, the fewer characters may be changed to fit it (a dateless mark fits so much
# that a fixed read would mostly be noise).
_MAX_FIXES = {"current": 2, "prefix": 1, "suffix": 1, "dateless": 0}


@dataclass(frozen=True, slots=True)
class UKPlate:
    text: str  # normalised, no spaces: "AB12CDE"
    format: str | None  # "current", "prefix", "suffix", "dateless" or None when no format fits
    fixes: int  # characters changed to fit the format

    @property
    def valid(self) -> bool:
        return self.format is not None

    @property
    def display(self) -> str:
        """With the conventional space: 'AB12 CDE', 'A123 BCD', 'ABC 123D'."""
        t = self.text
        if self.format == "current":
            return f"{t[:4]} {t[4:]}"
        if self.format == "prefix":
            return f"{t[:-3]} {t[-3:]}"
        if self.format == "suffix":
            return f"{t[:3]} {t[3:]}"
        return t


def normalise(raw: str) -> str:
    """Upper case, letters and digits only."""
    return re.sub(r"[^A-Z0-9]", "", raw.upper())


def _fit(text: str, template: str) -> tuple[str, int] | None:
    out = []
    fixes = 0
    for ch, want in zip(text, template, strict=True):
        if want == "L":
            if ch.isalpha():
                out.append(ch)
            elif ch in _TO_LETTER:
                out.append(_TO_LETTER[ch])
                fixes += 1
            else:
                return None
        elif ch.isdigit():
            out.append(ch)
        elif ch in _TO_DIGIT:
            out.append(_TO_DIGIT[ch])
            fixes += 1
        else:
            return None
    return "".join(out), fixes


def check_uk_plate(raw: str) -> UKPlate:
    """Normalise an OCR read and fit it to the UK formats, fixing O/0, I/1 ... by position.

    The fit with the fewest fixes wins; ties go to the newer format.  A read must hold at least one
    letter and one digit as read, and few characters are changed (two for the current format, one
    for prefix and suffix marks, none for a dateless mark);
    otherwise it is returned normalised with ``format=None``.
    """
    text = normalise(raw)
    best: UKPlate | None = None
    if not _plate_like(text):
        return UKPlate(text, None, 0)
    for name, templates in _FORMATS:
        limit = _MAX_FIXES[name]
        for template in templates:
            if len(template) != len(text):
                continue
            fitted = _fit(text, template)
            if fitted is None or fitted[1] > limit:
                continue
            if best is None or fitted[1] < best.fixes:
                best = UKPlate(fitted[0], name, fitted[1])
    return best if best is not None else UKPlate(text, None, 0)


def _plate_like(text: str) -> bool:
    """Worth considering as a plate: 2-8 characters with at least one letter and one digit."""
    return 2 <= len(text) <= 8 and any(c.isalpha() for c in text) and any(c.isdigit() for c in text)


@dataclass(frozen=True, slots=True)
class PlateCandidate:
    box: Box  # frame pixels
    raw: str
    plate: UKPlate
    confidence: float

    @property
    def rank(self) -> tuple[int, int, float]:
        return (int(self.plate.valid), -self.plate.fixes, self.confidence)


class TextReader(Protocol):
    """An OCR backend: every line of text in an image."""

    def read_lines(self, image: npt.NDArray[np.uint8]) -> list[tuple[npt.NDArray[np.float32], str, float]]:
        """(polygon of shape (4, 2) in image pixels, text, confidence 0–1) per line found."""
        ...


class PlateReader:
    """Reads a UK number plate from a vehicle in a frame."""

    def __init__(
        self,
        *,
        min_confidence: float = 0.5,
        lower_fraction: float = 0.6,
        max_side: int = 960,
        min_side: int = 640,
        ocr: TextReader | None = None,
    ) -> None:
        self.min_confidence = min_confidence
        self.lower_fraction = lower_fraction  # the plate sits in the lower part of the vehicle box
        self.max_side = max_side
        self.min_side = min_side
        if ocr is None:
            from detector.backends.ocr_rapidocr import RapidOCRReader

            ocr = RapidOCRReader(max_side=max_side)
        self._ocr = ocr
        self._lock = threading.Lock()

    # -- localisation

    def _region(self, shape: tuple[int, ...], vehicle_xyxy: Box) -> tuple[int, int, int, int] | None:
        h, w = shape[:2]
        x1, y1, x2, y2 = (float(v) for v in vehicle_xyxy)
        top = y1 + (y2 - y1) * (1.0 - self.lower_fraction)
        pad = 0.05 * (x2 - x1)
        rx1, ry1 = max(0, int(x1 - pad)), max(0, int(top))
        rx2, ry2 = min(w, int(np.ceil(x2 + pad))), min(h, int(np.ceil(y2 + 0.05 * (y2 - y1))))
        if rx2 - rx1 < 8 or ry2 - ry1 < 8:
            return None
        return rx1, ry1, rx2, ry2

    def _read_region(
        self, image: npt.NDArray[np.uint8], region: tuple[int, int, int, int]
    ) -> list[PlateCandidate]:
        rx1, ry1, rx2, ry2 = region
        crop = image[ry1:ry2, rx1:rx2]
        scale = max(1.0, self.min_side / max(crop.shape[:2]))
        if scale > 1.0:
            crop = np.asarray(
                cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC), np.uint8
            )
        out = []
        for poly, raw, score in self._ocr.read_lines(np.ascontiguousarray(crop)):
            text = normalise(raw)
            if score < self.min_confidence or not _plate_like(text):
                continue
            xs, ys = poly[:, 0] / scale + rx1, poly[:, 1] / scale + ry1
            box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
            out.append(PlateCandidate(box, raw, check_uk_plate(text), score))
        return out

    @staticmethod
    def colour_candidates(
        image: npt.NDArray[np.uint8], region: tuple[int, int, int, int], limit: int = 4
    ) -> list[tuple[int, int, int, int]]:
        """Yellow or white rectangles of plate proportions (UK plates are 520 x 111 mm) in the region."""
        rx1, ry1, rx2, ry2 = region
        hsv = cv2.cvtColor(image[ry1:ry2, rx1:rx2], cv2.COLOR_BGR2HSV)
        yellow = cv2.inRange(hsv, (15, 90, 110), (40, 255, 255))
        white = cv2.inRange(hsv, (0, 0, 170), (180, 45, 255))
        found: list[tuple[float, tuple[int, int, int, int]]] = []
        for mask in (yellow, white):
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 9), np.uint8))
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            for c in contours:
                x, y, w, h = cv2.boundingRect(c)
                if h < 8 or w < 30 or not 2.0 <= w / h <= 6.5:
                    continue
                fill = cv2.contourArea(c) / float(w * h)
                if fill < 0.6:
                    continue
                found.append((fill * w * h, (rx1 + x, ry1 + y, rx1 + x + w, ry1 + y + h)))
        found.sort(key=lambda item: -item[0])
        return [box for _, box in found[:limit]]

    def candidates(self, image_bgr: npt.NDArray[np.uint8], vehicle_xyxy: Box) -> list[PlateCandidate]:
        """Plate-like reads in the lower part of the vehicle, best first."""
        region = self._region(image_bgr.shape, vehicle_xyxy)
        if region is None:
            return []
        with self._lock:
            found = self._read_region(image_bgr, region)
            if not any(c.plate.valid for c in found):
                for x1, y1, x2, y2 in self.colour_candidates(image_bgr, region):
                    mx, my = (x2 - x1) // 10 + 2, (y2 - y1) // 4 + 2
                    sub = (
                        max(0, x1 - mx),
                        max(0, y1 - my),
                        min(image_bgr.shape[1], x2 + mx),
                        min(image_bgr.shape[0], y2 + my),
                    )
                    found += self._read_region(image_bgr, sub)
        return sorted(found, key=lambda c: c.rank, reverse=True)

    def locate(self, image_bgr: npt.NDArray[np.uint8], vehicle_xyxy: Box) -> Box | None:
        """The plate's box in frame pixels (for the evidence crop), or None."""
        found = self.candidates(image_bgr, vehicle_xyxy)
        return found[0].box if found else None

    def read(self, image_bgr: npt.NDArray[np.uint8], vehicle_xyxy: Box) -> PlateRead:
        """The plate text (normalised, no spaces), the OCR confidence and whether it is a UK format."""
        try:
            found = self.candidates(image_bgr, vehicle_xyxy)
        except Exception:
            # Called from the camera's hot loop: a failed read costs the plate, never the camera.
            logger.warning("plate read failed for vehicle box %s", vehicle_xyxy, exc_info=True)
            return PlateRead(text=None, confidence=None, valid_uk_format=False)
        if not found:
            return PlateRead(text=None, confidence=None, valid_uk_format=False)
        best = found[0]
        return PlateRead(
            text=best.plate.text, confidence=round(best.confidence, 4), valid_uk_format=best.plate.valid
        )

    def read_with_box(
        self, image_bgr: npt.NDArray[np.uint8], vehicle_xyxy: Box
    ) -> tuple[PlateRead, Box | None]:
        """:meth:`read` and :meth:`locate` in one OCR pass."""
        found = self.candidates(image_bgr, vehicle_xyxy)
        if not found:
            return PlateRead(text=None, confidence=None, valid_uk_format=False), None
        best = found[0]
        read = PlateRead(
            text=best.plate.text, confidence=round(best.confidence, 4), valid_uk_format=best.plate.valid
        )
        return read, best.box
