"""ByteTrack (ultralytics' BYTETracker) as the tracker backend: Detections in, tracked Detections out.

The only module that imports the tracker's library; ``detector.tracking`` (the backend-neutral
seam) imports it only when a tracker is built.  BYTETracker wants a results object with ``xyxy``,
``xywh``, ``conf``, ``cls``, ``len()`` and boolean indexing; :class:`_TrackerInput` provides exactly
that over a :class:`Detections`.  The tracker is updated only on frames where the object detector
ran, so ``track_buffer`` counts detector runs, not video frames.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import numpy.typing as npt
from ultralytics.trackers.byte_tracker import BYTETracker

from detector.types import Detections

logger = logging.getLogger(__name__)


class _TrackerInput:
    """The minimal results interface BYTETracker.update() reads."""

    def __init__(self, dets: Detections) -> None:
        self.xyxy = dets.xyxy.astype(np.float32)
        self.conf = dets.confidence.astype(np.float32)
        self.cls = dets.class_id.astype(np.float32)

    @property
    def xywh(self) -> npt.NDArray[np.float32]:
        out = np.empty_like(self.xyxy)
        out[:, 0] = (self.xyxy[:, 0] + self.xyxy[:, 2]) / 2
        out[:, 1] = (self.xyxy[:, 1] + self.xyxy[:, 3]) / 2
        out[:, 2] = self.xyxy[:, 2] - self.xyxy[:, 0]
        out[:, 3] = self.xyxy[:, 3] - self.xyxy[:, 1]
        return out

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.integer]) -> _TrackerInput:
        sub = _TrackerInput.__new__(_TrackerInput)
        sub.xyxy = self.xyxy[index]
        sub.conf = self.conf[index]
        sub.cls = self.cls[index]
        return sub


@dataclass(frozen=True, slots=True)
class ByteTrackSettings:
    """BYTETracker's parameters (its names); the defaults suit the pipeline's detector cadence."""

    track_high_thresh: float = 0.4
    track_low_thresh: float = 0.1
    new_track_thresh: float = 0.45
    track_buffer: int = 8  # detector runs a lost track is kept (×0.5 s detect interval ≈ 4 s)
    match_thresh: float = 0.9
    fuse_score: bool = True


class ByteTrackTracker:
    """Assigns stable ids to detections across detector runs (a :class:`~detector.tracking.Tracker`)."""

    def __init__(self, settings: ByteTrackSettings | None = None) -> None:
        self.settings = settings or ByteTrackSettings()
        args = SimpleNamespace(tracker_type="bytetrack", **_as_dict(self.settings))
        self._tracker = BYTETracker(args)

    def update(self, dets: Detections) -> Detections:
        """Track ``dets``; returns the tracked subset with ``tracker_id`` set (boxes are the tracker's)."""
        out = self._tracker.update(_TrackerInput(dets))
        if len(out) == 0:
            tracked = Detections.empty()
            tracked.tracker_id = np.zeros((0,), np.int64)
            return tracked
        out = np.asarray(out, dtype=np.float64).reshape(-1, 8)  # x1 y1 x2 y2 id score cls idx
        return Detections(
            xyxy=out[:, 0:4].astype(np.float32),
            confidence=out[:, 5].astype(np.float32),
            class_id=out[:, 6].astype(np.int32),
            tracker_id=out[:, 4].astype(np.int64),
        )

    def reset(self) -> None:
        """Forget every track (ids start again)."""
        self._tracker.reset()


def _as_dict(settings: ByteTrackSettings) -> dict[str, float | int | bool]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}
