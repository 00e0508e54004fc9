"""The process the kill test (``test_kill_resilience.py``) SIGKILLs: an edge worker without footage.

:func:`run_edge` does what ``tipwatch detect`` does around its pipeline — ``open_spool`` (lock and
recovery), a staging area, the evidence writer, ``build_sinks`` (spool sink and uploader thread), then
at the end the uploader's last round, settling the staging and releasing the spool — over
over :func:`synthetic_event` instead of video: small, deterministic events with a still (master and
annotated copy) and an H.264 clip, whose ids come from ``detector.identity`` exactly as the
pipeline's do.  A run processes the incidents it is given; the test restarts it a little before where
the last one got to, so some incidents are processed again, as a restarted worker does.

It is imported by a ``multiprocessing`` fork server (preloaded once), so each run starts in
milliseconds rather than re-importing OpenCV, PyAV and httpx.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from detector.evidence import EvidenceWriter
from detector.frame_ring import FrameRing
from detector.identity import event_id
from detector.sinks.base import Dispatcher
from detector.sinks.staging import StagingArea
from detector.types import ClockSource, Event, EventType, Frame, StillRole
from detector.worker import WorkerOptions, build_sinks, open_spool

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
FOOTAGE = "file:" + "0" * 64
SIZE = (96, 72)
CLIP_FRAMES = 5


def _frame(i: int, k: int) -> Frame:
    """Frame ``k`` of incident ``i``: a grey field with a square whose place and colour depend on both."""
    w, h = SIZE
    image = np.full((h, w, 3), 90 + (i * 13) % 100, np.uint8)
    x, y = (i * 7 + k * 3) % (w - 20), (i * 5) % (h - 20)
    cv2.rectangle(image, (x, y), (x + 18, y + 18), ((i * 40) % 256, 200, (k * 50) % 256), -1)
    t = i * 10.0 + k * 0.2
    return Frame(np.asarray(image, np.uint8), "cam-1", k, T0 + timedelta(seconds=t), ClockSource.STREAM, t)


def synthetic_event(writer: EvidenceWriter, i: int) -> Event:
    """Incident ``i`` with its evidence staged through ``writer``; the same ``i`` always gives the
    same id and the same bytes."""
    frames = [_frame(i, k) for k in range(CLIP_FRAMES)]
    first = frames[0]
    eid = event_id(
        site_id="lay-by-a123",
        camera_id="cam-1",
        footage_id=FOOTAGE,
        event_type=str(EventType.DUMPING),
        started_at=first.captured_at,
        started_video_s=first.video_time_s,
        ordinal=i + 1,
        rule_version="rules/1",
    )
    box = (10.0, 10.0, 40.0, 40.0)
    files = writer.still(eid, StillRole.ACT, frames[1], [(box, "deposit")])
    ring = FrameRing(30)
    for f in frames:
        ring.push(f)
    clip, _what = writer.clip(
        eid,
        first.video_time_s,
        frames[-1].video_time_s,
        captured_at_of=lambda t: T0 + timedelta(seconds=t),
        frames=ring,
    )
    return Event(
        event_id=eid,
        type=EventType.DUMPING,
        site_id="lay-by-a123",
        camera_id="cam-1",
        started_at=first.captured_at,
        ended_at=frames[-1].captured_at,
        start_video_s=first.video_time_s,
        end_video_s=frames[-1].video_time_s,
        clock_source=ClockSource.STREAM,
        model_name="ssd_mobilenet_v2_coco_2018_03_29",
        model_sha256="a" * 64,
        rule_version="rules/1",
        zone="verge",
        details={"deposit_area_px": 900, "people": 1, "incident": i},
        files=files + clip,
    )


def run_edge(spool_root: str, api_url: str, token: str, first: int, last: int) -> None:
    """One worker run: recover, spool and upload incidents ``first``..``last - 1``, drain what is
    pending, settle the staging, release the spool."""
    logging.getLogger().setLevel(logging.ERROR)
    spool, health = open_spool(Path(spool_root), "cam-1")
    staging = StagingArea(spool)
    writer = EvidenceWriter(staging.path, min_free_bytes=0)
    sinks = Dispatcher(build_sinks(spool, writer, WorkerOptions(api_url=api_url, token=token), health))
    for i in range(first, last):
        sinks.publish(synthetic_event(writer, i))
    sinks.close()  # the uploader's last round
    staging.close()
    health.write()
    spool.unlock()
