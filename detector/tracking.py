"""The tracker seam: stable ids for detections across detector runs, whatever does the tracking.

A tracker takes the :class:`~detector.types.Detections` of one detector run and returns the tracked
subset with ``tracker_id`` set (boxes are the tracker's).  It is updated only on frames where the
object detector ran, so its memory counts detector runs, not video frames.  The implementation is
ByteTrack on numpy and ``lap`` (:mod:`detector.bytetrack`): no model library, no PyTorch.

Example::

    tracker = create_tracker()
    tracked = tracker.update(detections)   # Detections with tracker_id of shape (N,)
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from detector.types import Detections

logger = logging.getLogger(__name__)


class Tracker(Protocol):
    """Assigns stable ids to detections across detector runs."""

    #: the backend's parameters (a frozen dataclass; e.g. ``track_buffer`` detector runs)
    settings: Any

    def update(self, dets: Detections) -> Detections:
        """Track ``dets`` (N boxes, xyxy pixels); returns the tracked subset with ``tracker_id`` set.

        With nothing tracked the result is empty and ``tracker_id`` has shape ``(0,)``.
        """
        ...

    def reset(self) -> None:
        """Forget every track."""
        ...


def create_tracker() -> Tracker:
    """The tracker the pipeline uses: ByteTrack with its default settings."""
    from detector.bytetrack import ByteTracker

    return ByteTracker()
