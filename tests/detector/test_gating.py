"""What the detector is spent on: quiet footage costs the motion gate, continuing motion is looked at
now and then, something new coming into view is looked at at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import cv2
import numpy as np
from detector_testutil import START, noisy, textured

from detector.backends.base import Box
from detector.backends.opencv_ssd import OpenCVSSDDetector
from detector.config import default_site
from detector.pipeline import CameraPipeline
from detector.types import ClockSource, Detections, Frame


class RecordingSSD(OpenCVSSDDetector):
    """The real SSD, noting the video time of each run (set by the test before each frame)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.runs: list[float] = []
        super().__init__()
        self.runs.clear()  # the warm-up pass at load time

    def detect_crops(self, image: np.ndarray, crops: Sequence[Box]) -> Detections:
        self.runs.append(self.now)
        return super().detect_crops(image, crops)


def _clip(seconds: float, fps: float, blobs: list[tuple[float, float, float, float]]) -> Iterator[Frame]:
    """Textured ground with sensor noise; each blob ``(t_from, t_to, x_from, y)`` is a dark square
    sliding right at 40 px/s while ``t_from <= t < t_to``."""
    base = textured(360, 640, seed=3)
    rng = np.random.default_rng(1)
    for i in range(int(seconds * fps)):
        t = i / fps
        img = noisy(base, rng, 2.0)
        for t_from, t_to, x0, y in blobs:
            if t_from <= t < t_to:
                x = int(x0 + 40 * (t - t_from))
                cv2.rectangle(img, (x, int(y)), (x + 30, int(y) + 50), (30, 30, 30), -1)
        yield Frame(img, "cam-1", i, START + timedelta(seconds=t), ClockSource.STREAM, t)


def _run(frames: Iterator[Frame], detector: RecordingSSD) -> CameraPipeline:
    site = default_site()
    pipeline = CameraPipeline(site, site.camera(), detector)
    for frame in frames:
        detector.now = frame.video_time_s
        pipeline.process(frame)
    return pipeline


def test_quiet_footage_costs_no_detector_run_and_the_gate_looks_five_times_a_second() -> None:
    detector = RecordingSSD()
    pipeline = _run(_clip(70.0, 10.0, []), detector)
    m = pipeline.metrics
    assert detector.runs == []  # nothing ever moved: nothing to find or follow
    assert m.frames == 700 and abs(m.motion_looks - 350) <= 2


def test_a_25_fps_source_is_looked_at_five_times_a_second_too() -> None:
    pipeline = _run(_clip(10.0, 25.0, []), RecordingSSD())
    assert pipeline.metrics.frames == 250 and abs(pipeline.metrics.motion_looks - 50) <= 2


def test_continuing_motion_is_refreshed_and_new_motion_is_looked_at_within_the_detect_interval() -> None:
    site = default_site()
    refresh, interval = site.performance.tracked_refresh_s, site.performance.detect_interval_s
    detector = RecordingSSD()
    # One blob moves from 2 s to 40 s; a second one comes into view elsewhere at 21.3 s.
    _run(_clip(40.0, 10.0, [(2.0, 40.0, 20, 40), (21.3, 40.0, 20, 250)]), detector)
    during_first = [t for t in detector.runs if 2.0 <= t < 21.3]
    assert during_first[0] <= 2.0 + interval + 0.2  # the first blob is looked at when it appears
    gaps = np.diff(during_first)
    assert len(gaps) and gaps.min() >= refresh - 0.2  # then only refreshed (not every 0.7 s)
    assert len(during_first) <= (21.3 - 2.0) / refresh + 2
    assert any(21.3 <= t <= 21.3 + interval + 0.3 for t in detector.runs)  # the newcomer, at once


def test_the_first_motion_after_a_quiet_start_gets_a_full_look_and_a_keepalive_later() -> None:
    detector = RecordingSSD()
    pipeline = _run(_clip(70.0, 10.0, [(20.0, 21.0, 20, 40)]), detector)
    # Nothing until the blob appears at 20 s: then the whole picture is looked at (what stands
    # there is context), the blob is followed, and 30 s after that full look, since something
    # moved in between, the keep-alive looks in full once more.
    assert 20.0 <= detector.runs[0] <= 20.4
    assert pipeline.metrics.full_frame_runs == 2
    assert any(50.0 <= t <= 51.0 for t in detector.runs)
    assert len(detector.runs) <= 5


def test_a_still_scene_is_not_resampled_while_nothing_moves_but_dusk_is_followed() -> None:
    def dusk(gain_per_s: float) -> Iterator[Frame]:
        for frame in _clip(60.0, 10.0, []):
            gain = 1.0 - gain_per_s * frame.video_time_s
            img = (frame.image.astype(np.float32) * gain).clip(0, 255).astype(np.uint8)
            yield Frame(img, "cam-1", frame.index, frame.captured_at, ClockSource.STREAM, frame.video_time_s)

    still = _run(dusk(0.0), RecordingSSD()).metrics
    assert still.scene_samples == 3  # the first background (a median of 3), then nothing to learn
    dimming = _run(dusk(0.3 / 60.0), RecordingSSD()).metrics  # 30 % darker over a minute
    assert dimming.scene_samples >= 8  # refreshed every scene_idle_s (5 s) as the light changes
    assert dimming.events == 0
