"""Who and what was near a deposit: the tracks, vehicle visits and earlier incidents it is linked to.

Pure functions over the rules' tracks, visits and incidents (``detector.rules`` holds the state);
times are video seconds, boxes frame pixels ``(x1, y1, x2, y2)``.  "Near" is a track's box grown by
``near_growth`` of its size plus ``near_margin_px`` on every side, overlapping the deposit's box.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence

from detector.config import ThresholdsConfig
from detector.geometry import Box, center, expand, overlaps
from detector.types import Deposit, DumpingIncident, ObjectClass, Track, VehicleVisit

logger = logging.getLogger(__name__)


def near_box(box: Sequence[float], th: ThresholdsConfig) -> Box:
    """A track's box grown to what counts as 'near' a deposit."""
    return expand(box, th.near_growth, th.near_margin_px)


def tracks_near(
    tracks: Iterable[Track], box: Sequence[float], since: float, th: ThresholdsConfig
) -> list[Track]:
    """Tracks that were near ``box`` at some point since video time ``since``."""
    near = []
    for track in tracks:
        if track.last_seen.video_time_s < since:
            continue
        for p in reversed(track.history):
            if p.video_time_s < since:
                break
            if overlaps(near_box(p.xyxy, th), box):
                near.append(track)
                break
    return near


def act_time(
    near: Sequence[Track], box: Sequence[float], lookback: float, first_seen_s: float, th: ThresholdsConfig
) -> float:
    """The act: when the people who were at the deposit first got there (a vehicle that merely drove
    past earlier is not the act); vehicles count only when no person was seen.  Never later than
    ``first_seen_s``, when the scene model first saw the deposit."""
    people_near = [tr for tr in near if tr.object_class is ObjectClass.PERSON]
    act_s = min(
        (
            p.video_time_s
            for tr in people_near or near
            for p in tr.history
            if p.video_time_s >= lookback and overlaps(near_box(p.xyxy, th), box)
        ),
        default=first_seen_s,
    )
    return min(act_s, first_seen_s)


def at_deposit_time(
    bringers: Sequence[Track], box: Sequence[float], first_seen_s: float, th: ThresholdsConfig
) -> float:
    """The moment for the "act" still: the last time a person who brought the deposit (else a
    vehicle) stood at it, up to ``act_window_s`` after it was first seen; ``first_seen_s`` if
    nobody was seen there (it appeared between samples)."""
    people = [tr for tr in bringers if tr.object_class is ObjectClass.PERSON]
    limit = first_seen_s + th.act_window_s
    return max(
        (
            p.video_time_s
            for tr in people or bringers
            for p in tr.history
            if p.video_time_s <= limit and overlaps(near_box(p.xyxy, th), box)
        ),
        default=first_seen_s,
    )


def linked_visits(
    visits: Iterable[VehicleVisit],
    box: Sequence[float],
    near: Sequence[Track],
    first_seen_s: float,
    lookback: float,
    th: ThresholdsConfig,
) -> set[int]:
    """Visits whose vehicle stood close to the deposit, or whose occupants walked to it: a
    person seen near the deposit who was also at the vehicle during the visit."""
    window = th.person_at_vehicle_window_s
    linked = set()
    people = [tr for tr in near if tr.object_class is ObjectClass.PERSON]
    for v in visits:
        if v.started_s > first_seen_s or (v.ended_s is not None and v.ended_s < lookback):
            continue
        if overlaps(expand(v.box, th.vehicle_link_growth, th.near_margin_px), box):
            linked.add(v.visit_id)
            continue
        end = v.ended_s if v.ended_s is not None else first_seen_s
        near_vehicle = expand(v.box, th.person_at_vehicle_growth, th.near_margin_px)
        for person in people:
            if any(
                v.started_s - window <= p.video_time_s <= end + window and overlaps(p.xyxy, near_vehicle)
                for p in person.history
            ):
                linked.add(v.visit_id)
                break
    return linked


def busy_now(tracks: Iterable[Track], box: Sequence[float], t: float, th: ThresholdsConfig) -> bool:
    """Whether a track seen within ``tracked_recently_s`` of ``t`` is near the box."""
    for track in tracks:
        if t - track.last_seen.video_time_s <= th.tracked_recently_s and overlaps(
            near_box(track.last_seen.xyxy, th), box
        ):
            return True
    return False


def incident_to_join(
    incidents: Sequence[DumpingIncident],
    deposit: Deposit,
    t: float,
    frame_size: tuple[int, int],
    th: ThresholdsConfig,
) -> DumpingIncident | None:
    """The latest incident confirmed within ``dumping_cooldown_s`` in the same zone that shares a
    linked visit with the deposit or lies within ``incident_join_distance`` of the frame diagonal."""
    diag = math.hypot(*frame_size)
    for incident in reversed(incidents):
        if t - incident.confirmed_s > th.dumping_cooldown_s:
            break
        if incident.zone != deposit.zone:
            continue
        shared_visit = bool(incident.linked_visits & deposit.linked_visits)
        ax, ay = center(incident.box)
        bx, by = center(deposit.box)
        if shared_visit or math.hypot(ax - bx, ay - by) < th.incident_join_distance * diag:
            return incident
    return None
