"""The bundle's person finder: the edge box's offline SSD detector, lent to the evidence API.

``evidence_api`` never imports ``detector``: its people blurring (:mod:`evidence_api.bundle.redact`) asks
for a :class:`~evidence_api.bundle.redact.PersonFinder`, and whoever starts the API or the export passes
:func:`ssd_person_finder` as the factory (``create_app(person_finder_factory=...)``, the ``serve`` and
``bundle`` commands).  Using the same model the edge box runs means a bystander seen from behind is
found too, not only faces.
"""

from __future__ import annotations

import logging

from detector.backends.opencv_ssd import OpenCVSSDConfig, OpenCVSSDDetector
from detector.types import ObjectClass
from evidence_api.bundle.redact import Box, Image, PersonFinder

logger = logging.getLogger(__name__)

MIN_CONFIDENCE = 0.3  # the SSD score above which a box counts as a person (the edge box's own default)
GROW = 0.1  # each person box grows by this share of its width and height, so hair and hands are covered


class SSDPersonFinder:
    """Person boxes from the offline SSD detector, grown a little so hair and hands are covered too.

    Calling it with a BGR image (``np.ndarray`` of shape (H, W, 3), uint8) returns the people as
    ``(x1, y1, x2, y2)`` pixel boxes; a grown box may reach past the frame (the blur clips it).
    Loading the model takes a second or so: make one finder per export, not per still.
    """

    def __init__(self, min_confidence: float = MIN_CONFIDENCE, grow: float = GROW) -> None:
        self._detector = OpenCVSSDDetector(OpenCVSSDConfig(min_confidence=min_confidence))
        self._person = int(ObjectClass.PERSON)
        self._grow = grow

    def __call__(self, image: Image) -> list[Box]:
        dets = self._detector.detect(image)
        boxes: list[Box] = []
        for (x1, y1, x2, y2), cls in zip(dets.xyxy, dets.class_id, strict=True):
            if int(cls) != self._person:
                continue
            gx, gy = (x2 - x1) * self._grow, (y2 - y1) * self._grow
            boxes.append((int(x1 - gx), int(y1 - gy), int(x2 + gx), int(y2 + gy)))
        return boxes


def ssd_person_finder() -> PersonFinder:
    """A :data:`~evidence_api.bundle.redact.PersonFinderFactory`: a fresh SSD person finder."""
    return SSDPersonFinder()
