"""RapidOCR as the text-reading backend of the plate reader (``detector.plates``).

RapidOCR runs PP-OCR text detection and recognition as ONNX models that ship inside the ``rapidocr``
wheel.  The engine is built from those bundled files by explicit path, so it never reaches for a
model download, and only on the first read (it takes a moment to start): importing this module
loads nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

#: one text line found in an image: its polygon (np.ndarray of shape (4, 2), image pixels), the text
#: and the recogniser's confidence (0–1)
TextLine = tuple[npt.NDArray[np.float32], str, float]


def _bundled_model_paths() -> dict[str, str]:
    import rapidocr

    models = Path(rapidocr.__file__).parent / "models"
    paths = {
        "Det.model_path": models / "PP-OCRv6_det_small.onnx",
        "Rec.model_path": models / "PP-OCRv6_rec_small.onnx",
        "Cls.model_path": models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    }
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise RuntimeError(
            f"the rapidocr wheel lacks its bundled models ({', '.join(missing)}); reinstall "
            f"rapidocr>=3,<4 from PyPI (the models ship inside the wheel; nothing is downloaded)"
        )
    return {k: str(v) for k, v in paths.items()}


class RapidOCRReader:
    """Finds and reads lines of text in an image with the bundled PP-OCR models.

    ``max_side`` caps the longer side the text detector works at (pixels).  Not thread-safe: the
    caller serialises reads.
    """

    def __init__(self, *, max_side: int = 960) -> None:
        self.max_side = max_side
        self._engine: Any = None

    def _ocr(self) -> Any:
        if self._engine is None:
            from rapidocr import RapidOCR

            params: dict[str, Any] = {
                **_bundled_model_paths(),
                "Global.log_level": "warning",
                "Global.use_cls": False,  # plates are upright; the angle classifier only costs time
                "Det.limit_type": "max",
                "Det.limit_side_len": self.max_side,
            }
            self._engine = RapidOCR(params=params)
            logger.info("plate OCR engine loaded (RapidOCR, bundled PP-OCR models)")
        return self._engine

    def read_lines(self, image: npt.NDArray[np.uint8]) -> list[TextLine]:
        """Every text line in a BGR image ``(H, W, 3)`` uint8, as (polygon, text, confidence)."""
        result = self._ocr()(image)
        if result is None or result.boxes is None or result.txts is None:
            return []
        return [
            (np.asarray(b, np.float32), str(t), float(s))
            for b, t, s in zip(result.boxes, result.txts, result.scores, strict=True)
        ]
