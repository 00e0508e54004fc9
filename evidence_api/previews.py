"""Print copies of stills: reduced JPEGs made once, when a still arrives, for the printed exhibit list.

A master still is evidence and is never altered; its print copy is a derived working file (decoded at a
reduced scale by the JPEG decoder itself, re-encoded, and stored content-addressed beside the master).
Making it at ingest costs about 2 ms a still; making it during an export would cost seconds per thousand
stills, on the path a solicitor is waiting on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

from evidence_api.bundle.pdf import Jpeg, PdfError

MIN_WIDTH = 320  # px: the reduced copy is at least this wide (60 mm printed: 135 dpi or better)
QUALITY = 80  # thumbnails for identification beside the master's hash: q80 is indistinguishable at 60 mm
_REDUCED = {8: cv2.IMREAD_REDUCED_COLOR_8, 4: cv2.IMREAD_REDUCED_COLOR_4, 2: cv2.IMREAD_REDUCED_COLOR_2}


class PreviewError(ValueError):
    """The still cannot be decoded, so no print copy can be made (the master itself is unaffected)."""


@dataclass(frozen=True, slots=True)
class Preview:
    jpeg: Jpeg
    sha256: str


def make_preview(master: bytes) -> Preview:
    """A reduced copy of ``master``: scaled by 1/2, 1/4 or 1/8 (the largest that stays MIN_WIDTH wide)."""
    try:
        width = Jpeg.from_bytes(master).width
    except PdfError as exc:
        raise PreviewError(f"no print copy: {exc}") from exc
    scale = next((s for s in (8, 4, 2) if width // s >= MIN_WIDTH), 1)
    image = cv2.imdecode(np.frombuffer(master, np.uint8), _REDUCED.get(scale, cv2.IMREAD_COLOR))
    if image is None or image.size == 0:
        raise PreviewError("no print copy: the JPEG does not decode")
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    if not ok:
        raise PreviewError("no print copy: JPEG encoding failed")
    data = buf.tobytes()
    return Preview(Jpeg.from_bytes(data), hashlib.sha256(data).hexdigest())
