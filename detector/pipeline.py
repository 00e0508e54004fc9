"""One camera's pipeline: frames in, events (with evidence) out.

Per frame: the motion gate (cheap, every frame) → the object detector on motion crops at a capped
rate, or on the full frame at a slow keep-alive → the tracker → the vehicle-visit rules.  A few
times a second: the scene model (new-and-static regions, masked by tracks and motion) → the
deposit rules.  Decisions become :class:`~detector.types.Event` objects; with an evidence
directory they carry stills and a clip (via ``detector.evidence``), and a sink (the spool) takes
them.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from detector.backends.base import ObjectDetector
from detector.config import CameraConfig, SiteConfig
from detector.motion import MotionGate, MotionResult, plan_crops
from detector.rules import RULE_VERSION, DumpingIncident, RuleOutput, SiteRules, VehicleVisit
from detector.scene import SceneModel, SceneSettings
from detector.tracking import create_tracker
from detector.types import ClockSource, Detections, Event, EventType, Frame
from detector.zones import PolygonZone

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]


def uuid7() -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits; sortable by creation time."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def configure_threads(per_process: int | None = None) -> int:
    """OpenCV threads for this process: all cores for one camera; callers running several
    cameras in one process pass 1 so pipelines do not oversubscribe the cores."""
    n = per_process if per_process is not None else max(1, os.cpu_count() or 1)
    cv2.setNumThreads(n)
    return n


@dataclass(slots=True)
class PipelineMetrics:
    frames: int = 0
    detector_runs: int = 0
    detector_crops: int = 0
    full_frame_runs: int = 0
    scene_samples: int = 0
    events: int = 0
    bad_frames: int = 0
    video_seconds: float = 0.0
    stage_seconds: dict[str, float] = field(
        default_factory=lambda: {"motion": 0.0, "detect": 0.0, "track": 0.0, "scene": 0.0, "evidence": 0.0}
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "detector_runs": self.detector_runs,
            "detector_crops": self.detector_crops,
            "full_frame_runs": self.full_frame_runs,
            "scene_samples": self.scene_samples,
            "events": self.events,
            "bad_frames": self.bad_frames,
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


class _Stills:
    """Frames the pipeline keeps for evidence: visit views and periodic 'before' snapshots."""

    def __init__(self, snapshot_every_s: float = 5.0, keep_s: float = 300.0) -> None:
        self.snapshot_every_s = snapshot_every_s
        self.keep_s = keep_s
        self._snapshots: deque[tuple[float, bytes, Frame]] = deque()
        self._last = -1e9

    def maybe_snapshot(self, frame: Frame) -> None:
        if frame.video_time_s - self._last < self.snapshot_every_s:
            return
        self._last = frame.video_time_s
        ok, buf = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            logger.warning("could not encode a snapshot at t=%.1f", frame.video_time_s)
            return
        # Keep the frame's metadata with a 1×1 placeholder image; the JPEG holds the pixels.
        meta = Frame(
            image=np.zeros((1, 1, 3), np.uint8),
            camera_id=frame.camera_id,
            index=frame.index,
            captured_at=frame.captured_at,
            clock_source=frame.clock_source,
            video_time_s=frame.video_time_s,
        )
        self._snapshots.append((frame.video_time_s, buf.tobytes(), meta))
        while self._snapshots and frame.video_time_s - self._snapshots[0][0] > self.keep_s:
            self._snapshots.popleft()

    def before(self, t: float) -> Frame | None:
        """The latest snapshot at or before video time ``t``."""
        best = None
        for ts, jpeg, meta in self._snapshots:
            if ts <= t:
                best = (jpeg, meta)
        if best is None:
            return None
        decoded = cv2.imdecode(np.frombuffer(best[0], np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            logger.warning("a 'before' snapshot could not be decoded")
            return None
        image = np.asarray(decoded, np.uint8)
        m = best[1]
        return Frame(image, m.camera_id, m.index, m.captured_at, m.clock_source, m.video_time_s)


class CameraPipeline:
    """Wires the stages for one camera and turns rule decisions into events."""

    def __init__(
        self,
        site: SiteConfig,
        camera: CameraConfig,
        detector: ObjectDetector,
        *,
        evidence_dir: Path | None = None,
        sink: Callable[[Event], None] | None = None,
        gate: GateSettings | None = None,
        read_plates: bool = False,
    ) -> None:
        self.site = site
        self.camera = camera
        self.detector = detector
        self.sink = sink
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
        self._last_detect_s = -1e9
        self._last_full_s = -1e9
        self._last_scene_s = -1e9
        self._last_scene_update_s = -1e9
        self._moved_since_scene = True
        self._tracked = Detections.empty()
        self._raw = Detections.empty()
        self._last_frame: Frame | None = None
        self._visit_views: dict[int, dict[str, Any]] = {}
        self._evidence = (
            _EvidenceBuilder(evidence_dir, self.perf, self.thresholds.visit_cooldown_s, read_plates)
            if evidence_dir
            else None
        )
        self._stills = _Stills() if evidence_dir else None
        self._clock_source: ClockSource | None = None

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
        m = self.metrics
        m.frames += 1
        m.video_seconds = frame.video_time_s
        t = frame.video_time_s
        if self.rules is None:
            self.rules = SiteRules(self.thresholds, self.zones, self.fixtures, (frame.width, frame.height))
            self._clock_source = frame.clock_source
        elif (self.rules.width, self.rules.height) != (frame.width, frame.height):
            # A stream reconnected at another resolution: zones are normalised, so they follow.
            logger.warning(
                "camera %s: frame size changed to %dx%d", self.camera.id, frame.width, frame.height
            )
            self.rules.width, self.rules.height = frame.width, frame.height
            self._tracked = self._raw = Detections.empty()
            self._last_full_s = -1e9  # look at the whole new frame at once
        if self._evidence is not None:
            t0 = time.perf_counter()
            self._evidence.push(frame)
            assert self._stills is not None
            self._stills.maybe_snapshot(frame)
            m.stage_seconds["evidence"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        motion = self.motion.detect(frame.image)
        m.stage_seconds["motion"] += time.perf_counter() - t0
        events: list[Event] = []
        crops = self._plan_detection(frame, motion)
        if crops is not None:
            events += self._detect_and_track(frame, crops)
        self._moved_since_scene |= bool(motion.regions) or motion.lighting_change
        if t - self._last_scene_s >= self.perf.scene_interval_s:
            # Nothing moved since the last sample: the scene cannot have changed, so only the
            # rules' clocks advance (cheap); the model itself refreshes every scene_idle_s.
            full = self._moved_since_scene or t - self._last_scene_update_s >= self.perf.scene_idle_s
            self._last_scene_s = t
            self._moved_since_scene = False
            events += self._scene_step(frame, motion, update=full)
        self._last_frame = frame
        return events

    def _plan_detection(self, frame: Frame, motion: MotionResult) -> list[Box] | None:
        t = frame.video_time_s
        full = [(0, 0, frame.width, frame.height)]
        if self.gate_settings.naive:
            return full
        if t - self._last_full_s >= self.perf.keepalive_s or motion.lighting_change:
            return full
        if motion.regions and t - self._last_detect_s >= self.perf.detect_interval_s:
            return plan_crops(
                motion.regions,
                frame.width,
                frame.height,
                model_size=self.detector.input_size,
                max_crops=self.gate_settings.max_crops,
            )
        return None

    def _detect_and_track(self, frame: Frame, crops: list[Box]) -> list[Event]:
        m = self.metrics
        t = frame.video_time_s
        is_full = len(crops) == 1 and crops[0] == (0, 0, frame.width, frame.height)
        t0 = time.perf_counter()
        dets = self.detector.detect(frame.image, crops)
        m.stage_seconds["detect"] += time.perf_counter() - t0
        m.detector_runs += 1
        m.detector_crops += len(crops)
        self._last_detect_s = t
        if is_full:
            m.full_frame_runs += 1
            self._last_full_s = t
        t0 = time.perf_counter()
        self._raw = dets
        if not is_full and len(self._tracked):
            dets = Detections.merge([dets, self._unobserved(crops)])
        tracked = self.tracker.update(dets)
        self._tracked = tracked
        assert self.rules is not None
        out = self.rules.observe_tracks(t, frame.captured_at, tracked)
        m.stage_seconds["track"] += time.perf_counter() - t0
        self._remember_visit_views(frame, tracked)
        return self._handle(out, frame)

    def _unobserved(self, crops: list[Box]) -> Detections:
        """Tracked objects outside every crop this run: nothing moved there, so they are where they
        were (Frigate's stationary-object idea); the next full-frame keep-alive re-checks them."""
        prev = self._tracked
        keep = []
        for i, b in enumerate(prev.xyxy):
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            if not any(c[0] <= cx < c[2] and c[1] <= cy < c[3] for c in crops):
                keep.append(i)
        if not keep:
            return Detections.empty()
        sub = prev[np.array(keep)]
        return Detections(xyxy=sub.xyxy, confidence=sub.confidence, class_id=sub.class_id)

    def _exclusion_mask(self, motion: MotionResult, frame: Frame) -> npt.NDArray[np.uint8]:
        """Where the scene model must not look: motion, and tracked or detected objects with a margin."""
        h, w = self.scene.working_shape(frame.image)
        mask = cv2.resize(motion.mask, (w, h), interpolation=cv2.INTER_NEAREST)
        d = self.gate_settings.motion_dilate
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d)))
        margin = self.gate_settings.track_margin
        for dets in (self._tracked, self._raw):
            for b in dets.xyxy:
                bw, bh = b[2] - b[0], b[3] - b[1]
                x1, y1, x2, y2 = self.scene.to_small(
                    (b[0] - bw * margin, b[1] - bh * margin, b[2] + bw * margin, b[3] + bh * margin)
                )
                cv2.rectangle(mask, (max(0, x1), max(0, y1)), (x2, y2), 255, -1)
        return np.asarray(mask, np.uint8)

    def _scene_step(self, frame: Frame, motion: MotionResult, update: bool = True) -> list[Event]:
        m = self.metrics
        t0 = time.perf_counter()
        mask = self._exclusion_mask(motion, frame)
        if update:
            m.scene_samples += 1
            self._last_scene_update_s = frame.video_time_s
            regions = self.scene.update(frame.image, frame.video_time_s, mask)
        else:
            regions = list(self.scene.regions.values())
        h, w = mask.shape
        motion_small = cv2.resize(motion.mask, (w, h), interpolation=cv2.INTER_NEAREST)
        busy = {}
        for r in regions:
            x1, y1, x2, y2 = r.small_box
            patch = motion_small[y1:y2, x1:x2]
            busy[r.region_id] = bool(patch.size and np.count_nonzero(patch) > 0.05 * patch.size)
        assert self.rules is not None
        out = self.rules.observe_scene(
            frame.video_time_s, frame.captured_at, regions, self.scene, frame.image, busy
        )
        m.stage_seconds["scene"] += time.perf_counter() - t0
        return self._handle(out, frame)

    # -- visits' best views ---------------------------------------------------------------------
    def _remember_visit_views(self, frame: Frame, tracked: Detections) -> None:
        if self._evidence is None or self.rules is None or tracked.tracker_id is None:
            return
        for visit in self.rules.visits.values():
            if not visit.active:
                continue
            idx = np.flatnonzero(tracked.tracker_id == visit.track_id)
            if not len(idx):
                continue
            i = int(idx[0])
            box = tuple(float(v) for v in tracked.xyxy[i])
            score = float(tracked.confidence[i]) * (box[2] - box[0]) * (box[3] - box[1])
            views = self._visit_views.setdefault(visit.visit_id, {})
            views["departure"] = (frame, box)
            if score > views.get("best_score", -1.0):
                views["best_score"] = score
                views["vehicle"] = (frame, box)

    # -- decisions → events ---------------------------------------------------------------------
    def _handle(self, out: RuleOutput, frame: Frame) -> list[Event]:
        events: list[Event] = []
        for visit in out.visits_started:
            visit.event_id = uuid7()
            if self._evidence is not None:
                self._visit_views.setdefault(visit.visit_id, {})["arrival"] = (frame, visit.box)
        for visit in out.visits_ended:
            events.append(self._visit_event(visit, frame))
        for incident in out.dumping:
            events.append(self._dumping_event(incident, frame))
        for event in events:
            self.metrics.events += 1
            self.events.append(event)
            if self.sink is not None:
                self.sink(event)
        return events

    def _base_event(
        self, kind: EventType, start_s: float, end_s: float, started_at: datetime, ended_at: datetime
    ) -> dict[str, Any]:
        model = self.detector.model
        return {
            "type": kind,
            "site_id": self.site.site_id,
            "camera_id": self.camera.id,
            "started_at": started_at,
            "ended_at": ended_at,
            "start_video_s": start_s,
            "end_video_s": end_s,
            "clock_source": self._clock_source or ClockSource.STREAM,
            "model_name": model.name,
            "model_sha256": model.sha256,
            "rule_version": RULE_VERSION,
        }

    def _visit_event(self, visit: VehicleVisit, frame: Frame) -> Event:
        assert visit.ended_s is not None and visit.ended_at is not None
        event = Event(
            event_id=visit.event_id or uuid7(),
            zone=visit.zone,
            details={
                "vehicle_class": visit.object_class.name.lower(),
                "track_id": visit.track_id,
                "dwell_s": round(visit.ended_s - visit.started_s, 1),
                "deposits": visit.deposits,
                "present_at_start": visit.present_at_start,
                "camera_mode": self.camera.mode,
            },
            **self._base_event(
                EventType.VEHICLE_VISIT, visit.started_s, visit.ended_s, visit.started_at, visit.ended_at
            ),
        )
        if self._evidence is not None:
            t0 = time.perf_counter()
            self._evidence.visit_files(event, self._visit_views.pop(visit.visit_id, {}))
            self.metrics.stage_seconds["evidence"] += time.perf_counter() - t0
        logger.info(
            "event %s vehicle_visit %.1f–%.1f s zone %s",
            event.event_id,
            visit.started_s,
            visit.ended_s,
            visit.zone,
        )
        return event

    def _dumping_event(self, incident: DumpingIncident, frame: Frame) -> Event:
        assert self.rules is not None
        linked = [self.rules.visits[v].event_id for v in sorted(incident.linked_visits)]
        x1, y1, x2, y2 = incident.box
        event = Event(
            event_id=uuid7(),
            zone=incident.zone,
            linked_event_ids=[e for e in linked if e],
            details={
                "deposit_area_px": int((x2 - x1) * (y2 - y1)),
                "deposit_box": f"{x1},{y1},{x2},{y2}",
                "people": len(incident.people),
                "vehicles": len(incident.vehicles),
                "persistence_s": self.thresholds.dumping_persistence_s,
                "first_seen_video_s": round(incident.deposits[0].first_seen_s, 2),
                "camera_mode": self.camera.mode,
            },
            **self._base_event(
                EventType.DUMPING,
                incident.started_s,
                incident.confirmed_s,
                incident.started_at,
                incident.confirmed_at,
            ),
        )
        if self._evidence is not None:
            assert self._stills is not None
            t0 = time.perf_counter()
            before = self._stills.before(incident.before_s)
            self._evidence.dumping_files(event, incident, frame, before)
            self.metrics.stage_seconds["evidence"] += time.perf_counter() - t0
        logger.info(
            "event %s dumping %.1f–%.1f s zone %s box %s",
            event.event_id,
            incident.started_s,
            incident.confirmed_s,
            incident.zone,
            incident.box,
        )
        return event

    # -- lifecycle ------------------------------------------------------------------------------
    def finish(self) -> list[Event]:
        """End of a finite source: close visits; deposits that have not met persistence are dropped."""
        if self.rules is None or self._last_frame is None:
            return []
        frame = self._last_frame
        ids = self._tracked.tracker_id
        still = set() if ids is None else {int(i) for i in ids}
        return self._handle(self.rules.finish(frame.video_time_s, frame.captured_at, still), frame)

    @property
    def ring_nbytes(self) -> int:
        """Memory held by the evidence frame ring (0 without evidence)."""
        return self._evidence.ring.nbytes if self._evidence is not None else 0

    def discard_staging(self, event_id: str) -> None:
        """Free an event's staged evidence once the spool holds its own copy."""
        if self._evidence is not None:
            self._evidence.discard(event_id)

    def run(self, frames: Iterable[Frame], on_frame: Callable[[Frame], None] | None = None) -> list[Event]:
        """Process every frame of a source, then :meth:`finish`; returns all events."""
        for frame in frames:
            self.process(frame)
            if on_frame is not None:
                on_frame(frame)
        self.finish()
        return self.events


class _EvidenceBuilder:
    """Thin adapter over ``detector.evidence`` (owned by the edge-I/O engineer): decides which
    stills to take and the clip span, and calls their writer.  A storage failure on one file is
    logged and marked on the event (``details.evidence_incomplete``) rather than stopping the camera."""

    def __init__(self, staging_dir: Path, perf: Any, cooldown_s: float, read_plates: bool) -> None:
        from detector.evidence import EvidenceWriter
        from detector.frame_ring import FrameRing
        from detector.storage import StorageError

        self.perf = perf
        self._storage_error = StorageError
        # A visit is final (and its clip cut) only after its cooldown, so the ring must reach back
        # over the longest clip plus that cooldown; nothing older is ever needed.
        seconds = perf.max_clip_s + perf.post_roll_s + cooldown_s + 5.0
        self.ring = FrameRing(seconds, jpeg_quality=perf.ring_jpeg_quality)
        self.writer = EvidenceWriter(staging_dir)
        self._push_every = 1.0 / perf.clip_fps
        self._last_push = -1e9
        self._plates: Any = None
        if read_plates:
            from detector.plates import PlateReader

            self._plates = PlateReader()

    def push(self, frame: Frame) -> None:
        if frame.video_time_s - self._last_push >= self._push_every * 0.999:
            self._last_push = frame.video_time_s
            self.ring.push(frame)

    def _attach(self, event: Event, what: str, make: Callable[[], Any]) -> None:
        try:
            made = make()
        except (self._storage_error, ValueError) as exc:
            logger.error("event %s: %s not written: %s", event.event_id, what, exc)
            event.details["evidence_incomplete"] = True
            return
        event.files += made if isinstance(made, list) else [made]

    def _clip(self, event: Event, start_s: float, end_s: float) -> None:
        start_s = max(start_s, end_s - self.perf.max_clip_s)
        self._attach(event, "clip", lambda: self.writer.clip(event.event_id, self.ring, start_s, end_s))

    def visit_files(self, event: Event, views: dict[str, Any]) -> None:
        from detector.types import StillRole

        key = event.event_id
        label = str(event.details.get("vehicle_class", "vehicle"))
        for role, name in ((StillRole.ARRIVAL, "arrival"), (StillRole.DEPARTURE, "departure")):
            if name in views:
                self._attach(
                    event,
                    name,
                    functools.partial(
                        self.writer.still, key, role, views[name][0], [(views[name][1], label)]
                    ),
                )
        if "vehicle" in views:
            frame, box = views["vehicle"]
            self._attach(
                event, "vehicle", lambda: self.writer.still(key, StillRole.VEHICLE, frame, [(box, label)])
            )
            self._attach(event, "vehicle crop", lambda: self.writer.crop(key, StillRole.VEHICLE, frame, box))
            if self._plates is not None:
                self._read_plate(event, frame, box)
        # post-roll: the visit is final only after its cooldown, so the ring already holds it
        self._clip(
            event, event.start_video_s - self.perf.pre_roll_s, event.end_video_s + self.perf.post_roll_s
        )

    def _read_plate(self, event: Event, frame: Frame, box: Any) -> None:
        from detector.types import StillRole

        try:
            plate, plate_box = self._plates.read_with_box(frame.image, box)
        except Exception:  # OCR is best effort: a failed read costs the plate, never the event
            logger.warning("event %s: plate read failed", event.event_id, exc_info=True)
            return
        event.plate = plate
        if plate_box is not None:
            self._attach(
                event,
                "plate crop",
                lambda: self.writer.crop(event.event_id, StillRole.PLATE, frame, plate_box),
            )

    def dumping_files(
        self, event: Event, incident: DumpingIncident, now: Frame, before: Frame | None
    ) -> None:
        from detector.types import StillRole

        key = event.event_id
        boxes: list[tuple[tuple[float, float, float, float], str]] = [
            ((float(d.box[0]), float(d.box[1]), float(d.box[2]), float(d.box[3])), "deposit")
            for d in incident.deposits
        ]
        if before is not None:
            self._attach(event, "before", lambda: self.writer.still(key, StillRole.BEFORE, before, boxes))
        act = self.ring.frames_between(incident.started_s, incident.started_s + 2.0)
        if act:
            self._attach(event, "act", lambda: self.writer.still(key, StillRole.ACT, act[0], boxes))
        self._attach(event, "after", lambda: self.writer.still(key, StillRole.AFTER, now, boxes))
        self._clip(event, incident.started_s - self.perf.pre_roll_s, incident.confirmed_s)

    def discard(self, event_id: str) -> None:
        self.writer.discard(event_id)
