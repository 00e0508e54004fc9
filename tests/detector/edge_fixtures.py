"""Real frames and events for the evidence, spool and upload tests."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from detector.evidence import EvidenceWriter
from detector.frame_ring import FrameRing
from detector.types import ClockSource, Event, EventType, Frame, StillRole
from detector.uuid7 import uuid7_str

T0 = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def asset(name: str) -> Path:
    spec = importlib.util.find_spec("ultralytics")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "assets" / name


def bus_image() -> np.ndarray:
    img = cv2.imread(str(asset("bus.jpg")))
    assert img is not None, "ultralytics/assets/bus.jpg is missing"
    return np.asarray(img, np.uint8)


def frame_of(image: np.ndarray, index: int = 0, fps: float = 10.0) -> Frame:
    return Frame(
        image=image,
        camera_id="cam-1",
        index=index,
        captured_at=T0 + timedelta(seconds=index / fps),
        clock_source=ClockSource.STREAM,
        video_time_s=index / fps,
    )


def small_frames(n: int, fps: float = 10.0, size: tuple[int, int] = (160, 120)) -> list[Frame]:
    """Real pixels (the bus photo scaled down) with a moving bar so frames differ."""
    base = cv2.resize(bus_image(), size, interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(n):
        img = base.copy()
        x = (i * 7) % size[0]
        img[:, x : x + 6] = (0, 0, 255)
        frames.append(frame_of(np.asarray(img, np.uint8), i, fps))
    return frames


def make_event(staging: Path, *, with_clip: bool = True, event_id: str | None = None) -> Event:
    """A real dumping event: stills of the bus frame plus a short clip, staged by EvidenceWriter."""
    writer = EvidenceWriter(staging, min_free_bytes=0)
    eid = event_id or uuid7_str()
    frames = small_frames(20)
    files = writer.still(eid, StillRole.ACT, frames[5], [((20.0, 30.0, 90.0, 100.0), "deposit")])
    files += writer.still(eid, StillRole.AFTER, frames[15], [((20.0, 30.0, 90.0, 100.0), "deposit")])
    if with_clip:
        ring = FrameRing(30)
        for f in frames:
            ring.push(f)
        first = frames[0]
        clip_files, _what = writer.clip(
            eid,
            0.0,
            2.0,
            captured_at_of=lambda t: first.captured_at + timedelta(seconds=t - first.video_time_s),
            frames=ring,
        )
        files += clip_files
    return Event(
        event_id=eid,
        type=EventType.DUMPING,
        site_id="lay-by-a123",
        camera_id="cam-1",
        started_at=frames[5].captured_at,
        ended_at=frames[15].captured_at,
        start_video_s=0.5,
        end_video_s=1.5,
        clock_source=ClockSource.STREAM,
        model_name="ssd_mobilenet_v2_coco_2018_03_29",
        model_sha256="a" * 64,
        rule_version="rules/1",
        zone="verge",
        details={"deposit_area_px": 5120, "people": 1},
        files=files,
    )
