"""Number plates: real OCR of a plate rendered onto a real photo, and the UK format checker."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from edge_fixtures import bus_image

from detector.plates import PlateReader, check_uk_plate, normalise

BUS = (10.0, 230.0, 800.0, 720.0)  # the bus in ultralytics/assets/bus.jpg


def with_plate(
    text: str, box: tuple[int, int, int, int], colour: tuple[int, int, int] = (0, 200, 255)
) -> np.ndarray:
    """The bus photo with a UK-style plate (bold sans characters on a yellow/white plate) painted on."""
    img = bus_image().copy()
    x1, y1, x2, y2 = box
    cv2.rectangle(img, (x1, y1), (x2, y2), colour, -1)
    cv2.rectangle(img, (x1, y1), (x2, y2), (0, 0, 0), 2)
    h = y2 - y1
    scale = h / 42.0
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, 2)
    org = (x1 + (x2 - x1 - tw) // 2, y1 + (h + th) // 2)
    cv2.putText(
        img, text, org, cv2.FONT_HERSHEY_DUPLEX, scale, (0, 0, 0), max(2, round(scale * 2)), cv2.LINE_AA
    )
    return img


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


@pytest.mark.parametrize(
    ("text", "box", "colour", "expected"),
    [
        ("AB12 CDE", (360, 645, 520, 685), (0, 200, 255), "AB12CDE"),  # yellow rear plate
        ("A123 BCD", (560, 660, 720, 700), (245, 245, 245), "A123BCD"),  # white front plate
    ],
)
def test_reads_a_plate_on_a_real_bus(
    reader: PlateReader,
    text: str,
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int],
    expected: str,
) -> None:
    image = with_plate(text, box, colour)
    read = reader.read(image, BUS)
    assert read.text == expected
    assert read.valid_uk_format
    assert read.confidence is not None and read.confidence > 0.8
    located = reader.locate(image, BUS)
    assert located is not None
    x1, y1, x2, y2 = located
    # The located box overlaps the painted plate well (IoU > 0.5).
    ix = max(0.0, min(x2, box[2]) - max(x1, box[0]))
    iy = max(0.0, min(y2, box[3]) - max(y1, box[1]))
    inter = ix * iy
    union = (x2 - x1) * (y2 - y1) + (box[2] - box[0]) * (box[3] - box[1]) - inter
    assert inter / union > 0.5, (located, box)


def test_vehicle_without_plate_reads_nothing(reader: PlateReader) -> None:
    # The real bus carries text ('cero emisiones', a route number) but no number plate.
    read = reader.read(bus_image(), BUS)
    assert (read.text, read.confidence, read.valid_uk_format) == (None, None, False)
    assert reader.locate(bus_image(), BUS) is None


def test_plate_outside_the_lower_part_is_not_read(reader: PlateReader) -> None:
    image = with_plate("AB12 CDE", (360, 260, 520, 300))  # up on the roof line
    assert reader.read(image, BUS).text is None


def test_small_plate_found_by_colour(reader: PlateReader) -> None:
    box = (400, 660, 470, 678)  # 70 x 18 px: a distant vehicle
    image = with_plate("AB12 CDE", box)
    region = (0, 500, 810, 740)
    candidates = PlateReader.colour_candidates(image, region)
    assert any(abs(c[0] - box[0]) <= 3 and abs(c[2] - box[2]) <= 3 for c in candidates), candidates
    read = reader.read(image, BUS)
    assert read.text == "AB12CDE" and read.valid_uk_format


def test_reader_is_safe_to_share_between_threads(reader: PlateReader) -> None:
    image = with_plate("AB12 CDE", (360, 645, 520, 685))
    results: list[str | None] = []

    def work() -> None:
        results.append(reader.read(image, BUS).text)

    threads = [threading.Thread(target=work) for _ in range(3)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == ["AB12CDE"] * 3, results
    assert time.perf_counter() - t0 < 30


@pytest.mark.parametrize(
    ("raw", "text", "fmt", "display"),
    [
        ("AB12 CDE", "AB12CDE", "current", "AB12 CDE"),
        ("ab12cde", "AB12CDE", "current", "AB12 CDE"),
        ("AB 12-CDE", "AB12CDE", "current", "AB12 CDE"),
        ("4B12 CDE", "AB12CDE", "current", "AB12 CDE"),  # 4 read for A in a letter position
        ("A812 CDE", "A812CDE", "prefix", "A812 CDE"),  # a valid prefix mark as read: no fix
        ("AB12 C0E", "AB12COE", "current", "AB12 COE"),
        ("ABI2 CDE", "AB12CDE", "current", "AB12 CDE"),  # I read for 1 in a digit position
        ("AB12 CD0", "AB12CDO", "current", "AB12 CDO"),  # 0 read for O in a letter position
        ("A123 BCD", "A123BCD", "prefix", "A123 BCD"),
        ("A1 BCD", "A1BCD", "prefix", "A1 BCD"),
        ("ABC 123D", "ABC123D", "suffix", "ABC 123D"),
        ("ABC 1D", "ABC1D", "suffix", "ABC 1D"),
        ("1 A", "1A", "dateless", "1A"),
        ("ABC 1234", "ABC1234", "dateless", "ABC1234"),
        ("9999 XY", "9999XY", "dateless", "9999XY"),
        ("HELLO", "HELLO", None, "HELLO"),  # no digit: not a plate
        ("12345", "12345", None, "12345"),  # no letter
        ("AB12CDEF", "AB12CDEF", None, "AB12CDEF"),  # too long
        ("AB1234CDE", "AB1234CDE", None, "AB1234CDE"),
        ("", "", None, ""),
        ("ABCD 12", "ABCD12", None, "ABCD12"),  # would need two fixes to be a suffix mark
        ("A1Z3 BCD", "A123BCD", "prefix", "A123 BCD"),
    ],
)
def test_uk_format_checker(raw: str, text: str, fmt: str | None, display: str) -> None:
    plate = check_uk_plate(raw)
    assert (plate.text, plate.format, plate.display) == (text, fmt, display)
    assert plate.valid is (fmt is not None)


def test_normalise() -> None:
    assert normalise(" ab-12 cde\n") == "AB12CDE"


OFFLINE_READ = """
import sys
def refuse_network(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "urllib.Request"):
        raise RuntimeError(f"network use during plate OCR: {event} {args[:2]!r}")
sys.addaudithook(refuse_network)
sys.path.insert(0, TESTS_DIR)
from test_plates import BUS, with_plate
from detector.plates import PlateReader
print(PlateReader().read(with_plate("AB12 CDE", (360, 645, 520, 685)), BUS).text)
"""


def test_ocr_engine_loads_and_reads_without_any_network() -> None:
    code = OFFLINE_READ.replace("TESTS_DIR", repr(str(Path(__file__).parent)))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "AB12CDE"


@pytest.mark.parametrize(
    "box",
    [(900.0, 900.0, 1000.0, 1000.0), (100.0, 100.0, 100.0, 100.0), (-50.0, -50.0, -10.0, -10.0)],
)
def test_degenerate_vehicle_boxes_read_nothing(
    reader: PlateReader, box: tuple[float, float, float, float]
) -> None:
    read = reader.read(bus_image(), box)
    assert read.text is None and not read.valid_uk_format
