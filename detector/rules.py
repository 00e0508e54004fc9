"""Site rules: vehicle visits and deposits → dumping, as small state machines driven by video time.

- A **vehicle visit** starts when a tracked vehicle has stayed still for ``vehicle_stop_s`` with its
  ground point inside a hotspot zone, and ends once the vehicle has been gone (lost, or out of the
  zone) for ``vehicle_leave_s``.  A vehicle stopping again at the same spot within
  ``visit_cooldown_s`` continues the same visit, so a visit is final only after its cooldown.
- A **deposit** (a new static region from the scene model) becomes a **dumping** event once it has
  persisted ``dumping_persistence_s`` after the last person or vehicle near it has gone, and the
  scene model's before/now check still says it is new.  It is linked to the vehicle visits and
  people seen near it when it appeared.
- **One event per incident**: deposits that qualify near an event confirmed within
  ``dumping_cooldown_s`` (close by, or sharing a linked visit) join that event instead of raising
  another.  Regions inside a **fixture** never alert and outside every hotspot zone are ignored.

The rules never touch pixels except through the scene model's ``still_new``/``absorb``; they
return :class:`RuleOutput` decisions that the pipeline turns into events with evidence.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from detector.config import ThresholdsConfig
from detector.scene import SceneModel, StaticRegion
from detector.types import Detections, ObjectClass, Track, TrackPoint
from detector.zones import PolygonZone, anchor_point, first_zone_containing

logger = logging.getLogger(__name__)

RULE_VERSION = "rules/1"
Box = tuple[float, float, float, float]


@dataclass(slots=True)
class VehicleVisit:
    """A vehicle stopped in a hotspot zone."""

    visit_id: int
    track_id: int
    object_class: ObjectClass
    zone: str
    started_s: float
    started_at: datetime
    box: Box
    last_seen_s: float
    last_seen_at: datetime
    ended_s: float | None = None
    ended_at: datetime | None = None
    event_id: str | None = None  # set by the pipeline when it mints the event id at the start
    present_at_start: bool = False  # already standing there when the source started: arrival unseen
    deposits: int = 0

    @property
    def active(self) -> bool:
        return self.ended_s is None


@dataclass(slots=True)
class DepositState:
    """What the rules know about one scene region."""

    region_id: int
    first_seen_s: float
    first_seen_at: datetime
    box: tuple[int, int, int, int]
    zone: str
    clear_since_s: float
    act_s: float
    linked_visits: set[int] = field(default_factory=set)
    people: set[int] = field(default_factory=set)
    vehicles: set[int] = field(default_factory=set)


@dataclass(slots=True)
class DumpingIncident:
    """One dumping event: the first qualifying deposit and any that joined it."""

    incident_id: int
    zone: str
    started_s: float
    started_at: datetime
    confirmed_s: float
    confirmed_at: datetime
    box: tuple[int, int, int, int]
    before_s: float  # a time before anything was left: for the "before" still
    deposits: list[DepositState]
    linked_visits: set[int]
    people: set[int]
    vehicles: set[int]

    @property
    def area_px(self) -> int:
        return sum((d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) for d in self.deposits)


@dataclass(slots=True)
class RuleOutput:
    """Decisions from one step, for the pipeline to act on."""

    visits_started: list[VehicleVisit] = field(default_factory=list)
    visits_ended: list[VehicleVisit] = field(default_factory=list)  # final (cooldown passed)
    dumping: list[DumpingIncident] = field(default_factory=list)
    joined: list[tuple[DumpingIncident, DepositState]] = field(default_factory=list)


def _expand(box: Box, frac: float, px: float) -> Box:
    w, h = box[2] - box[0], box[3] - box[1]
    return (box[0] - w * frac - px, box[1] - h * frac - px, box[2] + w * frac + px, box[3] + h * frac + px)


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _containment(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over the smaller box's area."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class SiteRules:
    """Vehicle-visit and dumping state machines for one camera."""

    def __init__(
        self,
        thresholds: ThresholdsConfig,
        zones: Sequence[PolygonZone],
        fixtures: Sequence[PolygonZone],
        frame_size: tuple[int, int],
    ) -> None:
        self.t = thresholds
        self.zones = list(zones)
        self.fixtures = list(fixtures)
        self.width, self.height = frame_size
        self.tracks: dict[int, Track] = {}
        self.visits: dict[int, VehicleVisit] = {}
        self._closing: dict[int, float] = {}  # visit id -> video time it may be finalised
        self.deposits: dict[int, DepositState] = {}
        self.incidents: list[DumpingIncident] = []
        self._next_visit = 1
        self._next_incident = 1
        self._ignored: set[int] = set()
        self._class_votes: dict[int, dict[int, float]] = {}
        self._first_t: float | None = None
        self.stats = {"fixture_regions": 0, "out_of_zone_regions": 0, "rejected_before_now": 0}

    # -- tracks and vehicle visits --------------------------------------------------------------
    def observe_tracks(self, t: float, at: datetime, tracked: Detections) -> RuleOutput:
        """Update tracks and visits after a detector run (``tracked`` has tracker ids)."""
        out = RuleOutput()
        if self._first_t is None:
            self._first_t = t
        seen: set[int] = set()
        ids = tracked.tracker_id if tracked.tracker_id is not None else np.zeros(len(tracked), np.int64)
        for box_arr, conf, cls_id, tid in zip(
            tracked.xyxy, tracked.confidence, tracked.class_id, ids, strict=True
        ):
            tid = int(tid)
            box = (float(box_arr[0]), float(box_arr[1]), float(box_arr[2]), float(box_arr[3]))
            point = TrackPoint(video_time_s=t, captured_at=at, xyxy=box, confidence=float(conf))
            track = self.tracks.get(tid)
            if track is None:
                track = Track(
                    track_id=tid, object_class=ObjectClass(int(cls_id)), first_seen=point, last_seen=point
                )
                self.tracks[tid] = track
            # A track's class is the confidence-weighted vote of its detections: one frame where
            # the detector calls a person beside a van "bus" must not make the person a vehicle.
            votes = self._class_votes.setdefault(tid, {})
            votes[int(cls_id)] = votes.get(int(cls_id), 0.0) + float(conf)
            track.object_class = ObjectClass(max(votes, key=lambda c: votes[c]))
            track.last_seen = point
            track.history.append(point)
            if len(track.history) > 600:
                del track.history[:100]
            if float(conf) > track.best_confidence:
                track.best_confidence = float(conf)
            seen.add(tid)
            zone = first_zone_containing(self.zones, *anchor_point(box), self.width, self.height)
            track.in_zones = {zone} if zone else set()
            if track.object_class.is_vehicle:
                self._vehicle_step(track, t, at, out)
        self._end_gone_visits(t, out)
        # Forget tracks that ended long before anything could still link to them.
        horizon = t - self.t.link_lookback_s - self.t.dumping_persistence_s
        for tid in [
            k for k, tr in self.tracks.items() if tr.last_seen.video_time_s < horizon and k not in seen
        ]:
            del self.tracks[tid]
            self._class_votes.pop(tid, None)
        return out

    def _stationary_since(self, track: Track, t: float) -> float | None:
        """Video time since which the track has stayed (within a small radius) where it is now."""
        last = track.last_seen.xyxy
        cx, cy = (last[0] + last[2]) / 2, (last[1] + last[3]) / 2
        radius = max(6.0, 0.2 * math.hypot(last[2] - last[0], last[3] - last[1]))
        since: float | None = None
        for p in reversed(track.history):
            px, py = (p.xyxy[0] + p.xyxy[2]) / 2, (p.xyxy[1] + p.xyxy[3]) / 2
            if math.hypot(px - cx, py - cy) > radius:
                break
            since = p.video_time_s
        return since

    def _vehicle_step(self, track: Track, t: float, at: datetime, out: RuleOutput) -> None:
        since = self._stationary_since(track, t)
        track.stationary_since_s = since
        visit = next((v for v in self.visits.values() if v.track_id == track.track_id), None)
        zone = next(iter(track.in_zones), None)
        if visit is not None:
            if zone is not None and (visit.ended_s is None or visit.visit_id in self._closing):
                visit.last_seen_s, visit.last_seen_at, visit.box = t, at, track.last_seen.xyxy
            return
        if zone is None or since is None or t - since < self.t.vehicle_stop_s:
            return
        # A second track on a vehicle already visiting (an id switch, a box split by someone walking
        # in front of it) is the same visit, not a new one.
        for other in self.visits.values():
            if other.active and other.zone == zone and _containment(other.box, track.last_seen.xyxy) > 0.5:
                other.last_seen_s, other.last_seen_at = t, at
                return
        # A stop at the spot of a visit that ended within the cooldown continues that visit.
        for vid, final_at in list(self._closing.items()):
            old = self.visits[vid]
            if old.zone == zone and _iou(old.box, track.last_seen.xyxy) > 0.3 and t <= final_at:
                del self._closing[vid]
                old.track_id, old.ended_s, old.ended_at = track.track_id, None, None
                old.last_seen_s, old.last_seen_at, old.box = t, at, track.last_seen.xyxy
                logger.info("visit %d resumed by track %d", vid, track.track_id)
                return
        started_at = at - timedelta(seconds=t - since)
        visit = VehicleVisit(
            visit_id=self._next_visit,
            track_id=track.track_id,
            object_class=track.object_class,
            zone=zone,
            started_s=since,
            started_at=started_at,
            box=track.last_seen.xyxy,
            last_seen_s=t,
            last_seen_at=at,
            present_at_start=self._first_t is not None and since - self._first_t < 1.0,
        )
        self._next_visit += 1
        self.visits[visit.visit_id] = visit
        out.visits_started.append(visit)
        logger.info(
            "visit %d: %s track %d stopped in zone %s at t=%.1f",
            visit.visit_id,
            track.object_class.name,
            track.track_id,
            zone,
            since,
        )

    def _end_gone_visits(self, t: float, out: RuleOutput) -> None:
        for visit in self.visits.values():
            if visit.active and t - visit.last_seen_s >= self.t.vehicle_leave_s:
                visit.ended_s, visit.ended_at = visit.last_seen_s, visit.last_seen_at
                self._closing[visit.visit_id] = t + self.t.visit_cooldown_s
                logger.info("visit %d: vehicle gone at t=%.1f", visit.visit_id, visit.ended_s)
        for vid, final_at in list(self._closing.items()):
            if t >= final_at:
                del self._closing[vid]
                out.visits_ended.append(self.visits[vid])

    # -- deposits and dumping -------------------------------------------------------------------
    def _near_tracks(self, box: Sequence[float], since: float) -> list[Track]:
        near = []
        for track in self.tracks.values():
            if track.last_seen.video_time_s < since:
                continue
            for p in reversed(track.history):
                if p.video_time_s < since:
                    break
                if _overlaps(_expand(p.xyxy, 0.3, 8.0), box):
                    near.append(track)
                    break
        return near

    def _linked_visits(
        self, box: Sequence[float], near: Sequence[Track], first_seen_s: float, lookback: float
    ) -> set[int]:
        """Visits whose vehicle stood close to the deposit, or whose occupants walked to it: a
        person seen near the deposit who was also at the vehicle during the visit."""
        linked = set()
        people = [tr for tr in near if tr.object_class is ObjectClass.PERSON]
        for v in self.visits.values():
            if v.started_s > first_seen_s or (v.ended_s is not None and v.ended_s < lookback):
                continue
            if _overlaps(_expand(v.box, 0.75, 8.0), box):
                linked.add(v.visit_id)
                continue
            end = v.ended_s if v.ended_s is not None else first_seen_s
            near_vehicle = _expand(v.box, 0.2, 8.0)
            for person in people:
                if any(
                    v.started_s - 5.0 <= p.video_time_s <= end + 5.0 and _overlaps(p.xyxy, near_vehicle)
                    for p in person.history
                ):
                    linked.add(v.visit_id)
                    break
        return linked

    def _busy_now(self, box: Sequence[float], t: float, tracked_recently_s: float) -> bool:
        for track in self.tracks.values():
            if t - track.last_seen.video_time_s <= tracked_recently_s and _overlaps(
                _expand(track.last_seen.xyxy, 0.3, 8.0), box
            ):
                return True
        return False

    def _region_zone(self, region: StaticRegion, mask_shape: tuple[int, int]) -> tuple[str | None, bool]:
        x1, y1, x2, y2 = region.box
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        for fixture in self.fixtures:
            region_mask = np.zeros(mask_shape, np.uint8)
            region_mask[max(0, y1) : y2, max(0, x1) : x2] = 255
            if fixture.contains(cx, cy, self.width, self.height) or fixture.overlap(region_mask) > 0.3:
                return None, True
        return first_zone_containing(self.zones, cx, cy, self.width, self.height), False

    def observe_scene(
        self,
        t: float,
        at: datetime,
        regions: Sequence[StaticRegion],
        scene: SceneModel,
        image: npt.NDArray[np.uint8],
        motion_busy: dict[int, bool] | None = None,
        tracked_recently_s: float = 1.5,
    ) -> RuleOutput:
        """Advance the deposit machines after a scene sample.

        ``motion_busy`` says, per region id, whether motion overlaps it now (someone undetected
        moving there), which restarts its persistence clock like a tracked person would.
        """
        out = RuleOutput()
        live = {r.region_id for r in regions}
        for rid in [k for k in self.deposits if k not in live]:
            logger.debug("deposit %d: region gone before it qualified (picked up?)", rid)
            del self.deposits[rid]
        self._ignored &= live
        for region in regions:
            rid = region.region_id
            if rid in self._ignored:
                continue
            state = self.deposits.get(rid)
            if state is None:
                zone, is_fixture = self._region_zone(region, (self.height, self.width))
                if is_fixture or zone is None:
                    key = "fixture_regions" if is_fixture else "out_of_zone_regions"
                    self.stats[key] += 1
                    scene.absorb(rid, image)
                    continue
                lookback = region.first_seen_s - self.t.link_lookback_s
                near = self._near_tracks(region.box, lookback)
                # The act: when the people who were at it first got there (a vehicle that merely
                # drove past earlier is not the act); vehicles only when no person was seen.
                people_near = [tr for tr in near if tr.object_class is ObjectClass.PERSON]
                act_s = min(
                    (
                        p.video_time_s
                        for tr in people_near or near
                        for p in tr.history
                        if p.video_time_s >= lookback and _overlaps(_expand(p.xyxy, 0.3, 8.0), region.box)
                    ),
                    default=region.first_seen_s,
                )
                linked = self._linked_visits(region.box, near, region.first_seen_s, lookback)
                state = DepositState(
                    region_id=rid,
                    first_seen_s=region.first_seen_s,
                    first_seen_at=at - timedelta(seconds=t - region.first_seen_s),
                    box=region.box,
                    zone=zone,
                    clear_since_s=region.first_seen_s,
                    act_s=min(act_s, region.first_seen_s),
                    linked_visits=linked,
                    people={tr.track_id for tr in near if tr.object_class is ObjectClass.PERSON},
                    vehicles={tr.track_id for tr in near if tr.object_class.is_vehicle},
                )
                self.deposits[rid] = state
                logger.debug(
                    "deposit %d: new static region in zone %s at t=%.1f, box %s", rid, zone, t, region.box
                )
            state.box = region.box
            if (
                region.occluded
                or (motion_busy or {}).get(rid, False)
                or self._busy_now(region.box, t, tracked_recently_s)
            ):
                state.clear_since_s = t
                continue
            if t - state.clear_since_s < self.t.dumping_persistence_s:
                continue
            self._decide(state, t, at, scene, image, out)
        return out

    def _decide(
        self,
        state: DepositState,
        t: float,
        at: datetime,
        scene: SceneModel,
        image: npt.NDArray[np.uint8],
        out: RuleOutput,
    ) -> None:
        rid = state.region_id
        if not scene.still_new(rid, image):
            logger.info("deposit %d: before/now check says nothing new there, dropped", rid)
            self.stats["rejected_before_now"] += 1
            scene.absorb(rid, image)
            del self.deposits[rid]
            return
        scene.absorb(rid, image)
        del self.deposits[rid]
        incident = self._incident_to_join(state, t)
        if incident is not None:
            incident.deposits.append(state)
            incident.linked_visits |= state.linked_visits
            incident.people |= state.people
            incident.vehicles |= state.vehicles
            out.joined.append((incident, state))
            logger.info(
                "deposit %d joins dumping incident %d (one event per incident)", rid, incident.incident_id
            )
            return
        # Deposits already waiting near this one, from the same act, join now rather than later.
        incident = DumpingIncident(
            incident_id=self._next_incident,
            zone=state.zone,
            started_s=state.act_s,
            started_at=at - timedelta(seconds=t - state.act_s),
            confirmed_s=t,
            confirmed_at=at,
            box=state.box,
            before_s=self._before_time(state),
            deposits=[state],
            linked_visits=set(state.linked_visits),
            people=set(state.people),
            vehicles=set(state.vehicles),
        )
        self._next_incident += 1
        self.incidents.append(incident)
        for vid in incident.linked_visits:
            self.visits[vid].deposits += 1
        out.dumping.append(incident)
        logger.info(
            "DUMPING incident %d in zone %s: appeared t=%.1f, confirmed t=%.1f, visits %s",
            incident.incident_id,
            incident.zone,
            state.first_seen_s,
            t,
            sorted(incident.linked_visits),
        )

    def _before_time(self, state: DepositState) -> float:
        starts = [self.visits[v].started_s for v in state.linked_visits]
        return min([state.act_s, *starts]) - 2.0

    def _incident_to_join(self, state: DepositState, t: float) -> DumpingIncident | None:
        diag = math.hypot(self.width, self.height)
        for incident in reversed(self.incidents):
            if t - incident.confirmed_s > self.t.dumping_cooldown_s:
                break
            if incident.zone != state.zone:
                continue
            shared_visit = bool(incident.linked_visits & state.linked_visits)
            ax, ay = (incident.box[0] + incident.box[2]) / 2, (incident.box[1] + incident.box[3]) / 2
            bx, by = (state.box[0] + state.box[2]) / 2, (state.box[1] + state.box[3]) / 2
            if shared_visit or math.hypot(ax - bx, ay - by) < 0.25 * diag:
                return incident
        return None

    # -- end of a file --------------------------------------------------------------------------
    def finish(
        self, t: float, at: datetime, still_tracked: set[int] | frozenset[int] = frozenset()
    ) -> RuleOutput:
        """End of a finite source: close visits honestly; no deposit is confirmed here unless it has
        already met its persistence time (the caller runs a last scene step for that).

        A visit whose vehicle is still tracked (nothing moved it since it was last looked at) lasts
        to the end of the source; otherwise it ended when the vehicle was last seen."""
        out = RuleOutput()
        for visit in self.visits.values():
            if visit.active:
                if visit.track_id in still_tracked:
                    visit.last_seen_s, visit.last_seen_at = t, at
                visit.ended_s, visit.ended_at = visit.last_seen_s, visit.last_seen_at
                self._closing[visit.visit_id] = t
        for vid in list(self._closing):
            del self._closing[vid]
            out.visits_ended.append(self.visits[vid])
        pending = len(self.deposits)
        if pending:
            logger.info(
                "end of source: %d deposit(s) had not met the persistence time, not reported", pending
            )
        return out
