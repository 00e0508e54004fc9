"""Print copies: reduced by the JPEG decoder itself, never from a file that does not decode."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import ultralytics

from evidence_api.previews import MIN_WIDTH, PreviewError, make_preview

BUS = Path(ultralytics.__file__).parent / "assets" / "bus.jpg"  # a real photograph, 810x1080


def _jpeg(width: int, height: int) -> bytes:
    rng = np.random.default_rng(width)
    image = cv2.resize(rng.integers(0, 255, (height // 8, width // 8, 3), np.uint8), (width, height))
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize(
    ("width", "height", "expected_width"),
    [(1920, 1080, 480), (3840, 2160, 480), (768, 576, 384), (640, 480, 320), (500, 300, 500)],
)
def test_the_print_copy_is_the_largest_decoder_reduction_that_stays_legible(
    width: int, height: int, expected_width: int
) -> None:
    preview = make_preview(_jpeg(width, height))
    assert (preview.jpeg.width, preview.jpeg.height) == (expected_width, expected_width * height // width)
    assert preview.jpeg.width >= min(width, MIN_WIDTH) and preview.jpeg.components == 3


def test_the_print_copy_looks_like_the_master() -> None:
    master = BUS.read_bytes()
    preview = make_preview(master)
    small = cv2.imdecode(np.frombuffer(preview.jpeg.data, np.uint8), cv2.IMREAD_COLOR)
    reference = cv2.resize(cv2.imdecode(np.frombuffer(master, np.uint8), cv2.IMREAD_COLOR), (405, 540))
    assert small.shape == reference.shape
    assert float(np.mean(np.abs(small.astype(np.int16) - reference.astype(np.int16)))) < 6.0
    assert len(preview.jpeg.data) < len(master)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a not a jpeg", "no SOI marker"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20, "no print copy"),
        (BUS.read_bytes()[:600], "does not decode"),
    ],
)
def test_a_still_that_cannot_be_printed_says_why(data: bytes, message: str) -> None:
    with pytest.raises(PreviewError, match=message):
        make_preview(data)
