"""Rules: vehicle visits and deposits → dumping, driven through their state machines in video time."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from detector_testutil import START, noisy, textured, with_bag

from detector.config import ThresholdsConfig
from detector.rules import RuleOutput, SiteRules
from detector.scene import SceneModel
from detector.types import Detections, ObjectClass
from detector.zones import PolygonZone

W, H = 320, 240
WHOLE = PolygonZone("frame", [(0, 0), (1, 0), (1, 1), (0, 1)])
LOWER = PolygonZone("lay-by", [(0, 0.5), (1, 0.5), (1, 1), (0, 1)])


def _rules(zones=(WHOLE,), fixtures=(), **thresholds) -> SiteRules:
    return SiteRules(ThresholdsConfig(**thresholds), list(zones), list(fixtures), (W, H))


def _dets(*objects: tuple[int, ObjectClass, tuple[float, float, float, float]]) -> Detections:
    if not objects:
        d = Detections.empty()
        d.tracker_id = np.zeros((0,), np.int64)
        return d
    return Detections(
        xyxy=[o[2] for o in objects],
        confidence=[0.9] * len(objects),
        class_id=[int(o[1]) for o in objects],
        tracker_id=[o[0] for o in objects],
    )


def _at(t: float):
    return START + timedelta(seconds=t)


def _drive(rules: SiteRules, script, until: float, step: float = 0.5) -> RuleOutput:
    """Feed ``script(t) -> Detections`` every ``step`` s; collect all outputs."""
    total = RuleOutput()
    t = 0.0
    while t <= until:
        out = rules.observe_tracks(t, _at(t), script(t))
        total.visits_started += out.visits_started
        total.visits_ended += out.visits_ended
        t += step
    return total


CAR_PARKED = (100.0, 140.0, 180.0, 200.0)


def _arriving(box: tuple[float, float, float, float], t: float, stop_s: float = 2.0):  # type: ignore[no-untyped-def]
    """``box`` at ``t``, driving in from the right until ``stop_s``, then standing there."""
    dx = max(0.0, stop_s - t) * 100.0
    return (box[0] + dx, box[1], box[2] + dx, box[3])


def test_vehicle_stopping_in_a_zone_is_a_visit_that_ends_when_it_leaves() -> None:
    rules = _rules(zones=(LOWER,))

    def script(t: float) -> Detections:
        if t < 2:  # arriving from the right
            x = 300 - 100 * t
            return _dets((1, ObjectClass.CAR, (x, 140, x + 80, 200)))
        if t < 20:
            return _dets((1, ObjectClass.CAR, CAR_PARKED))
        return _dets()

    out = _drive(rules, script, until=60)
    assert len(out.visits_started) == 1
    assert [v.visit_id for v in out.visits_ended] == [out.visits_started[0].visit_id]
    visit = out.visits_ended[0]
    assert visit.zone == "lay-by"
    assert 1.5 <= visit.started_s <= 2.5  # when it stopped, not when the stop was confirmed
    assert 19.0 <= visit.ended_s <= 20.0
    assert visit.started_at == _at(visit.started_s)
    assert not visit.present_at_start


def test_driving_through_is_not_a_visit() -> None:
    rules = _rules()

    def script(t: float) -> Detections:
        x = 320 - 15 * t  # slow, but never still
        return _dets((1, ObjectClass.VAN_TRUCK, (x, 140, x + 80, 200)))

    assert _drive(rules, script, until=20).visits_started == []


def test_stopping_outside_every_zone_is_not_a_visit() -> None:
    rules = _rules(zones=(LOWER,))
    out = _drive(rules, lambda t: _dets((1, ObjectClass.CAR, (100, 20, 180, 80))), until=20)
    assert out.visits_started == []


def test_a_person_standing_still_is_not_a_vehicle_visit() -> None:
    rules = _rules()
    out = _drive(rules, lambda t: _dets((1, ObjectClass.PERSON, (100, 100, 130, 190))), until=20)
    assert out.visits_started == []


def test_a_vehicle_parked_since_before_the_source_started_is_never_a_visit() -> None:
    """The issue's case: two vehicles parked throughout real footage were reported as visits."""
    rules = _rules()
    out = _drive(
        rules,
        lambda t: _dets((1, ObjectClass.CAR, CAR_PARKED), (2, ObjectClass.VAN_TRUCK, (200, 20, 300, 90))),
        until=60,
    )
    assert out.visits_started == [] and out.visits_ended == []
    assert rules.finish(60.0, _at(60.0), still_tracked={1, 2}).visits_ended == []
    # a new tracker id on the parked car (someone walked in front of it) did not arrive either
    out = _drive(rules, lambda t: _dets((3, ObjectClass.CAR, CAR_PARKED)), until=30)
    assert out.visits_started == []


def test_a_parked_vehicle_that_drives_off_and_comes_back_is_a_visit() -> None:
    rules = _rules()

    def script(t: float) -> Detections:
        if t < 10:
            return _dets((1, ObjectClass.CAR, CAR_PARKED))
        if t < 20:
            return _dets()  # drove off
        return _dets((2, ObjectClass.CAR, _arriving(CAR_PARKED, t, stop_s=22.0)))

    out = _drive(rules, script, until=40)
    assert len(out.visits_started) == 1 and 21.5 <= out.visits_started[0].started_s <= 22.5


def test_a_vehicle_stopping_again_within_the_cooldown_continues_its_visit() -> None:
    rules = _rules()

    def script(t: float) -> Detections:
        if t < 10:
            return _dets((1, ObjectClass.CAR, _arriving(CAR_PARKED, t)))
        if 15 <= t < 30:  # gone for 5 s in the middle (hidden by a lorry, say), back as a new track
            return _dets((2, ObjectClass.CAR, CAR_PARKED))
        return _dets()

    out = _drive(rules, script, until=80)
    assert len(out.visits_started) == 1
    assert len(out.visits_ended) == 1
    assert out.visits_ended[0].ended_s >= 29.0


def test_end_of_file_closes_an_active_visit() -> None:
    rules = _rules()
    out = _drive(rules, lambda t: _dets((1, ObjectClass.CAR, _arriving(CAR_PARKED, t))), until=10)
    assert len(out.visits_started) == 1 and out.visits_ended == []
    assert not out.visits_started[0].present_at_start
    closed = rules.finish(12.0, _at(12.0), still_tracked={1})  # still there when the file ends
    assert len(closed.visits_ended) == 1 and closed.visits_ended[0].ended_s == 12.0


def test_end_of_file_ends_a_visit_when_its_vehicle_was_last_seen_if_it_is_gone() -> None:
    rules = _rules()
    _drive(
        rules,
        lambda t: _dets((1, ObjectClass.CAR, _arriving(CAR_PARKED, t))) if t < 10 else _dets(),
        until=11,
    )
    closed = rules.finish(11.0, _at(11.0), still_tracked=set())
    assert len(closed.visits_ended) == 1 and closed.visits_ended[0].ended_s == 9.5


# ---------------------------------------------------------------------------------- deposits


class World:
    """A synthetic camera view fed through a real scene model and the rules together."""

    def __init__(self, rules: SiteRules, seed: int = 1) -> None:
        self.rules = rules
        self.scene = SceneModel()
        self.rng = np.random.default_rng(seed)
        self.ground = textured(H, W, seed=11)
        self.image = self.ground
        self.tracks = _dets()
        self.out = RuleOutput()

    def run(self, t0: float, t1: float, step: float = 0.5) -> None:
        t = t0
        while t < t1 - 1e-9:
            frame = noisy(self.image, self.rng)
            track_out = self.rules.observe_tracks(t, _at(t), self.tracks)
            mask = np.zeros((H, W), np.uint8)
            for b in self.tracks.xyxy:
                x1, y1, x2, y2 = (int(v) for v in b)
                mask[max(0, y1 - 10) : y2 + 10, max(0, x1 - 10) : x2 + 10] = 255
            regions = self.scene.update(frame, t, mask)
            out = self.rules.observe_scene(t, _at(t), regions, self.scene, frame)
            self.out.visits_started += track_out.visits_started
            self.out.visits_ended += track_out.visits_ended
            self.out.dumping += out.dumping
            self.out.joined += out.joined
            t += step


def test_bag_left_for_the_persistence_time_is_one_dumping_event() -> None:
    world = World(_rules(dumping_persistence_s=30))
    world.run(0, 3)
    world.image = with_bag(world.ground, 200, 150)
    world.run(3, 32)
    assert world.out.dumping == []  # not yet: persistence not met
    world.run(32, 40)
    assert len(world.out.dumping) == 1
    incident = world.out.dumping[0]
    assert 33.0 <= incident.confirmed_s <= 38.0
    assert incident.zone == "frame"
    x1, y1, x2, y2 = incident.box
    assert x1 < 200 < x2 and y1 < 150 < y2
    world.run(40, 60)
    assert len(world.out.dumping) == 1  # reported once, then part of the background


def test_persistence_counts_from_when_the_person_near_it_has_gone() -> None:
    world = World(_rules(dumping_persistence_s=20))
    world.run(0, 3)
    world.image = with_bag(world.ground, 200, 150)
    world.tracks = _dets((7, ObjectClass.PERSON, (215.0, 90.0, 245.0, 175.0)))  # standing beside it
    world.run(3, 25)
    world.tracks = _dets()
    world.run(25, 44)
    assert world.out.dumping == []
    world.run(44, 52)
    assert len(world.out.dumping) == 1
    assert world.out.dumping[0].confirmed_s >= 45.0
    assert world.out.dumping[0].people == {7}
    assert world.out.dumping[0].started_s <= 5.0  # the act: when the person was first there


def test_put_down_and_picked_up_again_is_not_dumping() -> None:
    world = World(_rules(dumping_persistence_s=20))
    world.run(0, 3)
    world.image = with_bag(world.ground, 200, 150)
    world.run(3, 15)
    world.image = world.ground
    world.run(15, 50)
    assert world.out.dumping == []


def test_a_fixture_never_alerts() -> None:
    bin_fixture = PolygonZone("litter bin", [(0.5, 0.5), (0.75, 0.5), (0.75, 0.75), (0.5, 0.75)])
    world = World(_rules(fixtures=(bin_fixture,), dumping_persistence_s=10))
    world.run(0, 3)
    world.image = with_bag(world.ground, 200, 150)  # (200, 150) is inside the fixture
    world.run(3, 30)
    assert world.out.dumping == []
    assert world.rules.stats["fixture_regions"] >= 1


def test_outside_the_hotspot_zone_is_ignored() -> None:
    world = World(_rules(zones=(LOWER,), dumping_persistence_s=10))
    world.run(0, 3)
    world.image = with_bag(world.ground, 200, 60)  # top half
    world.run(3, 30)
    assert world.out.dumping == []


def test_several_bags_from_one_visit_are_one_dumping_event_linked_to_it() -> None:
    world = World(_rules(dumping_persistence_s=15))
    van_box = (150.0, 150.0, 260.0, 215.0)
    world.tracks = _dets(
        (8, ObjectClass.VAN_TRUCK, (van_box[0] + 60, van_box[1], van_box[2] + 60, van_box[3]))
    )
    world.run(0, 1)  # the van drives in ...
    world.tracks = _dets((8, ObjectClass.VAN_TRUCK, van_box))
    world.run(1, 6)  # ... and stops: a visit
    assert len(world.out.visits_started) == 1
    world.image = with_bag(world.ground, 60, 120)
    world.run(6, 8)
    world.image = with_bag(with_bag(world.ground, 60, 120), 110, 200, rx=14, ry=10)
    world.run(8, 12)
    world.tracks = _dets()  # the van leaves
    world.run(12, 50)
    assert len(world.out.dumping) == 1
    assert len(world.out.joined) == 1  # the second bag joined the first event
    incident = world.out.dumping[0]
    assert incident.linked_visits == {world.out.visits_started[0].visit_id}
    assert len(incident.deposits) == 2


@pytest.mark.parametrize("gap_s", [20.0])
def test_a_later_separate_deposit_far_away_after_the_cooldown_is_a_new_event(gap_s: float) -> None:
    world = World(_rules(dumping_persistence_s=10, dumping_cooldown_s=15))
    world.run(0, 3)
    world.image = with_bag(world.ground, 60, 60)
    world.run(3, 20)
    assert len(world.out.dumping) == 1
    world.image = with_bag(with_bag(world.ground, 60, 60), 260, 200)
    world.run(20, 20 + gap_s + 20)
    assert len(world.out.dumping) == 2


def test_a_camera_move_does_not_make_a_parked_car_an_arrival() -> None:
    """A knock shifts a parked car's box by the camera's move; the pipeline tells the rules
    (``camera_moved``) and the car's earlier positions no longer count as 'somewhere else'."""
    stop = ThresholdsConfig().vehicle_stop_s
    rules = _rules()
    t, total = 0.0, RuleOutput()
    while t <= stop + 10.0:
        shift = 25.0 if t >= 5.0 else 0.0  # beyond the stationary radius (20 px for this car)
        box = (CAR_PARKED[0] + shift, CAR_PARKED[1], CAR_PARKED[2] + shift, CAR_PARKED[3])
        total.visits_started += rules.observe_tracks(
            t, _at(t), _dets((2, ObjectClass.CAR, box))
        ).visits_started
        if t == 6.0:  # the registration reports the move a second after it happened
            rules.camera_moved(t)
        t += 0.5
    assert total.visits_started == []
