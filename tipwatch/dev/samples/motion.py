"""Where an actor is at time t: keyframed paths for people and vehicles, and items carried by hand."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Literal, Protocol

from tipwatch.dev.samples.scene import perspective

logger = logging.getLogger(__name__)

Ease = Literal["linear", "in", "out", "inout"]


@dataclass(frozen=True)
class Pose:
    """Where to draw: horizontal centre and bottom row, the size factor, and the drawing order."""

    x: float
    y: float
    scale: float
    depth: float  # larger is nearer the camera: drawn later
    moving: bool


class Motion(Protocol):
    def at(self, t: float) -> Pose | None:
        """The pose at ``t`` seconds, or None when the actor is not in view."""
        ...


@dataclass(frozen=True)
class Key:
    """A waypoint: at ``t`` the actor stands at ``(x, y)`` (ground contact); ``ease`` shapes the way in."""

    t: float
    x: float
    y: float
    ease: Ease = "inout"


def _ease(u: float, kind: Ease) -> float:
    if kind == "in":
        return u * u
    if kind == "out":
        return 1 - (1 - u) * (1 - u)
    if kind == "inout":
        return u * u * (3 - 2 * u)
    return u


@dataclass(frozen=True)
class Path:
    """Keyframed ground position; the actor exists from the first key to the last."""

    keys: tuple[Key, ...]

    def __post_init__(self) -> None:
        if len(self.keys) < 2:
            raise ValueError(f"a path needs at least 2 keys, got {len(self.keys)}")
        times = [k.t for k in self.keys]
        if times != sorted(times):
            raise ValueError(f"path keys must be in time order, got {times}")

    @property
    def start_s(self) -> float:
        return self.keys[0].t

    @property
    def end_s(self) -> float:
        return self.keys[-1].t

    def ground(self, t: float) -> tuple[float, float]:
        """The ground position at ``t``, clamped to the first/last key outside the path's span."""
        keys = self.keys
        if t <= keys[0].t:
            return keys[0].x, keys[0].y
        for a, b in itertools.pairwise(keys):
            if t <= b.t:
                span = b.t - a.t
                u = _ease((t - a.t) / span, b.ease) if span > 0 else 1.0
                return a.x + (b.x - a.x) * u, a.y + (b.y - a.y) * u
        return keys[-1].x, keys[-1].y

    def at(self, t: float) -> Pose | None:
        if not self.start_s <= t <= self.end_s:
            return None
        x, y = self.ground(t)
        x2, y2 = self.ground(t + 0.1)
        moving = abs(x2 - x) + abs(y2 - y) > 0.5
        return Pose(x, y, perspective(y), y, moving)


@dataclass(frozen=True)
class Carried:
    """An item a person carries during ``spans`` and that rests on the ground where it was put down.

    It appears at the start of the first span (taken from a vehicle or brought into view) and is
    gone after ``gone_s`` (None: stays to the end).  ``hand`` is the offset of the item's bottom
    centre from the carrier's feet, in pixels at perspective 1.0.  Putting down and picking up take
    ``bend_s`` seconds, in which the item moves between hand and ground.
    """

    carrier: Path
    spans: tuple[tuple[float, float], ...]
    hand: tuple[float, float] = (40.0, -52.0)
    rest_offset: float = -8.0
    gone_s: float | None = None
    bend_s: float = 0.6

    def _hand_pose(self, t: float) -> tuple[float, float, float]:
        x, y = self.carrier.ground(t)
        s = perspective(y)
        return x + self.hand[0] * s, y + self.hand[1] * s, y

    def _rest(self, t_down: float) -> tuple[float, float]:
        x, y = self.carrier.ground(t_down)
        return x + self.hand[0] * perspective(y), y + self.rest_offset

    def at(self, t: float) -> Pose | None:
        if t < self.spans[0][0] or (self.gone_s is not None and t > self.gone_s):
            return None
        for i, (t0, t1) in enumerate(self.spans):
            if t0 <= t <= t1:
                hx, hy, feet = self._hand_pose(t)
                if i > 0 and t < t0 + self.bend_s:  # picking up from where it lay
                    rx, ry = self._rest(self.spans[i - 1][1])
                    u = _ease((t - t0) / self.bend_s, "inout")
                    return Pose(rx + (hx - rx) * u, ry + (hy - ry) * u, perspective(feet), feet + 0.5, True)
                if t > t1 - self.bend_s and not (i == len(self.spans) - 1 and self.gone_s == t1):
                    rx, ry = self._rest(t1)
                    u = _ease((t1 - t) / self.bend_s, "inout")
                    return Pose(rx + (hx - rx) * u, ry + (hy - ry) * u, perspective(feet), feet + 0.5, True)
                return Pose(hx, hy, perspective(feet), feet + 0.5, True)
        down = max(t1 for _, t1 in self.spans if t1 < t)
        rx, ry = self._rest(down)
        return Pose(rx, ry, perspective(ry - self.rest_offset), ry, False)
