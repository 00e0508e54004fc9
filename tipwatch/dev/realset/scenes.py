"""The building blocks of the real-footage scenes (the list itself is :mod:`.catalogue`): what is left
where and when, who brings it, what happens to the picture, and the truth that follows from that
script.

Coordinates are vtest pixels (768×576), ``(x, y)`` = the bottom centre of a thing where it touches
the ground, so perspective gives its size (:func:`~tipwatch.dev.realset.footage.size_at`).  Times
are seconds from the start of the clip.

Truth (the contract of ``NAME.truth.json``): a **dumping** event for every group of items put down
together that then stays at least :data:`STAYS_S` seconds after whoever brought it has gone; its
span runs from when that person (or vehicle) first appears, or from when the items appear if
nobody is seen, to the end of the clip or when it is taken away; ``deposit_s`` says when it was put
down.  A **vehicle visit** for a vehicle that arrives and stops, from its stop to its departure.
Parked vehicles that never move (two stand in vtest throughout) are no visit.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from tipwatch.dev.realset.conditions import Effect, StreamFaults
from tipwatch.dev.samples import sprites
from tipwatch.dev.samples.sprites import Sprite

logger = logging.getLogger(__name__)

STAYS_S = 40.0  # a deposit that stays this long after its bringer has gone is dumping
Point = tuple[float, float]
Rect = tuple[int, int, int, int]


@dataclass(frozen=True)
class Item:
    """One piece of waste: which sprite, how tall it stands in metres, and its offset from the
    group's spot in pixels."""

    kind: str
    metres: float
    seed: int = 1
    offset: Point = (0.0, 0.0)

    def sprite(self) -> Sprite:
        return ITEM_SPRITES[self.kind](self.seed)


def _panel(seed: int) -> Sprite:
    """A board cut from a real photograph (the bus side panel in ultralytics' bus.jpg)."""
    photo = sprites._photo("bus.jpg")
    panel = np.ascontiguousarray(photo[520:640, 380:620])
    alpha = np.ones(panel.shape[:2], np.float32)
    alpha[:2] = alpha[-2:] = 0.0
    alpha[:, :2] = alpha[:, -2:] = 0.0
    return Sprite(f"panel-{seed}", panel, alpha)


ITEM_SPRITES: dict[str, Callable[[int], Sprite]] = {
    "bag": sprites.bin_bag,
    "box": sprites.cardboard_box,
    "mattress": sprites.mattress,
    "tyre": sprites.tyre,
    "panel": _panel,
}


@dataclass(frozen=True)
class Walk:
    """A person on foot: ``keys`` are (t, x, y) waypoints; visible from the first to the last."""

    keys: tuple[tuple[float, float, float], ...]
    who: Literal["a", "b"] = "a"

    def at(self, t: float) -> Point | None:
        ks = self.keys
        if not ks[0][0] <= t <= ks[-1][0]:
            return None
        for (t0, x0, y0), (t1, x1, y1) in itertools.pairwise(ks):
            if t <= t1:
                u = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
                return x0 + (x1 - x0) * u, y0 + (y1 - y0) * u
        return ks[-1][1], ks[-1][2]

    @property
    def start_s(self) -> float:
        return self.keys[0][0]

    @property
    def end_s(self) -> float:
        return self.keys[-1][0]


@dataclass(frozen=True)
class Drive:
    """A vehicle: drives in, stops between ``stop_s`` and ``go_s``, drives off (keys as in Walk)."""

    keys: tuple[tuple[float, float, float], ...]
    stop_s: float
    go_s: float
    mirrored: bool = False

    def at(self, t: float) -> Point | None:
        return Walk(self.keys).at(t)


@dataclass(frozen=True)
class Deposit:
    """Items left together at ``spot``: they appear at ``appear_s`` (put down by ``bringer``, or just
    there between two samples when ``bringer`` is None) and go at ``removed_s`` (None: stay)."""

    items: tuple[Item, ...]
    spot: Point
    appear_s: float
    removed_s: float | None = None
    bringer: Walk | None = None
    vehicle: Drive | None = None
    occluder: Rect | None = None  # a fixed thing in the street that stands in front of it

    def visible(self, t: float) -> bool:
        return self.appear_s <= t and (self.removed_s is None or t < self.removed_s)


@dataclass(frozen=True)
class RealScene:
    name: str
    summary: str
    conditions: tuple[str, ...]
    duration_s: float = 100.0
    deposits: tuple[Deposit, ...] = ()
    people: tuple[Walk, ...] = ()
    vehicles: tuple[Drive, ...] = ()
    effects: tuple[Effect, ...] = ()
    faults: StreamFaults = field(default_factory=StreamFaults)
    container: Literal["mp4", "ts"] = "mp4"

    def truth(self) -> list[dict[str, object]]:
        events: list[dict[str, object]] = []
        for d in self.deposits:
            gone = d.bringer.end_s if d.bringer else d.appear_s
            last = d.removed_s if d.removed_s is not None else self.duration_s
            if last - gone < STAYS_S:
                continue
            first = [d.appear_s]
            if d.bringer:
                first.append(d.bringer.start_s)
            if d.vehicle:
                first.append(d.vehicle.keys[0][0])
            events.append(
                {
                    "type": "dumping",
                    "start_s": round(min(first), 2),
                    "end_s": round(last, 2),
                    "deposit_s": round(d.appear_s, 2),
                }
            )
        vehicles = {v for v in self.vehicles} | {d.vehicle for d in self.deposits if d.vehicle}
        for v in sorted(vehicles, key=lambda v: v.stop_s):
            events.append({"type": "vehicle_visit", "start_s": v.stop_s, "end_s": v.go_s})
        return sorted(events, key=lambda e: float(e["start_s"]))  # type: ignore[arg-type]
