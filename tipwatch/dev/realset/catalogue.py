"""The catalogue of real-footage scenes: 27 with deposits and 18 controls, each naming its conditions.

Spots are vtest pixels (bottom centre of a pile on the ground), times seconds from the clip start;
the truth follows from each script (:meth:`RealScene.truth`).
"""

from __future__ import annotations

import logging
from typing import Literal

from tipwatch.dev.realset.conditions import (
    ColourTemperature,
    Corrupt,
    ExposureStep,
    Foliage,
    Gain,
    InfraredSwitch,
    Insects,
    Nudge,
    Rain,
    Resize,
    Shake,
    Snow,
    StreamFaults,
)
from tipwatch.dev.realset.footage import LAMP_POST
from tipwatch.dev.realset.scenes import Deposit, Drive, Item, Point, RealScene, Walk

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------ building blocks

BAG = (Item("bag", 0.7, 1),)
# spots on the real street (bottom centre of the pile)
GRASS_BOTTOM_EDGE = (150.0, 568.0)  # the case: near the bottom of the picture
GRASS_CENTRE = (250.0, 470.0)
LEFT_EDGE = (18.0, 420.0)
RIGHT_GRASS = (700.0, 560.0)
FAR_GRASS = (170.0, 122.0)  # small and far: the lawn beyond the car park
ROAD = (560.0, 330.0)
PAVEMENT = (330.0, 300.0)
CAR_PARK = (120.0, 190.0)  # the dark tarmac of the car park, top left
BEHIND_POST = (LAMP_POST[0] + 6.0, 378.0)


def _carry(
    spot: Point,
    t_down: float,
    start: Point,
    end: Point,
    who: Literal["a", "b"] = "a",
    stay_s: float = 1.0,
    speed: float = 70.0,
) -> Walk:
    """Someone walks from ``start`` to the spot, puts the items down at ``t_down``, stays ``stay_s``
    seconds beside them and walks to ``end`` (``speed`` px/s, about walking pace near the camera)."""
    beside = (spot[0] + 30.0, spot[1] + 2.0)

    def dist(a: Point, b: Point) -> float:
        return float(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5)

    t0 = t_down - dist(start, beside) / speed
    t2 = t_down + stay_s
    t3 = t2 + dist(beside, end) / speed
    return Walk(((t0, *start), (t_down, *beside), (t2, *beside), (t3, *end)), who)


def _drop(spot: Point, at: float, items: tuple[Item, ...] = BAG, **kw: object) -> Deposit:
    return Deposit(items, spot, at, **kw)  # type: ignore[arg-type]


def _brought(
    spot: Point,
    at: float,
    items: tuple[Item, ...] = BAG,
    start: Point = (-40.0, 520.0),
    end: Point = (-40.0, 540.0),
    stay_s: float = 1.0,
    who: Literal["a", "b"] = "a",
    removed_s: float | None = None,
) -> Deposit:
    walk = _carry(spot, at, start, end, who, stay_s)
    return Deposit(items, spot, at, removed_s=removed_s, bringer=walk)


CAR_BOOT = (
    Item("bag", 0.7, 2, (-28.0, 0.0)),
    Item("bag", 0.65, 3, (26.0, 4.0)),
    Item("box", 0.5, 4, (0.0, 10.0)),
)
VAN_LOAD = (
    Item("mattress", 0.85, 5, (-60.0, -6.0)),
    Item("box", 0.5, 6, (40.0, 0.0)),
    Item("box", 0.45, 7, (80.0, 6.0)),
    Item("bag", 0.7, 8, (-20.0, 10.0)),
    Item("bag", 0.7, 9, (10.0, 14.0)),
    Item("tyre", 0.35, 10, (60.0, 18.0)),
    Item("panel", 0.6, 11, (-95.0, 12.0)),
)


def _van(stop_s: float, go_s: float, at_x: float = 560.0, y: float = 300.0) -> Drive:
    """A minibus comes along the road from the right, stops at ``at_x``, later drives off left."""
    return Drive(
        ((stop_s - 5.0, 900.0, y), (stop_s, at_x, y), (go_s, at_x, y), (go_s + 8.0, -250.0, y)),
        stop_s,
        go_s,
        mirrored=False,
    )


def scenes() -> list[RealScene]:
    """Every scene of the set, positives and controls (see docs/detection.md for the table)."""
    s: list[RealScene] = []

    def add(name: str, summary: str, conditions: tuple[str, ...], **kw: object) -> None:
        s.append(RealScene(name, summary, conditions, **kw))  # type: ignore[arg-type]

    # --- sizes and places, on the plain street
    add(
        "bag_bottom_edge",
        "a black sack appears on the grass at the bottom edge",
        ("single_bag", "edge", "appears_between_samples"),
        deposits=(_drop(GRASS_BOTTOM_EDGE, 20.0),),
    )
    add(
        "bag_grass_centre",
        "a black sack appears on the lawn",
        ("single_bag", "centre", "appears_between_samples"),
        deposits=(_drop(GRASS_CENTRE, 25.0),),
    )
    add(
        "bag_left_edge",
        "a sack half out of the picture at the left edge",
        ("single_bag", "edge", "partly_hidden"),
        deposits=(_drop(LEFT_EDGE, 22.0),),
    )
    add(
        "bag_far_small",
        "a sack on the far lawn, small and far away",
        ("single_bag", "small_far"),
        deposits=(_drop(FAR_GRASS, 20.0),),
    )
    add(
        "bag_behind_post",
        "a sack behind the lamp post",
        ("single_bag", "partly_hidden"),
        deposits=(Deposit(BAG, BEHIND_POST, 24.0, occluder=LAMP_POST),),
    )
    add(
        "box_on_road",
        "a cardboard box on the road",
        ("single_item", "pale_on_pale"),
        deposits=(_drop(ROAD, 20.0, (Item("box", 0.5, 12),)),),
    )
    add(
        "mattress_on_pavement",
        "a pale mattress on the pale concrete",
        ("single_item", "pale_on_pale"),
        deposits=(_drop(PAVEMENT, 22.0, (Item("mattress", 0.9, 13),)),),
    )
    add(
        "tyre_dark_tarmac",
        "a tyre on the dark car-park tarmac",
        ("single_item", "dark_on_dark"),
        deposits=(_drop(CAR_PARK, 20.0, (Item("tyre", 0.4, 14),)),),
    )
    add(
        "car_boot_load",
        "two sacks and a box put down together",
        ("car_boot_load", "centre"),
        deposits=(_drop((300.0, 520.0), 21.0, CAR_BOOT),),
    )
    add(
        "van_load_by_van",
        "a minibus stops, a man carries a van load to the verge, the bus leaves",
        ("van_load", "vehicle_and_person", "visible_person"),
        deposits=(
            Deposit(
                VAN_LOAD,
                (330.0, 430.0),
                22.0,
                bringer=_carry((330.0, 430.0), 22.0, (520.0, 305.0), (520.0, 305.0), "b", 1.0),
                vehicle=_van(10.0, 32.0),
            ),
        ),
        duration_s=110.0,
    )
    # --- a person brings it, stays beside it, or only stands there
    add(
        "bag_carried_in",
        "a man walks in with a sack, puts it down and walks off",
        ("single_bag", "visible_person"),
        deposits=(_brought(GRASS_CENTRE, 24.0),),
    )
    add(
        "person_stands_beside",
        "a man puts a sack down and stands beside it for 30 s before leaving",
        ("single_bag", "visible_person", "person_beside"),
        deposits=(_brought((200.0, 500.0), 15.0, stay_s=30.0),),
        duration_s=115.0,
    )
    add(
        "control_person_stands",
        "a man walks in, stands still for 45 s and walks off; nothing left",
        ("control", "person_beside"),
        people=(
            Walk(
                ((10.0, -40.0, 520.0), (14.0, 230.0, 505.0), (59.0, 230.0, 505.0), (63.0, -40.0, 530.0)), "b"
            ),
        ),
    )
    add(
        "bag_taken_after_60s",
        "a sack is left and taken away again a minute later",
        ("single_bag", "removed_after_60s"),
        deposits=(_drop(GRASS_CENTRE, 15.0, removed_s=75.0),),
    )
    add(
        "control_bag_taken_after_10s",
        "a sack is put down and picked up again 10 s later",
        ("control", "removed_after_10s"),
        deposits=(_drop(GRASS_CENTRE, 30.0, removed_s=40.0),),
    )
    # --- vehicles
    add(
        "control_parked_vehicles",
        "the plain street: people walk, two vehicles stay parked",
        ("control", "parked_vehicles"),
    )
    add(
        "control_van_stops",
        "a minibus stops on the road for 25 s and drives on; nothing left",
        ("control", "vehicle_visit_only"),
        vehicles=(_van(12.0, 37.0),),
    )
    # --- lighting
    dim = Gain(5.0, 45.0, 1.0, 0.7, tag="slow_dimming")
    add(
        "bag_after_slow_dimming",
        "the picture dims by 30 % over 40 s, then a sack appears",
        ("single_bag", "slow_dimming"),
        deposits=(_drop(GRASS_BOTTOM_EDGE, 50.0),),
        effects=(dim,),
        duration_s=105.0,
    )
    add(
        "control_slow_dimming",
        "the picture dims by 30 % over 40 s",
        ("control", "slow_dimming"),
        effects=(dim,),
    )
    step = Gain(40.0, 40.0, 1.0, 1.35, tag="sudden_gain")
    add(
        "bag_then_exposure_jump",
        "a sack appears, then auto-exposure brightens the picture by 35 %",
        ("single_bag", "sudden_gain"),
        deposits=(_drop(GRASS_CENTRE, 22.0),),
        effects=(step,),
    )
    add(
        "control_exposure_jumps",
        "auto-exposure jumps up then down",
        ("control", "sudden_gain"),
        effects=(
            Gain(30.0, 30.0, 1.0, 1.35, tag="sudden_gain"),
            Gain(60.0, 60.0, 1.0, 0.7, tag="sudden_gain"),
        ),
    )
    add(
        "control_exposure_and_black_level",
        "auto-exposure brightens by 35 % and lifts the black level at once, and stays so",
        ("control", "sudden_gain"),
        effects=(ExposureStep(30.0, 1.35, 20.0),),
    )
    add(
        "bag_then_exposure_and_black_level",
        "a sack appears, then the picture darkens by 30 % and its blacks crush",
        ("single_bag", "sudden_gain"),
        deposits=(_drop(GRASS_CENTRE, 22.0),),
        effects=(ExposureStep(40.0, 0.7, -20.0),),
    )
    warm = ColourTemperature(35.0)
    add(
        "bag_then_white_balance",
        "a sack appears, then the white balance shifts warm",
        ("single_bag", "colour_temperature"),
        deposits=(_drop(RIGHT_GRASS, 20.0),),
        effects=(warm,),
    )
    add(
        "control_white_balance",
        "the white balance shifts warm",
        ("control", "colour_temperature"),
        effects=(warm,),
    )
    ir = InfraredSwitch(15.0)
    add(
        "bag_after_ir_switch",
        "the camera switches to infrared night mode, then a sack appears",
        ("single_bag", "ir_switch"),
        deposits=(_drop(GRASS_CENTRE, 30.0),),
        effects=(ir,),
    )
    add(
        "control_ir_switch",
        "the camera switches to infrared night mode",
        ("control", "ir_switch"),
        effects=(ir,),
    )
    # --- the camera moves
    add(
        "bag_after_nudge",
        "the camera is knocked 6 px sideways, then a sack appears",
        ("single_bag", "camera_nudge"),
        deposits=(_drop(GRASS_CENTRE, 35.0),),
        effects=(Nudge(18.0, 6.0, 0.0),),
    )
    add(
        "bag_then_nudge",
        "a sack appears, then the camera is knocked 5 px down",
        ("single_bag", "camera_nudge"),
        deposits=(_drop(GRASS_BOTTOM_EDGE, 18.0),),
        effects=(Nudge(36.0, 0.0, 5.0),),
    )
    add(
        "control_nudge_6px",
        "the camera is knocked 6 px sideways",
        ("control", "camera_nudge"),
        effects=(Nudge(25.0, 6.0, 0.0),),
    )
    add(
        "control_nudge_2px",
        "the camera is knocked 2 px",
        ("control", "camera_nudge"),
        effects=(Nudge(25.0, 2.0, 1.0),),
    )
    add(
        "control_rotation",
        "the camera turns by 1 degree",
        ("control", "camera_rotation"),
        effects=(Nudge(25.0, 0.0, 0.0, 1.0, tag="camera_rotation"),),
    )
    add(
        "control_shake",
        "the pole shakes for 8 s and settles",
        ("control", "camera_shake"),
        effects=(Shake(30.0, 38.0),),
    )
    add(
        "bag_during_shake",
        "a sack appears, then the pole shakes for 8 s",
        ("single_bag", "camera_shake"),
        deposits=(_drop(GRASS_CENTRE, 20.0),),
        effects=(Shake(40.0, 48.0),),
    )
    # --- weather and things near the lens
    add(
        "bag_in_rain",
        "a sack appears in the rain",
        ("single_bag", "rain"),
        deposits=(_drop(GRASS_CENTRE, 22.0),),
        effects=(Rain(),),
    )
    add("control_rain", "rain", ("control", "rain"), effects=(Rain(),))
    add(
        "bag_in_snow",
        "a sack appears while it snows",
        ("single_bag", "snow"),
        deposits=(_drop(RIGHT_GRASS, 22.0),),
        effects=(Snow(),),
    )
    add("control_snow", "snow", ("control", "snow"), effects=(Snow(),))
    add(
        "control_insects_ir",
        "insects at the IR lamp at night",
        ("control", "insects", "ir_switch"),
        effects=(InfraredSwitch(0.0), Insects()),
    )
    add(
        "bag_by_foliage",
        "a tree sways in front of the top left; a sack appears on the lawn",
        ("single_bag", "foliage"),
        deposits=(_drop(GRASS_CENTRE, 22.0),),
        effects=(Foliage(),),
    )
    add(
        "control_foliage",
        "a tree sways in front of the top left of the picture",
        ("control", "foliage"),
        effects=(Foliage(),),
    )
    # --- the stream
    add(
        "bag_after_resolution_change",
        "the stream reconnects at 640×480, then a sack appears",
        ("single_bag", "resolution_change"),
        deposits=(_drop(GRASS_CENTRE, 30.0),),
        effects=(Resize(15.0),),
        container="ts",
    )
    add(
        "control_resolution_change",
        "the stream reconnects at 640×480",
        ("control", "resolution_change"),
        effects=(Resize(30.0),),
        container="ts",
    )
    add(
        "bag_dropped_frames",
        "a sack appears; a fifth of the frames are lost on the way",
        ("single_bag", "dropped_frames"),
        deposits=(_drop(GRASS_CENTRE, 22.0),),
        faults=StreamFaults(drop_share=0.2),
    )
    add(
        "bag_frozen_frames",
        "a sack appears; the picture freezes twice for 4 s",
        ("single_bag", "frozen_frames"),
        deposits=(_drop(GRASS_BOTTOM_EDGE, 22.0),),
        faults=StreamFaults(freeze=((30.0, 34.0), (60.0, 64.0))),
    )
    add(
        "bag_corrupt_frames",
        "a sack appears; 3 % of frames are damaged",
        ("single_bag", "corrupt_frames"),
        deposits=(_drop(GRASS_CENTRE, 22.0),),
        effects=(Corrupt(),),
    )
    add(
        "control_stream_faults",
        "lost, frozen and damaged frames",
        ("control", "dropped_frames", "frozen_frames", "corrupt_frames"),
        effects=(Corrupt(),),
        faults=StreamFaults(drop_share=0.2, freeze=((30.0, 34.0),)),
    )
    # damage in the compressed stream (not in the pictures): it smears until the next keyframe (25 s)
    damage = StreamFaults(bitstream_damage=(20.0, 40.0, 60.0, 80.0), damage_bytes=3, seed=3)
    add(
        "control_bitstream_damage",
        "the plain street through a lossy link: four damaged packets, each smeared until the next keyframe",
        ("control", "parked_vehicles"),
        faults=damage,
    )
    add(
        "bag_with_bitstream_damage",
        "a sack appears on the lawn; four damaged packets smear the picture",
        ("single_bag", "centre"),
        deposits=(_drop(GRASS_CENTRE, 25.0),),
        faults=StreamFaults(bitstream_damage=(15.0, 35.0, 55.0, 75.0), damage_bytes=3, seed=11),
    )
    return s


def scene(name: str) -> RealScene:
    for sc in scenes():
        if sc.name == name:
            return sc
    raise KeyError(f"no real-footage scene {name!r}")
