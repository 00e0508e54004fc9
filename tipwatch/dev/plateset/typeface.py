"""UK number plates drawn to the DVLA's layout (BS AU 145e, INF104) in a freely licensed typeface.

The mandatory typeface, Charles Wright 2001, is not freely licensed.  The plates here use
**DejaVu Sans Condensed Bold** (Debian package ``fonts-dejavu-extra``; Bitstream Vera licence, the
DejaVu changes public domain): a condensed bold sans of close proportions.  Each glyph is scaled to
the DVLA character height and centred in the DVLA character width, so spacing and size follow the
regulation even where the letter shapes do not.  Nothing is downloaded: a missing font raises
:class:`FontMissing` naming the Debian package.

Dimensions (millimetres, from the DVLA's INF104):

- one-line plate 520 x 111: characters 79 high, 50 wide (1 and I narrower), 11 apart, 33 between
  the two groups;
- two-line square car plate 285 x 203: the same characters, 19 between the lines;
- two-line motorcycle plate 229 x 178: characters 64 high, 44 wide, 10 apart, 13 between the lines;
- an optional national identifier band (blue, "UK") of 50 on the left of one-line plates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

U8 = npt.NDArray[np.uint8]

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf")
FONT_PACKAGE = "fonts-dejavu-extra"
FONT_NAME = "DejaVu Sans Condensed Bold"
FONT_LICENCE = "Bitstream Vera licence (DejaVu changes public domain)"

_GLYPH_PX = 256  # the size glyphs are rasterised at before scaling to the plate


class FontMissing(RuntimeError):
    """The plate typeface is not installed."""


@dataclass(frozen=True, slots=True)
class PlateLayout:
    """A plate's size and its characters' size and spacing, in millimetres."""

    name: str
    width: float
    height: float
    char_height: float
    char_width: float
    char_gap: float
    group_gap: float  # one-line plates: between the two groups
    line_gap: float  # two-line plates: between the lines (0 for one line)

    @property
    def lines(self) -> int:
        return 2 if self.line_gap > 0 else 1


LAYOUTS: dict[str, PlateLayout] = {
    "one_line": PlateLayout("one_line", 520, 111, 79, 50, 11, 33, 0),
    "square": PlateLayout("square", 285, 203, 79, 50, 11, 0, 19),
    "motorcycle": PlateLayout("motorcycle", 229, 178, 64, 44, 10, 0, 13),
}

#: plate backgrounds (BGR): the rear plate's yellow and the front plate's white retroreflective
#: sheeting; the characters are black
PLATE_COLOURS: dict[str, tuple[int, int, int]] = {"yellow": (20, 200, 250), "white": (238, 238, 236)}
INK = (24, 24, 24)
UK_BAND_BLUE = (140, 50, 10)
UK_BAND_WIDTH = 50.0


@functools.cache
def _font() -> ImageFont.FreeTypeFont:
    if not FONT_PATH.is_file():
        raise FontMissing(
            f"{FONT_PATH} is missing: install Debian's {FONT_PACKAGE} package "
            f"(apt-get install {FONT_PACKAGE})"
        )
    return ImageFont.truetype(str(FONT_PATH), _GLYPH_PX)


@functools.cache
def glyph(char: str) -> U8:
    """The character's ink (uint8 mask, 255 = ink), cropped to its bounding box."""
    canvas = Image.new("L", (_GLYPH_PX * 2, _GLYPH_PX * 2), 0)
    ImageDraw.Draw(canvas).text((_GLYPH_PX // 2, _GLYPH_PX // 4), char, fill=255, font=_font())
    mask = np.asarray(canvas, np.uint8)
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise ValueError(f"the plate typeface has no ink for {char!r}")
    return np.ascontiguousarray(mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def _place(
    ink: npt.NDArray[np.float32], char: str, x_mm: float, y_mm: float, h_mm: float, w_mm: float, ppm: float
) -> None:
    """Scale ``char`` to ``h_mm`` high (squeezed to ``w_mm`` only if wider) and add it to ``ink``
    centred in the cell whose top-left corner is (``x_mm``, ``y_mm``)."""
    g = glyph(char)
    h_px = max(1, round(h_mm * ppm))
    w_px = max(1, min(round(g.shape[1] * h_px / g.shape[0]), round(w_mm * ppm)))
    scaled = cv2.resize(g, (w_px, h_px), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    x = round((x_mm + (w_mm - w_px / ppm) / 2) * ppm)
    y = round(y_mm * ppm)
    region = ink[y : y + h_px, x : x + w_px]
    np.maximum(region, scaled[: region.shape[0], : region.shape[1]], out=region)


def _row(
    ink: npt.NDArray[np.float32], text: str, x_mm: float, y_mm: float, lay: PlateLayout, ppm: float
) -> float:
    """One row of characters from ``x_mm``; returns where it ends."""
    for i, char in enumerate(text):
        if i:
            x_mm += lay.char_gap
        _place(ink, char, x_mm, y_mm, lay.char_height, lay.char_width, ppm)
        x_mm += lay.char_width
    return x_mm


def row_width(text: str, lay: PlateLayout) -> float:
    return len(text) * lay.char_width + max(0, len(text) - 1) * lay.char_gap


def draw_plate(
    groups: tuple[str, str], layout: str, colour: str, *, ppm: float = 2.0, uk_band: bool = False
) -> U8:
    """A plate (BGR uint8, ``layout``'s size at ``ppm`` pixels per millimetre) showing ``groups``:
    on one line with the DVLA's group gap, or the first group over the second."""
    lay = LAYOUTS[layout]
    height, width = round(lay.height * ppm), round(lay.width * ppm)
    ink = np.zeros((height, width), np.float32)
    if lay.lines == 1:
        band = UK_BAND_WIDTH if uk_band else 0.0
        total = row_width(groups[0], lay) + lay.group_gap + row_width(groups[1], lay)
        x = band + (lay.width - band - total) / 2
        y = (lay.height - lay.char_height) / 2
        x = _row(ink, groups[0], x, y, lay, ppm) + lay.group_gap
        _row(ink, groups[1], x, y, lay, ppm)
    else:
        top = (lay.height - 2 * lay.char_height - lay.line_gap) / 2
        for line, text in enumerate(groups):
            y = top + line * (lay.char_height + lay.line_gap)
            _row(ink, text, (lay.width - row_width(text, lay)) / 2, y, lay, ppm)
    background = np.empty((height, width, 3), np.float32)
    background[:] = PLATE_COLOURS[colour]
    if lay.lines == 1 and uk_band:
        background[:, : round(UK_BAND_WIDTH * ppm)] = UK_BAND_BLUE
        label = np.zeros_like(ink)
        for i, char in enumerate("UK"):
            _place(label, char, 8 + i * 18, lay.height - 38, 24, 16, ppm)
        background = background * (1 - label[..., None]) + np.float32(245) * label[..., None]
    plate = background * (1 - ink[..., None]) + np.asarray(INK, np.float32) * ink[..., None]
    return np.asarray(np.clip(plate, 0, 255), np.uint8)
