"""Evidence policy: which stills an event gets, which span its clip covers, and the frames kept for them.

The pipeline tells the policy what it sees (every frame, the tracked vehicles of each visit) and
what the rules decided (a visit started, a visit ended, a dumping confirmed); the policy keeps
what it will need and writes the files through the :class:`~detector.evidence.EvidenceWriter`.

- **Vehicle visit**: the *arrival* view (the frame the visit started on), the *departure* view (the
  last frame the vehicle was tracked), the best *vehicle* view (highest confidence × box area) as a
  still and a crop, the *plate* and its crop, and a clip from ``pre_roll_s`` before the visit to
  ``post_roll_s`` after it.  The plate is read on the ``plate_views`` best views of the track
  (only the part of each frame the reader looks in is kept) and the reads voted character by
  character (:meth:`~detector.plates.PlateReader.vote_views`); ``details.plate_views`` says how
  many.
- **Dumping**: *before* (a snapshot of the scene from before the first linked person or vehicle
  came into view, chosen by :meth:`~detector.snapshots.SnapshotRing.before_arrival`;
  ``details.before_still`` says which, or why there is none), *act* (the person who brought it at
  the deposit, as it appeared), *after* (the frame it was confirmed on: nobody near it), a
  *deposit* crop (the deposit in proportion to its surroundings,
  :func:`~detector.geometry.context_box`), and a clip from ``pre_roll_s`` before that arrival to
  ``post_roll_s`` after the last of them left.

Clips come from the camera's own packets when the source has them (a remuxed master and an H.264
working copy at the source frame rate, :meth:`EvidenceWriter.clip`), else from JPEG frames kept at
``clip_fps``; ``details.clip`` says which.  Clips never exceed ``max_clip_s`` (the start is kept:
the arrival matters most).  A storage failure on one file is logged and marked on the event
(``details.evidence_incomplete``) rather than stopping the camera.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from detector.config import PerformanceConfig, ThresholdsConfig
from detector.evidence import EvidenceWriter
from detector.frame_ring import FrameRing
from detector.geometry import Box, context_box
from detector.packet_ring import PacketRing
from detector.plates import PlateReader
from detector.rules import DumpingIncident, VehicleVisit
from detector.snapshots import SnapshotRing
from detector.storage import StorageError
from detector.types import Detections, Event, Frame, StillRole
from detector.vehicle_colour import dominant_colour

logger = logging.getLogger(__name__)

RING_MARGIN_S = 5.0  # the frame ring reaches back this much further than the longest clip needs
# the detector's vehicle classes in an officer's words (SSD's COCO "truck" covers vans and lorries alike)
VEHICLE_TYPES = {
    "car": "car",
    "van_truck": "van or lorry",
    "bus": "bus or minibus",
    "motorcycle": "motorcycle",
}
PUSH_JITTER = 0.999  # a frame this close to the clip frame interval still counts as due


@dataclass(frozen=True, slots=True)
class PlateView:
    """One view of a visiting vehicle kept for its plate: only the part of the frame the plate
    reader looks in (a :class:`Frame` of those pixels) and the vehicle's box within it."""

    score: float  # confidence × box area, as for the best vehicle view
    frame: Frame
    box: Box


@dataclass(slots=True)
class VisitViews:
    """The frames a vehicle visit's stills are taken from, each with the vehicle's box (pixels)."""

    arrival: tuple[Frame, Box] | None = None
    departure: tuple[Frame, Box] | None = None
    vehicle: tuple[Frame, Box] | None = None  # the best view so far
    best_score: float = field(default=-1.0)  # confidence × box area of ``vehicle``
    plate_views: list[PlateView] = field(default_factory=list)  # the best few, best first


class EvidencePolicy:
    """Decides and writes the evidence of one camera's events (see the module docstring)."""

    def __init__(
        self,
        writer: EvidenceWriter,
        performance: PerformanceConfig,
        thresholds: ThresholdsConfig,
        *,
        plates: PlateReader | None = None,
        packets: PacketRing | None = None,
    ) -> None:
        self.writer = writer
        self.perf = performance
        self.thresholds = thresholds
        self.plates = plates
        self.packets = packets
        # Without the camera's packets, frames are kept as JPEGs at the clip rate instead.
        seconds = self.ring_seconds(performance, thresholds)
        self.ring = (
            None if packets is not None else FrameRing(seconds, jpeg_quality=performance.ring_jpeg_quality)
        )
        self.snapshots = SnapshotRing()
        self._push_every = 1.0 / performance.clip_fps
        self._last_push = -1e9
        self._views: dict[int, VisitViews] = {}

    @staticmethod
    def ring_seconds(performance: PerformanceConfig, thresholds: ThresholdsConfig) -> float:
        """How far back clips reach: a visit is final (and its clip cut) only after its cooldown, and a
        dumping event only after its persistence, so the ring covers the longest clip plus those."""
        wait = max(thresholds.visit_cooldown_s, thresholds.dumping_persistence_s + performance.scene_idle_s)
        return performance.max_clip_s + performance.post_roll_s + wait + RING_MARGIN_S

    @property
    def ring_nbytes(self) -> int:
        """Memory held for clips (the packet ring or the JPEG frame ring)."""
        if self.packets is not None:
            return self.packets.nbytes
        return self.ring.nbytes if self.ring is not None else 0

    # -- what the pipeline sees -----------------------------------------------------------------
    def observe_frame(self, frame: Frame) -> None:
        """Every frame: into the JPEG clip ring at the clip rate (when there are no packets), and a
        'before' snapshot when due."""
        if self.ring is not None and frame.video_time_s - self._last_push >= self._push_every * PUSH_JITTER:
            self._last_push = frame.video_time_s
            self.ring.push(frame)
        self.snapshots.observe(frame)

    def frame_at(self, t: float, like: Frame) -> Frame | None:
        """The kept frame closest to video time ``t`` (within ``act_window_s``), or None; ``like`` is
        a frame of the same source (its camera, clock source and capture-time mapping)."""
        window = self.thresholds.act_window_s
        if self.packets is not None:
            span = self.packets.span(t - window, t + window)
            best: tuple[float, npt.NDArray[np.uint8]] | None = None
            for ft, image in self.packets.decode(span):
                if best is None or abs(ft - t) < abs(best[0] - t):
                    best = (ft, image)
            if best is None:
                return None
            at = like.captured_at + timedelta(seconds=best[0] - like.video_time_s)
            return Frame(best[1], like.camera_id, -1, at, like.clock_source, best[0])
        assert self.ring is not None
        kept = self.ring.frames_between(t - window, t + window)
        if not kept:
            return None
        return min(kept, key=lambda f: abs(f.video_time_s - t)).decode()

    def visit_started(self, visit: VehicleVisit, frame: Frame) -> None:
        """The arrival view: the frame on which the visit started."""
        self._views.setdefault(visit.visit_id, VisitViews()).arrival = (frame, visit.box)

    def observe_visits(self, frame: Frame, tracked: Detections, visits: Iterable[VehicleVisit]) -> None:
        """After each tracker update: the departure view and the best vehicle view of active visits."""
        if tracked.tracker_id is None:
            return
        for visit in visits:
            if not visit.active:
                continue
            idx = np.flatnonzero(tracked.tracker_id == visit.track_id)
            if not len(idx):
                continue
            i = int(idx[0])
            box = tuple(float(v) for v in tracked.xyxy[i])
            score = float(tracked.confidence[i]) * (box[2] - box[0]) * (box[3] - box[1])
            views = self._views.setdefault(visit.visit_id, VisitViews())
            views.departure = (frame, (box[0], box[1], box[2], box[3]))
            if score > views.best_score:
                views.best_score = score
                views.vehicle = views.departure
            self._keep_plate_view(views, frame, views.departure[1], score)

    def _keep_plate_view(self, views: VisitViews, frame: Frame, box: Box, score: float) -> None:
        """Keep this view for the plate vote if it is among the ``plate_views`` best of the visit:
        a copy of the reader's region of the frame, so a visit holds a few small crops, not frames."""
        kept = views.plate_views
        if self.plates is None or (len(kept) >= self.perf.plate_views and score <= kept[-1].score):
            return
        region = self.plates.region((frame.height, frame.width), box)
        if region is None:
            return
        x1, y1, x2, y2 = region
        crop = Frame(
            np.ascontiguousarray(frame.image[y1:y2, x1:x2]),
            frame.camera_id,
            frame.index,
            frame.captured_at,
            frame.clock_source,
            frame.video_time_s,
        )
        kept.append(PlateView(score, crop, (box[0] - x1, box[1] - y1, box[2] - x1, box[3] - y1)))
        kept.sort(key=lambda v: v.score, reverse=True)
        del kept[self.perf.plate_views :]

    # -- what the rules decided -----------------------------------------------------------------
    @contextlib.contextmanager
    def _file(self, event: Event, what: str) -> Iterator[None]:
        """Write one evidence file; a failure costs that file (logged, marked), never the event."""
        try:
            yield
        except (StorageError, ValueError) as exc:
            logger.error("event %s: %s not written: %s", event.event_id, what, exc)
            event.details["evidence_incomplete"] = True

    def _clip(self, event: Event, start_s: float, end_s: float) -> None:
        end_s = min(end_s, start_s + self.perf.max_clip_s)

        def captured_at_of(t: float) -> datetime:
            return event.started_at + timedelta(seconds=t - event.start_video_s)

        with self._file(event, "clip"):
            files, what = self.writer.clip(
                event.event_id,
                start_s,
                end_s,
                captured_at_of=captured_at_of,
                packets=self.packets,
                frames=self.ring,
            )
            event.files += files
            event.details["clip"] = what

    def visit_ended(self, event: Event, visit: VehicleVisit) -> None:
        """Stills, crops, the plate and the clip of a final vehicle visit, added to ``event.files``."""
        views = self._views.pop(visit.visit_id, VisitViews())
        key = event.event_id
        label = str(event.details.get("vehicle_class", "vehicle"))
        for role, view in ((StillRole.ARRIVAL, views.arrival), (StillRole.DEPARTURE, views.departure)):
            if view is not None:
                with self._file(event, str(role)):
                    event.files += self.writer.still(key, role, view[0], [(view[1], label)])
        if views.vehicle is not None:
            frame, box = views.vehicle
            self._describe_vehicle(event, frame, box)
            with self._file(event, "vehicle"):
                event.files += self.writer.still(key, StillRole.VEHICLE, frame, [(box, label)])
            with self._file(event, "vehicle crop"):
                event.files += self.writer.crop(key, StillRole.VEHICLE, frame, box)
        if self.plates is not None and views.plate_views:
            self._read_plate(event, views.plate_views)
        # post-roll: the visit is final only after its cooldown, so the ring already holds it
        self._clip(
            event, event.start_video_s - self.perf.pre_roll_s, event.end_video_s + self.perf.post_roll_s
        )

    def _describe_vehicle(self, event: Event, frame: Frame, box: tuple[float, float, float, float]) -> None:
        """The vehicle's type in words and its dominant colour in the DVLA's words, from its best view
        (``details.vehicle_type``, ``vehicle_colour``, ``vehicle_colour_share``): what an officer
        matches against a keeper enquiry's reply."""
        kind = str(event.details.get("vehicle_class", ""))
        event.details["vehicle_type"] = VEHICLE_TYPES.get(kind, "vehicle")
        x1, y1, x2, y2 = (round(v) for v in box)
        image = frame.image
        crop = image[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)]
        try:
            colour = dominant_colour(crop)
        except ValueError as exc:  # a box too small to judge costs the colour, never the event
            logger.info("event %s: vehicle colour not named: %s", event.event_id, exc)
            return
        event.details["vehicle_colour"] = colour.name
        event.details["vehicle_colour_share"] = colour.share

    def _read_plate(self, event: Event, views: list[PlateView]) -> None:
        """The plate read on each kept view and voted (``PlateReader.vote_views``); the plate crop
        from the view that shows the voted plate best."""
        assert self.plates is not None
        try:
            voted = self.plates.vote_views([(v.frame.image, v.box) for v in views])
        except Exception:  # OCR is best effort: a failed read costs the plate, never the event
            logger.warning("event %s: plate read failed", event.event_id, exc_info=True)
            return
        event.plate = voted.read
        event.details["plate_views"] = len(views)
        if voted.view is not None and voted.box is not None:
            with self._file(event, "plate crop"):
                event.files += self.writer.crop(
                    event.event_id, StillRole.PLATE, views[voted.view].frame, voted.box
                )

    def dumping_confirmed(self, event: Event, incident: DumpingIncident, now: Frame) -> None:
        """Before, act and after stills (deposits boxed), deposit crops and the clip of a dumping event."""
        key = event.event_id
        boxes: list[tuple[Box, str]] = [
            ((float(d.box[0]), float(d.box[1]), float(d.box[2]), float(d.box[3])), "deposit")
            for d in incident.deposits
        ]
        before = self.snapshots.before_arrival(incident.started_s, self.thresholds.before_still_offset_s)
        event.details["before_still"] = before.note
        if before.frame is not None:
            # A snapshot from before a change of picture size: its boxes follow the picture.
            sx, sy = before.frame.width / now.width, before.frame.height / now.height
            scaled = [((b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy), label) for b, label in boxes]
            with self._file(event, "before"):
                event.files += self.writer.still(key, StillRole.BEFORE, before.frame, scaled)
        act = self.frame_at(incident.act_still_s, now)
        if act is not None:
            with self._file(event, "act"):
                event.files += self.writer.still(key, StillRole.ACT, act, boxes)
        with self._file(event, "after"):
            event.files += self.writer.still(key, StillRole.AFTER, now, boxes)
        t = self.thresholds
        for box, _label in boxes:
            region = context_box(
                box,
                (now.width, now.height),
                margin=t.deposit_crop_margin,
                min_side=t.deposit_crop_min_px,
                max_aspect=t.deposit_crop_max_aspect,
            )
            with self._file(event, "deposit crop"):
                event.files += self.writer.crop(key, StillRole.DEPOSIT, now, box, region=region)
        end_s = min(incident.confirmed_s, incident.departed_s + self.perf.post_roll_s)
        self._clip(event, incident.started_s - self.perf.pre_roll_s, max(end_s, incident.deposit_s))
