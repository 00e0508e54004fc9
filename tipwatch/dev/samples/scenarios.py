"""The scripted scenes: who moves where and when, and the events the detector should flag.

Times are seconds from the start of the clip.  The truth of each scene is written next to the
scripted times it comes from, so a change of timing changes the truth with it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tipwatch.dev.samples import sprites
from tipwatch.dev.samples.motion import Carried, Key, Motion, Path
from tipwatch.dev.samples.scene import Backdrop
from tipwatch.dev.samples.sprites import Sprite

logger = logging.getLogger(__name__)

EventType = Literal["dumping", "vehicle_visit"]

PERSON_HEIGHT = 190.0  # pixels at perspective 1.0 (ground row 450)
VEHICLE_HEIGHT = 225.0


@dataclass(frozen=True)
class TruthEvent:
    type: EventType
    start_s: float
    end_s: float

    def as_json(self) -> dict[str, object]:
        return {"type": self.type, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3)}


@dataclass(frozen=True)
class Actor:
    """Something drawn over the backdrop: a sprite, where it is, and how big it is at perspective 1."""

    name: str
    sprite: Callable[[], Sprite]
    motion: Motion
    height: float
    kind: Literal["person", "vehicle", "item"]


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    duration_s: float
    actors: tuple[Actor, ...]
    events: tuple[TruthEvent, ...]
    backdrop: Backdrop = "layby"
    cloud: tuple[float, float] | None = None  # a cloud shadow sweeps across between these times
    exposure_steps: tuple[tuple[float, float], ...] = ()  # (from t, gain factor): auto-exposure jumps
    drift_phase: float = 0.0

    def gain(self, t: float) -> float:
        """Global brightness at ``t``: a slow drift (sun and haze) times any exposure steps so far."""
        g = 1.0 + 0.045 * math.sin(2 * math.pi * t / 75.0 + self.drift_phase)
        for t0, factor in self.exposure_steps:
            if t >= t0:
                g *= factor
        return g


# ------------------------------------------------------------------ shared moves

PARK = (640.0, 462.0)  # where a vehicle stops in the lay-by (bottom centre)
BEHIND_VEHICLE = (525.0, 455.0)  # a driver getting out appears here, hidden by the vehicle
BESIDE_VEHICLE = (418.0, 466.0)  # ... and walks round its front


def _arrive_and_leave(arrive_s: float, stop_s: float, depart_s: float, gone_s: float) -> Path:
    """A vehicle comes in along the carriageway from the right, pulls into the lay-by, stops, leaves left."""
    return Path(
        (
            Key(arrive_s, 1260.0, 532.0),
            Key(stop_s, *PARK, ease="out"),
            Key(depart_s, *PARK, ease="linear"),
            Key(gone_s, -320.0, 532.0, ease="in"),
        )
    )


def _trip(
    appear_s: float, spot: tuple[float, float], reach_s: float, leave_s: float, vanish_s: float
) -> Path:
    """A driver gets out, walks to ``spot`` and stands there, walks back and gets in again."""
    return Path(
        (
            Key(appear_s, *BEHIND_VEHICLE),
            Key(appear_s + 1.0, *BESIDE_VEHICLE),
            Key(reach_s, *spot),
            Key(leave_s, *spot, ease="linear"),
            Key(vanish_s - 1.0, *BESIDE_VEHICLE),
            Key(vanish_s, *BEHIND_VEHICLE),
        )
    )


def _vehicle(name: str, path: Path, mirrored: bool = False) -> Actor:
    sprite = (lambda: sprites.vehicle().mirrored()) if mirrored else sprites.vehicle
    return Actor(name, sprite, path, VEHICLE_HEIGHT, "vehicle")


def _person(name: str, sprite: Callable[[], Sprite], path: Path) -> Actor:
    return Actor(name, sprite, path, PERSON_HEIGHT, "person")


def _item(name: str, sprite: Callable[[], Sprite], motion: Carried, height: float) -> Actor:
    return Actor(name, sprite, motion, height, "item")


# ------------------------------------------------------------------ the scenes


def dumping_layby() -> Scenario:
    duration = 90.0
    stop_s, depart_s = 8.0, 39.0
    van = _vehicle("vehicle", _arrive_and_leave(2.0, stop_s, depart_s, 46.0))
    # three trips from the vehicle to the verge, each putting one item down
    trips = [
        (10.0, (320.0, 308.0), 13.0, 14.5, 17.5),
        (19.0, (405.0, 306.0), 22.0, 23.5, 26.0),
        (27.5, (245.0, 310.0), 31.0, 32.5, 36.0),
    ]
    paths = [_trip(*trip) for trip in trips]
    actors = [van]
    for i, path in enumerate(paths):
        actors.append(_person(f"driver-trip-{i + 1}", sprites.person_a, path))
    put_down = [leave - 0.1 for (_, _, _, leave, _) in trips]
    actors.append(_item("bag-1", lambda: sprites.bin_bag(1), Carried(paths[0], ((10.0, put_down[0]),)), 58.0))
    actors.append(
        _item("box", lambda: sprites.cardboard_box(2), Carried(paths[1], ((19.0, put_down[1]),)), 52.0)
    )
    actors.append(
        _item(
            "mattress",
            lambda: sprites.mattress(3),
            Carried(paths[2], ((27.5, put_down[2]),), hand=(92.0, -40.0)),
            58.0,
        )
    )
    return Scenario(
        name="dumping_layby",
        summary=(
            "A minibus pulls into the lay-by and stops; the driver makes three trips to the verge with a "
            "black bin bag, a cardboard box and a mattress, leaves them there, gets back in and drives off. "
            "The waste stays in view for 44 s after the vehicle has gone."
        ),
        duration_s=duration,
        actors=tuple(actors),
        events=(
            TruthEvent("vehicle_visit", stop_s, depart_s),
            TruthEvent("dumping", put_down[0], duration),
        ),
        drift_phase=0.3,
    )


def drive_through() -> Scenario:
    eastbound = Path((Key(4.0, 1260.0, 532.0), Key(8.5, -320.0, 532.0, ease="linear")))
    westbound = Path((Key(22.0, -320.0, 520.0), Key(26.5, 1260.0, 520.0, ease="linear")))
    walker = Path((Key(31.0, -50.0, 345.0), Key(40.0, 1010.0, 352.0, ease="linear")))
    return Scenario(
        name="drive_through",
        summary=(
            "The minibus drives straight through along the carriageway without stopping, later another "
            "passes the other way, and a pedestrian walks past along the lay-by. Nothing to flag."
        ),
        duration_s=45.0,
        actors=(
            _vehicle("vehicle-1", eastbound),
            _vehicle("vehicle-2", westbound, mirrored=True),
            _person("pedestrian", sprites.person_b, walker),
        ),
        events=(),
        drift_phase=1.1,
    )


def park_and_leave() -> Scenario:
    stop_s, depart_s = 9.0, 29.0
    van = _vehicle("vehicle", _arrive_and_leave(3.0, stop_s, depart_s, 36.0))
    driver = _trip(12.0, (300.0, 372.0), 14.5, 22.0, 24.5)
    return Scenario(
        name="park_and_leave",
        summary=(
            "The minibus parks in the lay-by for 20 s; the driver gets out, stands about for a few "
            "seconds, gets back in and the vehicle leaves. Nothing is left behind: a vehicle visit, "
            "no dumping."
        ),
        duration_s=60.0,
        actors=(van, _person("driver", sprites.person_b, driver)),
        events=(TruthEvent("vehicle_visit", stop_s, depart_s),),
        drift_phase=2.0,
    )


def dog_walker() -> Scenario:
    walker = Path(
        (
            Key(3.0, -60.0, 340.0),
            Key(11.0, 470.0, 330.0, ease="linear"),
            Key(17.0, 470.0, 330.0, ease="linear"),
            Key(26.0, 1020.0, 345.0, ease="in"),
        )
    )
    dog = Carried(walker, ((3.0, 26.0),), hand=(42.0, -40.0), gone_s=26.0)
    return Scenario(
        name="dog_walker",
        summary=(
            "A person walks along the lay-by carrying a dog-sized object, pauses for 6 s, and walks on "
            "with it. Nothing is left behind."
        ),
        duration_s=50.0,
        actors=(_person("walker", sprites.person_a, walker), _item("dog", lambda: sprites.dog(4), dog, 50.0)),
        events=(),
        drift_phase=3.1,
    )


def cloud_shadow() -> Scenario:
    return Scenario(
        name="cloud_shadow",
        summary=(
            "An empty lay-by: a soft cloud shadow sweeps across from 6 s to 32 s, and at 42 s the camera's "
            "exposure jumps 22% brighter and stays there. Nothing to flag."
        ),
        duration_s=60.0,
        actors=(),
        events=(),
        cloud=(6.0, 32.0),
        exposure_steps=((42.0, 1.22),),
        drift_phase=4.2,
    )


def put_down_pick_up() -> Scenario:
    person = Path(
        (
            Key(3.0, -60.0, 335.0),
            Key(9.0, 430.0, 318.0, ease="out"),
            Key(10.5, 430.0, 318.0, ease="linear"),
            Key(13.0, 560.0, 336.0),
            Key(17.0, 560.0, 336.0, ease="linear"),
            Key(19.0, 430.0, 318.0),
            Key(20.5, 430.0, 318.0, ease="linear"),
            Key(28.0, 1020.0, 345.0, ease="in"),
        )
    )
    down_s, up_s = 10.0, 19.3
    bag = Carried(person, ((3.0, down_s), (up_s, 28.0)), gone_s=28.0)
    return Scenario(
        name="put_down_pick_up",
        summary=(
            "A person walks in with a black bin bag, puts it down on the verge, steps away for a few "
            "seconds, picks it up again 9 s later and walks off with it. Nothing is left behind."
        ),
        duration_s=60.0,
        actors=(
            _person("person", sprites.person_b, person),
            _item("bag", lambda: sprites.bin_bag(5), bag, 58.0),
        ),
        events=(),
        drift_phase=5.0,
    )


def dumping_no_vehicle() -> Scenario:
    person = Path(
        (
            Key(3.0, 1020.0, 430.0),
            Key(10.0, 520.0, 405.0, ease="out"),
            Key(12.0, 520.0, 405.0, ease="linear"),
            Key(20.0, -60.0, 440.0, ease="in"),
        )
    )
    down_s = 11.0
    bag = Carried(person, ((3.0, down_s),))
    tyre = Carried(person, ((3.0, down_s),), hand=(-42.0, -50.0))
    return Scenario(
        name="dumping_no_vehicle",
        summary=(
            "A back alley: a person on foot walks in with a black bin bag and a tyre, drops both in the "
            "alley and walks off. Dumping without a vehicle visit; the waste stays for 59 s."
        ),
        duration_s=70.0,
        actors=(
            _person("person", sprites.person_a, person),
            _item("bag", lambda: sprites.bin_bag(6), bag, 58.0),
            _item("tyre", lambda: sprites.tyre(7), tyre, 30.0),
        ),
        events=(TruthEvent("dumping", down_s, 70.0),),
        backdrop="alley",
        drift_phase=0.7,
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "dumping_layby": dumping_layby,
    "drive_through": drive_through,
    "park_and_leave": park_and_leave,
    "dog_walker": dog_walker,
    "cloud_shadow": cloud_shadow,
    "put_down_pick_up": put_down_pick_up,
    "dumping_no_vehicle": dumping_no_vehicle,
}
