"""Column charts drawn by the server as plain SVG (no script, no library): :func:`bar_chart` works out
where each bar, gridline and label goes, and ``templates/_chart.html`` draws it.  Every chart has a
title and a description for a screen reader, a tooltip on each bar, and the page shows its numbers in a
table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Okabe and Ito's palette, told apart by people with any common colour blindness.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 14, 44  # room for the value axis and the category labels
GAP = 0.2  # of each category's slot left empty between groups
MAX_GRIDLINES = 5


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    tooltip: str
    colour: str


@dataclass(frozen=True, slots=True)
class Tick:
    """A category's label under the axis, centred on ``x``."""

    x: float
    label: str


@dataclass(frozen=True, slots=True)
class GridLine:
    y: float
    value: int


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str


@dataclass(frozen=True, slots=True)
class BarChart:
    id: str
    title: str
    description: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    grid: tuple[GridLine, ...]
    series: tuple[Series, ...]  # the legend; empty for a chart of one series
    baseline: float
    left: float
    right: float


def _grid_step(top: int) -> int:
    """The smallest 1, 2 or 5 x 10^n step that covers ``top`` in at most MAX_GRIDLINES lines."""
    if top <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(top / MAX_GRIDLINES)) if top > MAX_GRIDLINES else 1
    for multiple in (1, 2, 5, 10):
        step = multiple * magnitude
        if top / step <= MAX_GRIDLINES:
            return int(step)
    return int(10 * magnitude)


def bar_chart(
    *,
    id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    label_every: int = 1,
) -> BarChart:
    """Columns for each category (one per series, side by side), on a value axis from 0.

    Parameters: ``categories`` the labels along the bottom; ``series`` (name, one count per category);
    ``label_every`` labels every n-th category only (24 hours do not fit under a phone-width chart)."""
    top_value = max((v for _, values in series for v in values), default=0)
    step = _grid_step(top_value)
    axis_top = max(step, math.ceil(top_value / step) * step)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_h
    slot = plot_w / max(len(categories), 1)
    bar_w = slot * (1 - GAP) / max(len(series), 1)
    bars = []
    for s, (name, values) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        for c, value in enumerate(values):
            h = plot_h * value / axis_top
            x = LEFT + c * slot + slot * GAP / 2 + s * bar_w
            where = f"{name}, {categories[c]}" if len(series) > 1 else categories[c]
            bars.append(Bar(x, baseline - h, bar_w, h, value, f"{where}: {value}", colour))
    ticks = tuple(
        Tick(LEFT + (c + 0.5) * slot, label) for c, label in enumerate(categories) if c % label_every == 0
    )
    grid = tuple(GridLine(baseline - plot_h * v / axis_top, v) for v in range(0, axis_top + 1, step))
    legend = tuple(Series(name, PALETTE[s % len(PALETTE)]) for s, (name, _) in enumerate(series))
    return BarChart(
        id=id,
        title=title,
        description=description,
        width=WIDTH,
        height=HEIGHT,
        bars=tuple(bars),
        ticks=ticks,
        grid=grid,
        series=legend if len(series) > 1 else (),
        baseline=baseline,
        left=LEFT,
        right=WIDTH - RIGHT,
    )
