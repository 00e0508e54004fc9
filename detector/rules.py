"""Site rules: vehicle visits and deposits → dumping, as small state machines driven by video time.

- A **vehicle visit** starts when a tracked vehicle that *arrived* (was seen moving, or continues a
  track that was) has stayed still for ``vehicle_stop_s`` with its ground point inside a hotspot
  zone, and ends once the vehicle has been gone (lost, or out of the zone) for ``vehicle_leave_s``.
  A vehicle standing there since the source started, or seen again after a reconnect or a change
  of resolution, did not arrive: it is context (still linked to nothing, never a visit).  A vehicle
  stopping again at the same spot within ``visit_cooldown_s`` continues the same visit.
- A **deposit** (a new static region from the scene model) becomes a **dumping** event once it has
  been *seen* for ``dumping_persistence_s`` with the people and vehicles who were near it when it
  appeared (its bringers) gone, and the scene model's before/now check still says it is new.  A
  bringer coming back restarts the clock; a passer-by walking in front of it, or motion over it,
  only pauses the clock (it cannot be seen then), so a deposit in a busy place is still reported.
  It is linked to the vehicle visits and people seen near it when it appeared, and its event
  starts when the first of them came into view.
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
from detector.deposit_links import (
    act_time,
    at_deposit_time,
    busy_now,
    incident_to_join,
    linked_visits,
    tracks_near,
)
from detector.geometry import anchor_point, center, containment, iou
from detector.scene import SceneModel, StaticRegion
from detector.types import (
    Deposit,
    Detections,
    DumpingIncident,
    ObjectClass,
    Track,
    TrackPoint,
    VehicleVisit,
)
from detector.zones import PolygonZone, first_zone_containing

logger = logging.getLogger(__name__)

# A new track this soon (s) after a same-class track was lost, this many of its heights from where
# that one was last seen, continues it (see SiteRules._continues_walk).
WALK_GAP_S = 2.5
WALK_REACH = 1.5
# How late the scene's registration may report a camera move (two scene samples and a margin).
CAMERA_MOVE_LAG_S = 2.0


RULE_VERSION = "rules/1"


@dataclass(slots=True)
class RuleOutput:
    """Decisions from one step, for the pipeline to act on."""

    visits_started: list[VehicleVisit] = field(default_factory=list)
    visits_ended: list[VehicleVisit] = field(default_factory=list)  # final (cooldown passed)
    dumping: list[DumpingIncident] = field(default_factory=list)
    joined: list[tuple[DumpingIncident, Deposit]] = field(default_factory=list)


def _elsewhere(before: tuple[float, float, float, float], now: tuple[float, float, float, float]) -> bool:
    """Whether a vehicle's earlier box is somewhere else, not the same place seen differently: a
    passer-by or a damaged frame crops a parked car's box (one box inside the other) or jitters it
    (large overlap); a vehicle that drove in shares little of its box with where it stands."""
    return iou(before, now) < 0.3 and containment(before, now) < 0.8


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
        self.deposits: dict[int, Deposit] = {}
        self.incidents: list[DumpingIncident] = []
        self._next_visit = 1
        self._next_incident = 1
        self._ignored: set[int] = set()
        self._class_votes: dict[int, dict[int, float]] = {}
        self._first_t: float | None = None
        self._arrived_by_move: dict[int, float] = {}  # track id -> when it arrived by moving
        self.stats = {"fixture_regions": 0, "out_of_zone_regions": 0, "rejected_before_now": 0}

    # -- tracks and vehicle visits --------------------------------------------------------------
    def observe_tracks(self, t: float, at: datetime, tracked: Detections) -> RuleOutput:
        """Update tracks and visits after a detector run (``tracked`` has tracker ids)."""
        out = RuleOutput()
        if self._first_t is None:
            self._first_t = t
        seen: set[int] = set()
        run_ids = {int(i) for i in (tracked.tracker_id if tracked.tracker_id is not None else [])}
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
                track.arrived = self._continues_arrived(box, t)
                earlier = None
                if ObjectClass(int(cls_id)) is ObjectClass.PERSON:  # vehicles: _continues_arrived
                    earlier = self._continues_walk(box, t, int(cls_id), run_ids)
                if earlier is not None:
                    track.first_seen = earlier.first_seen  # the same person, came into view then
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

    def _continues_arrived(self, box: tuple[float, float, float, float], t: float) -> bool:
        """A new track where a track that had arrived was just lost (the tracker switched ids on a
        vehicle someone walked in front of) has arrived too."""
        window = self.t.vehicle_leave_s + self.t.visit_cooldown_s
        return any(
            other.arrived
            and t - other.last_seen.video_time_s <= window
            and iou(other.last_seen.xyxy, box) >= self.t.same_vehicle_iou
            for other in self.tracks.values()
        )

    def _continues_walk(
        self, box: tuple[float, float, float, float], t: float, cls_id: int, seen_ids: set[int]
    ) -> Track | None:
        """A track of the same class lost within the last ``WALK_GAP_S`` whose last box was within
        ``WALK_REACH`` of its own heights of ``box``: the tracker lost a walking person between two
        sparse looks and gave them a new id; it is the same person, who came into view earlier."""
        cx, cy = center(box)
        height = box[3] - box[1]
        best: Track | None = None
        for tid, other in self.tracks.items():
            if tid in seen_ids or int(other.object_class) != cls_id:
                continue
            gap = t - other.last_seen.video_time_s
            ox, oy = center(other.last_seen.xyxy)
            if 0 < gap <= WALK_GAP_S and math.hypot(ox - cx, oy - cy) <= WALK_REACH * height:
                if best is None or other.first_seen.video_time_s < best.first_seen.video_time_s:
                    best = other
        return best

    def camera_moved(self, t: float) -> None:
        """The whole picture shifted (a knock, a turn, shake): where a track was before is no longer
        comparable with where it is now, so each track's history restarts at its last position — a
        parked car that seems to have moved by the camera's shift has not arrived."""
        # The registration notices a move a sample or two after it happened, so a parked car seen
        # just after it may already have "arrived" by the camera's shift: undo that.
        visiting = {v.track_id for v in self.visits.values() if v.active}
        for tid, granted in list(self._arrived_by_move.items()):
            track = self.tracks.get(tid)
            if track is not None and t - granted <= CAMERA_MOVE_LAG_S and tid not in visiting:
                track.arrived = False
                del self._arrived_by_move[tid]
        for track in self.tracks.values():
            if not track.arrived:
                track.history = [track.last_seen]
        logger.debug("camera moved at t=%.1f s: track histories restarted", t)

    def rescale(self, width: int, height: int) -> None:
        """The picture changed size (a reconnect at another resolution): boxes follow, so the same
        vehicles and deposits are recognised and nothing "arrives" again."""
        sx, sy = width / self.width, height / self.height

        def scale(b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
            return (b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy)

        for track in self.tracks.values():
            for p in track.history:
                p.xyxy = scale(p.xyxy)
            track.first_seen.xyxy = scale(track.first_seen.xyxy)
            track.last_seen.xyxy = scale(track.last_seen.xyxy)
        for visit in self.visits.values():
            visit.box = scale(visit.box)
        self.width, self.height = width, height

    def _stationary_since(self, track: Track, t: float) -> float | None:
        """Video time since which the track has stayed (within a small radius) where it is now."""
        last = track.last_seen.xyxy
        cx, cy = center(last)
        radius = max(6.0, 0.2 * math.hypot(last[2] - last[0], last[3] - last[1]))
        since: float | None = None
        for p in reversed(track.history):
            px, py = center(p.xyxy)
            if math.hypot(px - cx, py - cy) > radius:
                break
            since = p.video_time_s
        return since

    def _vehicle_step(self, track: Track, t: float, at: datetime, out: RuleOutput) -> None:
        since = self._stationary_since(track, t)
        track.stationary_since_s = since
        if (
            since is not None
            and since > track.history[0].video_time_s
            and not track.arrived
            and any(_elsewhere(p.xyxy, track.last_seen.xyxy) for p in track.history if p.video_time_s < since)
        ):
            track.arrived = True  # it was somewhere else before it stood here
            self._arrived_by_move[track.track_id] = t
        visit = next((v for v in self.visits.values() if v.track_id == track.track_id), None)
        zone = next(iter(track.in_zones), None)
        if visit is not None:
            if zone is not None and (visit.ended_s is None or visit.visit_id in self._closing):
                visit.last_seen_s, visit.last_seen_at, visit.box = t, at, track.last_seen.xyxy
            return
        if zone is None or since is None or t - since < self.t.vehicle_stop_s:
            return
        if not track.arrived:
            return  # parked since before we looked: context, not a visit
        # A second track on a vehicle already visiting (an id switch, a box split by someone walking
        # in front of it) is the same visit, not a new one.
        for other in self.visits.values():
            if other.active and other.zone == zone and containment(other.box, track.last_seen.xyxy) > 0.5:
                other.last_seen_s, other.last_seen_at = t, at
                return
        # A stop at the spot of a visit that ended within the cooldown continues that visit.
        for vid, final_at in list(self._closing.items()):
            old = self.visits[vid]
            if old.zone == zone and iou(old.box, track.last_seen.xyxy) > 0.3 and t <= final_at:
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
    def _region_zone(self, region: StaticRegion, mask_shape: tuple[int, int]) -> tuple[str | None, bool]:
        x1, y1, x2, y2 = region.box
        cx, cy = center(region.box)
        for fixture in self.fixtures:
            region_mask = np.zeros(mask_shape, np.uint8)
            region_mask[max(0, y1) : y2, max(0, x1) : x2] = 255
            if fixture.contains(cx, cy, self.width, self.height) or fixture.overlap(region_mask) > 0.3:
                return None, True
        return first_zone_containing(self.zones, cx, cy, self.width, self.height), False

    def _new_deposit(self, region: StaticRegion, zone: str, t: float, at: datetime) -> Deposit:
        """Start watching a new static region: link it to who and what was near it when it appeared."""
        lookback = region.first_seen_s - self.t.link_lookback_s
        near = tracks_near(self.tracks.values(), region.box, lookback, self.t)
        # Who brought it: near it shortly before it appeared (a passer-by minutes earlier did not).
        since = region.first_seen_s - self.t.bringer_window_s
        bringers = tracks_near(self.tracks.values(), region.box, since, self.t)
        visits = linked_visits(self.visits.values(), region.box, near, region.first_seen_s, lookback, self.t)
        return Deposit(
            region_id=region.region_id,
            first_seen_s=region.first_seen_s,
            first_seen_at=at - timedelta(seconds=t - region.first_seen_s),
            box=region.box,
            zone=zone,
            clear_since_s=region.first_seen_s,
            act_s=act_time(bringers, region.box, since, region.first_seen_s, self.t),
            linked_visits=visits,
            people={tr.track_id for tr in bringers if tr.object_class is ObjectClass.PERSON},
            vehicles={tr.track_id for tr in bringers if tr.object_class.is_vehicle}
            | {self.visits[v].track_id for v in visits},
        )

    def observe_scene(
        self,
        t: float,
        at: datetime,
        regions: Sequence[StaticRegion],
        scene: SceneModel,
        image: npt.NDArray[np.uint8],
        motion_busy: dict[int, bool] | None = None,
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
                state = self._new_deposit(region, zone, t, at)
                self.deposits[rid] = state
                logger.debug(
                    "deposit %d: new static region in zone %s at t=%.1f, box %s", rid, zone, t, region.box
                )
            state.box = region.box
            if self._persisted(state, region, t, motion_busy):
                self._decide(state, t, at, scene, image, out)
        return out

    def _persisted(
        self, state: Deposit, region: StaticRegion, t: float, motion_busy: dict[int, bool] | None
    ) -> bool:
        """Advance the deposit's clock by this sample and say whether it has now stayed long enough.

        The clock counts only time the deposit was seen with its bringers gone: a bringer near it
        restarts it; a passer-by, someone hidden in motion or standing in front of it pauses it."""
        step = 0.0 if state.observed_s is None else min(t - state.observed_s, self.t.max_visible_step_s)
        state.observed_s = t
        bringers = [self.tracks[i] for i in state.people | state.vehicles if i in self.tracks]
        if busy_now(bringers, region.box, t, self.t):
            state.clear_since_s, state.visible_s = t, 0.0
            return False
        if (
            region.occluded
            or (motion_busy or {}).get(region.region_id, False)
            or busy_now(self.tracks.values(), region.box, t, self.t)
        ):
            return False
        state.visible_s += step
        return state.visible_s >= self.t.dumping_persistence_s

    def _decide(
        self,
        state: Deposit,
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
        incident = incident_to_join(self.incidents, state, t, (self.width, self.height), self.t)
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
        started_s = self._arrival_time(state)
        bringers = [self.tracks[i] for i in state.people | state.vehicles if i in self.tracks]
        incident = DumpingIncident(
            incident_id=self._next_incident,
            zone=state.zone,
            started_s=started_s,
            started_at=at - timedelta(seconds=t - started_s),
            confirmed_s=t,
            confirmed_at=at,
            box=state.box,
            deposits=[state],
            linked_visits=set(state.linked_visits),
            people=set(state.people),
            vehicles=set(state.vehicles),
            deposit_s=state.first_seen_s,
            act_still_s=at_deposit_time(bringers, state.box, state.first_seen_s, self.t),
            departed_s=min(t, max([state.first_seen_s, *(tr.last_seen.video_time_s for tr in bringers)])),
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

    def _arrival_time(self, state: Deposit) -> float:
        """When the incident began: the first linked person or vehicle coming into view (a vehicle
        seen arriving before it stopped), else the act, never after the deposit was first seen."""
        firsts = [state.act_s]
        for tid in state.people | state.vehicles:
            if tid in self.tracks:
                firsts.append(self.tracks[tid].first_seen.video_time_s)
        for vid in state.linked_visits:
            visit = self.visits[vid]
            firsts.append(visit.started_s)
            if visit.track_id in self.tracks:
                firsts.append(self.tracks[visit.track_id].first_seen.video_time_s)
        return min(firsts)

    # -- end of a file --------------------------------------------------------------------------
    def finish(
        self,
        t: float,
        at: datetime,
        still_tracked: set[int] | frozenset[int] = frozenset(),
        *,
        stopped: tuple[SceneModel, npt.NDArray[np.uint8]] | None = None,
    ) -> RuleOutput:
        """End of a source: close visits honestly.

        A visit whose vehicle is still tracked (nothing moved it since it was last looked at) lasts
        to the end of the source; otherwise it ended when the vehicle was last seen.

        At the end of a file no deposit is confirmed here unless it has already met its persistence
        time (the caller runs a last scene step for that).  When the worker was ``stopped`` (Ctrl-C, a
        service stop; the scene model and the last grey picture given), a deposit that has stayed at
        least ``stop_report_min_s`` with its bringers gone is decided now and its incident marked
        ``cut_short_s``: the next start would learn it as background and it would never be reported."""
        out = RuleOutput()
        if stopped is not None:
            scene, image = stopped
            for state in sorted(self.deposits.values(), key=lambda d: d.first_seen_s):
                if state.visible_s < self.t.stop_report_min_s or state.region_id not in scene.regions:
                    continue
                visible = state.visible_s
                before = len(out.dumping)
                self._decide(state, t, at, scene, image, out)
                if len(out.dumping) > before:
                    out.dumping[-1].cut_short_s = visible
                    logger.info(
                        "deposit %d reported at the stop after %.0f s of the %.0f s persistence",
                        state.region_id,
                        visible,
                        self.t.dumping_persistence_s,
                    )
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
        if pending and stopped is not None:
            logger.info(
                "stopped: %d deposit(s) seen for under %.0f s, too briefly to report",
                pending,
                self.t.stop_report_min_s,
            )
        elif pending:
            logger.info(
                "end of source: %d deposit(s) had not met the persistence time, not reported", pending
            )
        return out
