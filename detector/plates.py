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
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from detector.plate_format import UKPlate, check_uk_plate, normalise, plate_like
from detector.plate_vote import OCRRead, vote_reads
from detector.types import PlateRead

__all__ = [
    "PlateCandidate",
    "PlateReader",
    "TextLine",
    "TextReader",
    "TrackPlate",
    "UKPlate",
    "check_uk_plate",
    "normalise",
]

logger = logging.getLogger(__name__)

Box = tuple[float, float, float, float]

# Two lines of text are one two-line plate when the lower starts within this many line heights of
# the upper's bottom, their heights differ by at most this ratio, and they overlap horizontally by
# at least this fraction of the narrower line (UK two-line plates: equal character heights, a
# small gap, lines centred on each other).
_STACK_MAX_GAP = 0.8
_STACK_MAX_HEIGHT_RATIO = 1.6
_STACK_MIN_OVERLAP = 0.5


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line of text the OCR found: its box (frame pixels, xyxy), text and confidence (0–1)."""

    box: Box
    raw: str
    confidence: float


def plate_lines(lines: list[TextLine]) -> list[list[TextLine]]:
    """The lines grouped into plates: a line directly above another of the same height (a two-line
    motorcycle or square plate, "AB12" over "CDE") makes one plate with it, top line first; every
    other line is a plate on its own.  A line that belongs to a pair is never a plate by itself,
    so the top half of a two-line plate is not taken for a complete (dateless) mark.
    """
    order = sorted(range(len(lines)), key=lambda i: lines[i].box[1])
    below: dict[int, int] = {}
    used: set[int] = set()
    for i in order:
        if i in used:
            continue
        a = lines[i].box
        ha = a[3] - a[1]
        best: tuple[float, int] | None = None
        for j in order:
            if j == i or j in used or j in below:
                continue
            b = lines[j].box
            hb = b[3] - b[1]
            gap = b[1] - a[3]
            overlap = min(a[2], b[2]) - max(a[0], b[0])
            narrower = min(a[2] - a[0], b[2] - b[0])
            if (
                b[1] > (a[1] + a[3]) / 2  # starts below the middle of the upper line
                and gap < _STACK_MAX_GAP * max(ha, hb)
                and 1 / _STACK_MAX_HEIGHT_RATIO <= hb / max(ha, 1e-6) <= _STACK_MAX_HEIGHT_RATIO
                and overlap >= _STACK_MIN_OVERLAP * narrower
                and (best is None or gap < best[0])
            ):
                best = (gap, j)
        if best is not None:
            below[i] = best[1]
            used.update((i, best[1]))
    groups = [[lines[i], lines[below[i]]] for i in order if i in below]
    groups += [[lines[i]] for i in order if i not in used]
    return groups


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

    def region(self, shape: tuple[int, ...], vehicle_xyxy: Box) -> tuple[int, int, int, int] | None:
        """Where the reader looks for the plate of a vehicle: the lower part of its box, a little
        wider and lower (frame pixels, xyxy ints clamped to ``shape``), or None when that is empty.
        Everything a read uses lies inside it, so a caller may keep only these pixels of a view."""
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
        lines = []
        for poly, raw, score in self._ocr.read_lines(np.ascontiguousarray(crop)):
            xs, ys = poly[:, 0] / scale + rx1, poly[:, 1] / scale + ry1
            lines.append(
                TextLine((float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())), raw, score)
            )
        out = []
        for group in plate_lines(lines):
            # a two-line plate reads top line first, with a space between the lines
            raw = " ".join(line.raw.strip() for line in group)
            score = min(line.confidence for line in group)
            if score < self.min_confidence or not plate_like(normalise(raw)):
                continue
            box = (
                min(line.box[0] for line in group),
                min(line.box[1] for line in group),
                max(line.box[2] for line in group),
                max(line.box[3] for line in group),
            )
            out.append(PlateCandidate(box, raw, check_uk_plate(raw), score))
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
        region = self.region(image_bgr.shape, vehicle_xyxy)
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

    def read_views(self, views: Sequence[tuple[npt.NDArray[np.uint8], Box]]) -> PlateRead:
        """Several views of one vehicle (frame, vehicle box), each read, the reads voted character by
        character (:func:`detector.plate_vote.vote_reads`), weighted by OCR confidence and by how
        sharp each view's plate is relative to the sharpest."""
        return self.vote_views(views).read

    def vote_views(self, views: Sequence[tuple[npt.NDArray[np.uint8], Box]]) -> TrackPlate:
        """:meth:`read_views`, with the view that best shows the voted plate and its box there (for
        the evidence crop): the heaviest view whose own read is the voted text, else the heaviest."""
        found: list[tuple[int, PlateCandidate, float]] = []
        for index, (image, box) in enumerate(views):
            candidates = self.candidates(image, box)
            if candidates:
                best = candidates[0]
                found.append((index, best, _sharpness(image, best.box)))
        sharpest = max((s for _, _, s in found), default=0.0)
        reads = [
            OCRRead(c.raw, c.confidence, max(s / sharpest, 0.05) if sharpest > 0 else 1.0)
            for _, c, s in found
        ]
        voted = vote_reads(reads)
        if not found:
            return TrackPlate(voted, None, None)
        order = sorted(range(len(found)), key=lambda i: reads[i].weight, reverse=True)
        agreeing = [i for i in order if found[i][1].plate.text == voted.text]
        pick = (agreeing or order)[0]
        return TrackPlate(voted, found[pick][0], found[pick][1].box)


@dataclass(frozen=True, slots=True)
class TrackPlate:
    """The plate voted over several views of one vehicle: the read, and which view (its index in the
    views given) shows it best, with the plate's box in that view (None, None when nothing was
    read)."""

    read: PlateRead
    view: int | None
    box: Box | None


def _sharpness(image: npt.NDArray[np.uint8], box: Box) -> float:
    """Variance of the Laplacian over the plate's box: higher is sharper."""
    x1, y1, x2, y2 = (round(v) for v in box)
    patch = image[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)]
    if not patch.size:
        return 0.0
    return float(cv2.Laplacian(cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())
