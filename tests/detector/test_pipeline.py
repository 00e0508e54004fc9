"""Pipeline lifecycle: it keeps going through a resolution change and reports its metrics."""

from __future__ import annotations

from datetime import timedelta

from detector_testutil import START, textured

from detector.backends.opencv_ssd import OpenCVSSDDetector
from detector.config import default_site
from detector.pipeline import CameraPipeline
from detector.types import ClockSource, Frame


def _frames(start_index: int, count: int, width: int, height: int) -> list[Frame]:
    image = textured(height, width, seed=5)
    return [
        Frame(image, "cam-1", i, START + timedelta(seconds=i / 10), ClockSource.RECEIVE, i / 10)
        for i in range(start_index, start_index + count)
    ]


def test_a_stream_that_changes_resolution_keeps_running(ssd: OpenCVSSDDetector) -> None:
    site = default_site()
    pipeline = CameraPipeline(site, site.camera(), ssd)
    events = pipeline.run(_frames(0, 30, 640, 480) + _frames(30, 30, 320, 240))
    assert events == []
    m = pipeline.metrics.as_dict()
    assert m["frames"] == 60 and m["bad_frames"] == 0
    assert m["detector_runs"] == 1  # nothing moved: only the full look at the new picture after the change
    assert m["scene_samples"] >= 2
    assert pipeline.rules is not None and (pipeline.rules.width, pipeline.rules.height) == (320, 240)
