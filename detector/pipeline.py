"""One camera's pipeline: frames in, events (with evidence) out.

Per frame (:meth:`CameraPipeline.process`): the evidence policy keeps what it may need → the motion
gate (cheap, every frame) → the object detector on motion crops at a capped rate, or on the full
frame at a slow keep-alive → the tracker → the vehicle-visit rules.  A few times a second: the
scene model (new-and-static regions, masked by tracks and motion) → the deposit rules.  The rules'
decisions become :class:`~detector.types.Event` objects (``detector.events``), the evidence policy
adds their stills and clip (``detector.evidence_policy``), and the sink
(:class:`~detector.sinks.base.EventSink`, normally the worker's fan-out to the spool and the
uploader) takes them.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import numpy.typing as npt

from detector.backends.base import ObjectDetector
from detector.config import CameraConfig, SiteConfig
from detector.events import EventFactory
from detector.evidence import EvidenceWriter
from detector.evidence_policy import EvidencePolicy
from detector.geometry import IntBox, center, expand, iou, overlaps
from detector.motion import MotionGate, MotionResult, busy_boxes, plan_crops
from detector.packet_ring import PacketRing
from detector.rules import RuleOutput, SiteRules
from detector.scene import SceneModel, SceneSettings
from detector.sinks.base import EventSink
from detector.tracking import create_tracker
from detector.types import ClockSource, Detections, Event, Frame, ObjectClass
from detector.zones import PolygonZone

if TYPE_CHECKING:
    from detector.plates import PlateReader

logger = logging.getLogger(__name__)

# Motion within this many pixels of the previous frame's motion continues it (a person walking on)
# rather than being new (someone coming into view).
NEW_MOTION_PX = 8
# A tracked vehicle is moving on a look when at least this share of its box is motion...
MOVING_COVER = 0.25
# ... unless more than this share of the whole picture moved on that look: then the camera (a knock,
# a turn, shake) or the light moved, and an object's own movement cannot be told from it.
MOVING_MAX_FRACTION = 0.15
# The scene's registration moving by more than this (working pixels) between two samples is the
# camera moving: track positions before and after are not comparable.
REBASE_WORKING_PX = 1.0
# While nothing moves, the scene model is refreshed (every scene_idle_s) only if the picture's mean
# grey level has changed by this much since its last update: slow dusk does, a still scene does not.
IDLE_LIGHT_LEVELS = 1.5


def configure_threads(per_process: int | None = None) -> int:
    """OpenCV threads for this process: all cores for one camera; callers running several
    cameras in one process pass 1 so pipelines do not oversubscribe the cores."""
    n = per_process if per_process is not None else max(1, os.cpu_count() or 1)
    cv2.setNumThreads(n)
    return n


@dataclass(slots=True)
class PipelineMetrics:
    """Counters of one pipeline run; ``stage_seconds`` is wall time per stage."""

    frames: int = 0
    motion_looks: int = 0  # frames the motion gate looked at (at most performance.motion_fps a second)
    detector_runs: int = 0
    detector_crops: int = 0
    full_frame_runs: int = 0
    scene_samples: int = 0
    events: int = 0
    bad_frames: int = 0
    view_moves: int = 0  # times the whole picture shifted (a knock, a turn): the camera's health hears of it
    last_view_move_at: datetime | None = None  # capture time (UTC) of the latest such shift
    # why the detector looked, how often: new_motion, vehicle, new_in_scene, refresh, keepalive, lighting
    look_reasons: dict[str, int] = field(default_factory=dict)
    video_seconds: float = 0.0
    stage_seconds: dict[str, float] = field(
        default_factory=lambda: {"motion": 0.0, "detect": 0.0, "track": 0.0, "scene": 0.0, "evidence": 0.0}
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "motion_looks": self.motion_looks,
            "detector_runs": self.detector_runs,
            "detector_crops": self.detector_crops,
            "full_frame_runs": self.full_frame_runs,
            "scene_samples": self.scene_samples,
            "events": self.events,
            "bad_frames": self.bad_frames,
            "view_moves": self.view_moves,
            "look_reasons": dict(self.look_reasons),
            "video_seconds": round(self.video_seconds, 2),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
        }


@dataclass(frozen=True, slots=True)
class GateSettings:
    """How the pipeline spends detector time; ``naive`` runs it on every full frame (benchmark)."""

    naive: bool = False
    max_crops: int = 2
    track_margin: float = 0.25  # box growth (fraction) when masking tracked objects out of the scene
    motion_dilate: int = 9  # working pixels


class CameraPipeline:
    """Wires the stages for one camera and turns rule decisions into events.

    Parameters
    ----------
    site, camera:
        The site configuration and the camera of it this pipeline watches.
    detector:
        The object-detector backend (``detector.backends.create_detector``).
    evidence_dir:
        Stage evidence files (stills, clips) under this directory with an evidence writer of the
        pipeline's own.  Without it (and without ``evidence_writer``) events carry no files.
    evidence_writer:
        Or write evidence through this writer; the worker shares it with the spool sink, which
        frees an event's staged files once the spool holds its own copy.
    sink:
        Where each finished event goes: an :class:`~detector.sinks.base.EventSink` (its
        ``publish``) or any callable taking the event.
    gate:
        Detector cadence settings (benchmarks use ``GateSettings(naive=True)``).
    read_plates:
        OCR the number plate on the best view of each visiting vehicle.
    plate_reader:
        Read plates with this reader (an edge box shares one between its cameras; it is
        thread-safe); without it ``read_plates`` loads one for this pipeline.
    footage_id:
        What the footage is (:func:`detector.identity.footage_identity`): with it, processing the
        same footage again gives the same event ids; without it, ids are unique to this run.
    """

    def __init__(
        self,
        site: SiteConfig,
        camera: CameraConfig,
        detector: ObjectDetector,
        *,
        evidence_dir: Path | None = None,
        evidence_writer: EvidenceWriter | None = None,
        sink: EventSink | Callable[[Event], None] | None = None,
        gate: GateSettings | None = None,
        read_plates: bool = False,
        plate_reader: PlateReader | None = None,
        packets: PacketRing | None = None,
        clock_details: dict[str, str | bool] | None = None,
        footage_id: str | None = None,
    ) -> None:
        if evidence_dir is not None and evidence_writer is not None:
            raise ValueError("pass evidence_dir or evidence_writer, not both")
        self.site = site
        self.camera = camera
        self.detector = detector
        self.sink = sink
        self._publish = sink.publish if isinstance(sink, EventSink) else sink
        self.gate_settings = gate or GateSettings()
        self.perf = site.performance
        self.thresholds = site.thresholds
        self.metrics = PipelineMetrics()
        self.events: list[Event] = []
        self.motion = MotionGate()
        self.tracker = create_tracker()
        self.scene = SceneModel(
            SceneSettings(
                min_area_frac=self.thresholds.min_deposit_area, max_area_frac=self.thresholds.max_deposit_area
            )
        )
        self.zones = [PolygonZone(z.name, z.polygon) for z in site.zones_for(camera)]
        self.fixtures = [PolygonZone(f.name, f.polygon) for f in site.fixtures_for(camera)]
        self.rules: SiteRules | None = None
        self.event_factory = EventFactory(site.site_id, camera, detector.model, footage_id)
        if evidence_dir is not None:
            evidence_writer = EvidenceWriter(evidence_dir, display_timezone=site.display_timezone)
        self.evidence: EvidencePolicy | None = None
        if evidence_writer is not None:
            plates = plate_reader
            if read_plates and plates is None:
                from detector.plates import PlateReader

                plates = PlateReader()
            self.evidence = EvidencePolicy(
                evidence_writer, self.perf, self.thresholds, plates=plates, packets=packets
            )
        self._last_detect_s = -1e9
        self._last_look_s = -1e9
        self._new_motion = False  # motion appeared since the last detector run (see _note_new_motion)
        self._previous_motion: list[IntBox] = []
        # Nothing has moved yet: until something does, there is nothing to find or follow (a
        # vehicle standing there is context, seen in the first full look when anything moves).
        self._moved_since_full = False
        self._last_full_s = -1e9
        self._last_scene_s = -1e9
        self._last_scene_update_s = -1e9
        self._scene_level = 0.0  # mean grey level at the scene model's last update
        self._moved_since_scene = True
        self._tracked = Detections.empty()
        self._raw = Detections.empty()
        self._last_frame: Frame | None = None
        self._clock_source: ClockSource | None = None
        self._clock_details = dict(clock_details or {})  # where the source's times came from

    @contextlib.contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.metrics.stage_seconds[name] += time.perf_counter() - t0

    # -- per frame ------------------------------------------------------------------------------
    def process(self, frame: Frame) -> list[Event]:
        """Run one frame through the stages; returns the events it completed (also sent to the sink)."""
        try:
            return self._process(frame)
        except (cv2.error, ValueError) as exc:
            # One bad frame (corrupt decode, odd size) must not take the camera down.
            self.metrics.bad_frames += 1
            logger.warning("camera %s: frame %d skipped: %s", self.camera.id, frame.index, exc)
            return []

    def _process(self, frame: Frame) -> list[Event]:
        """The frame's flow: evidence keeps what it may need → motion → detector, tracker and the
        visit rules when a detector run is due → scene model and the deposit rules when a scene
        sample is due → the decisions become events."""
        self.metrics.frames += 1
        self.metrics.video_seconds = frame.video_time_s
        rules = self._rules_for(frame)
        if self.evidence is not None:
            with self._stage("evidence"):
                self.evidence.observe_frame(frame)
        t = frame.video_time_s
        # Looks at the motion-gate rate; a small tolerance so a 10 fps source is looked at on every
        # second frame for 5 looks a second, not every third.
        skip = not self.gate_settings.naive and t - self._last_look_s < 0.9 / self.perf.motion_fps
        if skip and t >= self._last_look_s:
            self._last_frame = frame
            return []
        self._last_look_s = t
        self.metrics.motion_looks += 1
        with self._stage("motion"):
            motion = self.motion.detect(frame.grey, t)
        events: list[Event] = []
        crops = self._plan_detection(frame, motion)
        if crops is not None:
            tracked = self._detect_and_track(frame, crops)
            with self._stage("track"):
                out = rules.observe_tracks(frame.video_time_s, frame.captured_at, tracked)
            if self.evidence is not None:
                self.evidence.observe_visits(frame, tracked, rules.visits.values())
            events += self._handle(out, frame)
        self._moved_since_scene |= bool(motion.regions) or motion.lighting_change
        if frame.video_time_s - self._last_scene_s >= self.perf.scene_interval_s:
            with self._stage("scene"):
                out = self._scene_step(frame, motion, rules)
            events += self._handle(out, frame)
        self._last_frame = frame
        return events

    def _rules_for(self, frame: Frame) -> SiteRules:
        """The rules, built on the first frame; a stream that reconnected at another resolution
        keeps them (zones are normalised, so they follow; tracks and visits are rescaled, so the
        vehicles standing there are recognised, not new arrivals) and looks at the whole new frame."""
        if self.rules is None:
            self.rules = SiteRules(self.thresholds, self.zones, self.fixtures, (frame.width, frame.height))
            self._clock_source = frame.clock_source
        elif (self.rules.width, self.rules.height) != (frame.width, frame.height):
            logger.warning(
                "camera %s: frame size changed to %dx%d", self.camera.id, frame.width, frame.height
            )
            self.rules.rescale(frame.width, frame.height)
            self.tracker.reset()
            self._tracked = self._raw = Detections.empty()
            self._last_full_s = -1e9
            self._moved_since_full = True  # look at the new picture in full
        return self.rules

    def _plan_detection(self, frame: Frame, motion: MotionResult) -> list[IntBox] | None:
        """Where the detector looks this frame (crops, or the whole frame), or None: not now."""
        t = frame.video_time_s
        full = [(0, 0, frame.width, frame.height)]
        if self.gate_settings.naive:
            return full
        self._note_new_motion(motion.regions)
        self._moved_since_full |= bool(motion.regions)
        # The keep-alive re-checks what moved since the last full look; when nothing has, nothing
        # new can be in view, so quiet footage costs the motion gate and little else.
        keepalive_due = t - self._last_full_s >= self.perf.keepalive_s and self._moved_since_full
        if keepalive_due or motion.lighting_change:
            self._why("lighting" if motion.lighting_change else "keepalive")
            return full
        since = t - self._last_detect_s
        # Continuing motion is refreshed slowly — unless a vehicle is moving: the tracker must follow
        # a vehicle driving in look by look, or its arrival (and so its visit) is lost.
        refresh = self.perf.tracked_refresh_s
        reason = "refresh"
        # ... and while something new is forming in the scene: who is at it is the evidence.
        if since >= self.perf.detect_interval_s and motion.regions:
            if self._unconfirmed_vehicle() or self._vehicle_moving(motion, frame):
                refresh, reason = self.perf.detect_interval_s, "vehicle"
            elif self.scene.has_young_candidates(t, self.thresholds.bringer_window_s):
                refresh, reason = self.perf.detect_interval_s, "new_in_scene"
        new_due = since >= self.perf.detect_interval_s and self._new_motion
        if motion.regions and (new_due or since >= refresh):
            self._why("new_motion" if new_due else reason)
            return plan_crops(
                motion.regions,
                frame.width,
                frame.height,
                model_size=self.detector.input_size,
                max_crops=self.gate_settings.max_crops,
            )
        return None

    def _why(self, reason: str) -> None:
        reasons = self.metrics.look_reasons
        reasons[reason] = reasons.get(reason, 0) + 1

    def _note_new_motion(self, regions: list[IntBox]) -> None:
        """Remember whether motion appeared where nothing moved in the previous frame (someone or
        something coming into view, or starting to move): continuing motion — a person walking
        on, the same blob a frame later — overlaps the previous frame's blobs."""
        previous = self._previous_motion
        self._previous_motion = regions
        for region in regions:
            if not any(overlaps(expand(region, 0.0, NEW_MOTION_PX), p) for p in previous):
                self._new_motion = True
                return

    def _unconfirmed_vehicle(self) -> bool:
        """Whether the last run saw a vehicle the tracker has not confirmed yet (a tentative track:
        ByteTrack confirms on a second match, which needs the next look to come soon)."""
        for b, cls in zip(self._raw.xyxy, self._raw.class_id, strict=True):
            if ObjectClass(int(cls)).is_vehicle and not any(iou(b, t) >= 0.5 for t in self._tracked.xyxy):
                return True
        return False

    def _vehicle_moving(self, motion: MotionResult, frame: Frame) -> bool:
        """Whether a vehicle tracked at the last detector run is moving now: at least
        ``MOVING_COVER`` of its box is motion (someone walking past a big parked van covers less;
        past a small one, the cost is only a few more detector looks)."""
        # The last run's raw detections count too: a vehicle driving in is a tentative track until
        # the tracker has matched it twice, and sparse looks would never let it match.
        seen = Detections.merge([self._tracked, self._raw]) if len(self._raw) else self._tracked
        if not motion.regions or not len(seen) or motion.fraction > MOVING_MAX_FRACTION:
            return False  # nothing moved; or so much that the camera or the light did
        mh, mw = motion.mask.shape[:2]
        sx, sy = mw / frame.width, mh / frame.height
        for b, cls in zip(seen.xyxy, seen.class_id, strict=True):
            if not ObjectClass(int(cls)).is_vehicle:
                continue
            x1, y1 = max(0, int(b[0] * sx)), max(0, int(b[1] * sy))
            x2, y2 = min(mw, int(np.ceil(b[2] * sx))), min(mh, int(np.ceil(b[3] * sy)))
            patch = motion.mask[y1:y2, x1:x2]
            if patch.size and np.count_nonzero(patch) >= MOVING_COVER * patch.size:
                return True
        return False

    def _detect_and_track(self, frame: Frame, crops: list[IntBox]) -> Detections:
        """Detector on ``crops``, then the tracker; returns the tracked objects (with tracker ids)."""
        m = self.metrics
        t = frame.video_time_s
        is_full = len(crops) == 1 and crops[0] == (0, 0, frame.width, frame.height)
        with self._stage("detect"):
            dets = self.detector.detect(frame.image, crops)
        m.detector_runs += 1
        m.detector_crops += len(crops)
        self._last_detect_s = t
        self._new_motion = False
        if is_full:
            m.full_frame_runs += 1
            self._last_full_s = t
            self._moved_since_full = False
        with self._stage("track"):
            self._raw = dets
            if not is_full and len(self._tracked):
                dets = Detections.merge([dets, self._unobserved(crops)])
            self._tracked = self.tracker.update(dets)
        return self._tracked

    def _unobserved(self, crops: list[IntBox]) -> Detections:
        """Tracked objects outside every crop this run: nothing moved there, so they are where they
        were (Frigate's stationary-object idea); the next full-frame keep-alive re-checks them."""
        keep = []
        for i, b in enumerate(self._tracked.xyxy):
            cx, cy = center(b)
            if not any(c[0] <= cx < c[2] and c[1] <= cy < c[3] for c in crops):
                keep.append(i)
        if not keep:
            return Detections.empty()
        sub = self._tracked[np.array(keep)]
        return Detections(xyxy=sub.xyxy, confidence=sub.confidence, class_id=sub.class_id)

    def _scene_step(self, frame: Frame, motion: MotionResult, rules: SiteRules) -> RuleOutput:
        """Sample the scene model (or, when nothing moved, only advance the rules' clocks) and run
        the deposit rules on its regions."""
        t = frame.video_time_s
        # Nothing moved since the last sample: the scene cannot have changed, so only the rules'
        # clocks advance (cheap); the model itself refreshes every scene_idle_s, to follow slow
        # light changes (dusk) — and only if the light has changed since its last update.
        moved = self._moved_since_scene
        idle_due = t - self._last_scene_update_s >= self.perf.scene_idle_s
        level: float | None = None
        if idle_due and not moved and self.scene.ready:
            level = float(frame.grey[::8, ::8].mean())
            if abs(level - self._scene_level) < IDLE_LIGHT_LEVELS:
                idle_due = False
                self._last_scene_update_s = t  # looked: same light, nothing to learn
        update = moved or idle_due or not self.scene.ready  # the first background needs a few samples
        if update:
            self._scene_level = level if level is not None else float(frame.grey[::8, ::8].mean())
        self._last_scene_s = t
        self._moved_since_scene = False
        if update:
            self.metrics.scene_samples += 1
            self._last_scene_update_s = t
            still_camera = not moved and self.scene.ready
            shift = self.scene.registration_offset()
            regions = self.scene.update(
                frame.grey, t, self._exclusion_mask(motion, frame), still_camera=still_camera
            )
            if math.dist(shift, self.scene.registration_offset()) > REBASE_WORKING_PX:
                rules.camera_moved(t)
            if len(self.scene.moves) > self.metrics.view_moves:  # registered or relearnt: for the health
                self.metrics.view_moves = len(self.scene.moves)
                self.metrics.last_view_move_at = frame.captured_at
        else:
            regions = list(self.scene.regions.values())
        busy = {r.region_id: False for r in regions}
        if motion.regions and regions:
            h, w = self.scene.working_shape(frame.grey)
            small = np.asarray(cv2.resize(motion.mask, (w, h), interpolation=cv2.INTER_NEAREST), np.uint8)
            boxes = {r.region_id: r.small_box for r in regions}
            busy = busy_boxes(small, boxes, self.thresholds.motion_busy_fraction)
        return rules.observe_scene(t, frame.captured_at, regions, self.scene, frame.grey, busy)

    def _exclusion_mask(self, motion: MotionResult, frame: Frame) -> npt.NDArray[np.uint8]:
        """Where the scene model must not look: motion, and tracked or detected objects with a margin."""
        h, w = self.scene.working_shape(frame.grey)
        mask = cv2.resize(motion.mask, (w, h), interpolation=cv2.INTER_NEAREST)
        d = self.gate_settings.motion_dilate
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d)))
        for dets in (self._tracked, self._raw):
            for b in dets.xyxy:
                x1, y1, x2, y2 = self.scene.to_small(expand(b, self.gate_settings.track_margin, 0.0))
                cv2.rectangle(mask, (max(0, x1), max(0, y1)), (x2, y2), 255, -1)
        return np.asarray(mask, np.uint8)

    # -- decisions → events ---------------------------------------------------------------------
    def _handle(self, out: RuleOutput, frame: Frame) -> list[Event]:
        """Turn the rules' decisions into events with evidence and hand them to the sink."""
        assert self.rules is not None
        clock = self._clock_source or ClockSource.STREAM
        events: list[Event] = []
        for visit in out.visits_started:
            visit.event_id = self.event_factory.visit_id(visit)
            if self.evidence is not None:
                self.evidence.visit_started(visit, frame)
        for visit in out.visits_ended:
            event = self.event_factory.visit(visit, clock)
            event.details.update(self._clock_details)
            if self.evidence is not None:
                with self._stage("evidence"):
                    self.evidence.visit_ended(event, visit)
            logger.info(
                "event %s vehicle_visit %.1f–%.1f s zone %s",
                event.event_id,
                visit.started_s,
                visit.ended_s,
                visit.zone,
            )
            events.append(event)
        for incident in out.dumping:
            linked = [self.rules.visits[v].event_id for v in sorted(incident.linked_visits)]
            event = self.event_factory.dumping(
                incident, [e for e in linked if e], clock, self.thresholds.dumping_persistence_s
            )
            event.details.update(self._clock_details)
            if self.evidence is not None:
                with self._stage("evidence"):
                    self.evidence.dumping_confirmed(event, incident, frame)
            logger.info(
                "event %s dumping %.1f–%.1f s zone %s box %s",
                event.event_id,
                incident.started_s,
                incident.confirmed_s,
                incident.zone,
                incident.box,
            )
            events.append(event)
        for event in events:
            self.metrics.events += 1
            self.events.append(event)
            if self._publish is not None:
                self._publish(event)
        return events

    # -- lifecycle ------------------------------------------------------------------------------
    def finish(self, *, stopped: bool = False) -> list[Event]:
        """End of the source: close visits.  At the end of a file, deposits that have not met their
        persistence time are dropped; when the worker was ``stopped`` (Ctrl-C, a service stop), those
        that have stayed ``stop_report_min_s`` are reported, marked as cut short (see
        :meth:`SiteRules.finish`)."""
        if self.rules is None or self._last_frame is None:
            return []
        frame = self._last_frame
        ids = self._tracked.tracker_id
        still = set() if ids is None else {int(i) for i in ids}
        scene = (self.scene, frame.grey) if stopped and self.scene.ready else None
        out = self.rules.finish(frame.video_time_s, frame.captured_at, still, stopped=scene)
        return self._handle(out, frame)

    @property
    def ring_nbytes(self) -> int:
        """Memory held for evidence clips (0 without evidence)."""
        return self.evidence.ring_nbytes if self.evidence is not None else 0

    def run(self, frames: Iterable[Frame], on_frame: Callable[[Frame], None] | None = None) -> list[Event]:
        """Process every frame of a source, then :meth:`finish`; returns all events."""
        for frame in frames:
            self.process(frame)
            if on_frame is not None:
                on_frame(frame)
        self.finish()
        return self.events
