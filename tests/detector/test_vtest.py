"""Real CCTV (vtest.avi: people walking, a parked van, litter already on the grass).

Nothing is dumped in it, so the detector must flag no dumping at all; with a bin bag (or a cut-out
of a real photo) pasted onto the lawn from 20 s to the end it must flag exactly one, confirmed
before the clip ends.
"""

from __future__ import annotations

import pytest
from detector_testutil import START

from detector.backends.opencv_ssd import OpenCVSSDDetector
from detector.config import default_site
from detector.pipeline import CameraPipeline
from detector.rules import RULE_VERSION
from detector.sources import FileSource
from detector.types import ClockSource, EventType
from tipwatch.dev.composite import VTEST_QUIET_SPOT, with_deposit

pytestmark = pytest.mark.slow


def _run(
    path: str, ssd: OpenCVSSDDetector, paste_from: int | None, kind: str = "bag"
) -> tuple[CameraPipeline, list]:
    site = default_site("vtest")
    pipeline = CameraPipeline(site, site.camera(), ssd)
    source = FileSource(path, "cam-1", start_time=START)
    frames = source.frames() if paste_from is None else with_deposit(source.frames(), paste_from, kind=kind)
    events = pipeline.run(frames)
    source.close()
    return pipeline, events


def test_real_footage_with_nothing_dumped_flags_no_dumping(vtest_path: str, ssd: OpenCVSSDDetector) -> None:
    pipeline, events = _run(vtest_path, ssd, None)
    assert pipeline.metrics.frames == 795
    assert [e for e in events if e.type is EventType.DUMPING] == []
    # the gate really gated: far fewer detector runs than frames
    assert pipeline.metrics.detector_runs < pipeline.metrics.frames / 4


@pytest.mark.parametrize("kind", ["bag", "photo"])
def test_deposit_pasted_into_real_footage_is_exactly_one_dumping_event(
    vtest_path: str, ssd: OpenCVSSDDetector, kind: str
) -> None:
    _, events = _run(vtest_path, ssd, paste_from=200, kind=kind)
    dumping = [e for e in events if e.type is EventType.DUMPING]
    assert len(dumping) == 1
    event = dumping[0]
    # appeared at ~20 s, confirmed after the 30 s persistence, before the 79.5 s clip ends
    assert 19.0 <= float(event.details["first_seen_video_s"]) <= 26.0
    assert 49.0 <= event.end_video_s <= 79.5
    x1, y1, x2, y2 = (int(v) for v in str(event.details["deposit_box"]).split(","))
    bx, by = VTEST_QUIET_SPOT
    assert x1 <= bx + 28 <= x2 and y1 <= by + 16 <= y2  # it is the deposit, not something else
    assert event.model_sha256 == ssd.model.sha256 and len(event.model_sha256) == 64
    assert event.rule_version == RULE_VERSION
    assert event.clock_source is ClockSource.STREAM
    assert event.started_at.tzinfo is not None and event.ended_at > event.started_at
    # no vehicle stood near the lawn: the parked cars in the car park are not linked to it
    assert event.linked_event_ids == []


def test_deposit_that_has_not_persisted_at_end_of_file_is_not_reported(
    vtest_path: str, ssd: OpenCVSSDDetector
) -> None:
    """Pasted at 60 s, the bag has only ~19 s when the file ends: no event may be invented."""
    _, events = _run(vtest_path, ssd, paste_from=600)
    assert [e for e in events if e.type is EventType.DUMPING] == []
