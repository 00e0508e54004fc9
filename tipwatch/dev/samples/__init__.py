"""Deterministic synthetic sample clips with ground truth, for the demo, tuning and tests.

Real people and a real vehicle (cut from the photos in the ultralytics wheel) are composited over
a rendered lay-by or alley with sensor noise, lighting drift and swaying leaves; each scene comes
with ``NAME.truth.json`` listing the events the detector should flag.
"""

from tipwatch.dev.samples.render import (
    GENERATOR,
    SampleError,
    frame_at,
    frames,
    frames_to_render,
    make_samples,
    truth_document,
)
from tipwatch.dev.samples.scenarios import SCENARIOS, Scenario, TruthEvent

SCENE_NAMES: tuple[str, ...] = tuple(SCENARIOS)

__all__ = [
    "GENERATOR",
    "SCENARIOS",
    "SCENE_NAMES",
    "SampleError",
    "Scenario",
    "TruthEvent",
    "frame_at",
    "frames",
    "frames_to_render",
    "make_samples",
    "truth_document",
]
