"""The sites page's map: the sites' coordinates as points on a plain SVG drawn by the server (no map
tiles, nothing fetched from the internet), scaled to the sites' bounding box.

The projection is equirectangular about the sites' mean latitude (a degree of longitude shrunk by its
cosine), which over a council's area (tens of kilometres) keeps distances and bearings true to within a
fraction of a percent; north is up.  The template draws what :func:`site_map` returns, and the page gives
the same data as a table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from evidence_api.models import Site

METRES_PER_DEGREE = 111_320.0  # of latitude, and of longitude at the equator
SCALE_STEPS_M = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000)
LABEL_SWITCH = 0.65  # a point further right than this share of the width is labelled on its left


@dataclass(frozen=True, slots=True)
class MapPoint:
    """A site on the map: ``x``, ``y`` in the SVG's user units (origin top left)."""

    key: str
    name: str
    latitude: float
    longitude: float
    x: float
    y: float
    label_left: bool


@dataclass(frozen=True, slots=True)
class ScaleBar:
    """A round distance and its length on the map."""

    metres: int
    length: float

    @property
    def text(self) -> str:
        return f"{self.metres // 1000} km" if self.metres >= 1000 else f"{self.metres} m"


@dataclass(frozen=True, slots=True)
class SiteMap:
    """What the template draws: a ``width`` x ``height`` view box, the placed sites, those without
    coordinates (listed beside the map), and a scale bar where two sites are apart."""

    width: int
    height: int
    points: list[MapPoint]
    unplaced: list[Site]
    scale: ScaleBar | None


def site_map(sites: Iterable[Site], *, width: int = 640, height: int = 400, margin: int = 48) -> SiteMap:
    """The map of ``sites``: those with a latitude and longitude fitted, aspect kept, inside ``margin``
    of the view box and centred; a single site (or several at one spot) in the middle."""
    placed = [s for s in sites if s.latitude is not None and s.longitude is not None]
    unplaced = [s for s in sites if s.latitude is None or s.longitude is None]
    if not placed:
        return SiteMap(width, height, [], unplaced, None)
    mean_lat = sum(s.latitude for s in placed if s.latitude is not None) / len(placed)
    shrink = math.cos(math.radians(mean_lat))
    projected = [((s.longitude or 0.0) * shrink, -(s.latitude or 0.0)) for s in placed]
    xs, ys = [p[0] for p in projected], [p[1] for p in projected]
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    inner_w, inner_h = width - 2 * margin, height - 2 * margin
    spans = [inner / span for inner, span in ((inner_w, span_x), (inner_h, span_y)) if span > 0]
    units_per_degree = min(spans) if spans else 0.0  # 0: every site at one spot
    mid_x, mid_y = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    points = []
    for site, (px, py) in zip(placed, projected, strict=True):
        x = width / 2 + (px - mid_x) * units_per_degree
        y = height / 2 + (py - mid_y) * units_per_degree
        points.append(
            MapPoint(
                key=site.key,
                name=site.name,
                latitude=site.latitude or 0.0,
                longitude=site.longitude or 0.0,
                x=round(x, 1),
                y=round(y, 1),
                label_left=x > width * LABEL_SWITCH,
            )
        )
    return SiteMap(width, height, points, unplaced, _scale_bar(units_per_degree, width))


def _scale_bar(units_per_degree: float, width: int) -> ScaleBar | None:
    """The longest round distance that fits in a quarter of the width."""
    if units_per_degree <= 0:
        return None
    units_per_metre = units_per_degree / METRES_PER_DEGREE
    fitting = [m for m in SCALE_STEPS_M if m * units_per_metre <= width / 4]
    if not fitting:
        return None
    return ScaleBar(fitting[-1], round(fitting[-1] * units_per_metre, 1))
