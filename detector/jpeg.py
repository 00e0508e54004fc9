"""JPEG in and out of memory: the one encode and the one decode helper of the edge.

Frames are BGR ``np.ndarray`` of shape ``(H, W, 3)``, dtype ``uint8`` (OpenCV's order).  Both
helpers raise :class:`JpegError` when OpenCV cannot do the conversion; each caller decides whether
that loses one snapshot (logged) or one evidence file (marked on the event).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)


class JpegError(ValueError):
    """OpenCV could not encode an image as JPEG, or decode bytes as one."""


def encode_jpeg(image: npt.NDArray[np.uint8], quality: int) -> bytes:
    """JPEG bytes of a BGR image at ``quality`` (1–100)."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise JpegError(f"OpenCV could not JPEG-encode an image of shape {image.shape}")
    return bytes(buf.tobytes())


def decode_jpeg(data: bytes) -> npt.NDArray[np.uint8]:
    """The BGR image ``(H, W, 3)`` uint8 held in JPEG bytes."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise JpegError(f"{len(data)} bytes are not a decodable JPEG")
    return np.asarray(image, dtype=np.uint8)
