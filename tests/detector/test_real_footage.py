"""Each failure kind of the real-footage issue, on real CCTV (vtest.avi) with the right answer asserted.

The clips come from the real-footage evaluation set (``tipwatch samples real``), rendered here on
demand and cached under ``sample_clips/real``: parked vehicles, a knocked or turned camera, a
reconnect at another resolution, deposits at the edge among passers-by, small and far, after a slow
dimming, and a man carrying a sack in (the evidence must tell that story in a clip a browser plays).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import av
import pytest

from detector.backends import create_detector
from detector.clips import is_browser_playable
from detector.config import default_site
from detector.pipeline import CameraPipeline
from detector.sources import FileSource
from detector.types import EventType, FileKind

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "sample_clips" / "real"
START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _clip(name: str) -> Path:
    footage = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
    if not footage.is_file():
        pytest.skip("needs Debian's opencv-doc (vtest.avi)")
    from tipwatch.dev.realset import make_real_set

    (path,) = make_real_set(CACHE, only=[name], jobs=1)
    return path


def _run(name: str) -> tuple[CameraPipeline, list]:
    site = default_site(name)
    pipeline = CameraPipeline(site, site.camera(), create_detector(site.detector))
    source = FileSource(_clip(name), "cam-1", start_time=START)
    try:
        events = pipeline.run(source.frames())
    finally:
        source.close()
    return pipeline, events


def _of(events: list, kind: EventType) -> list:
    return [e for e in events if e.type is kind]


def test_vehicles_parked_throughout_are_never_visits() -> None:
    """Before: two visits per real clip for the two vehicles that never move."""
    pipeline, events = _run("control_parked_vehicles")
    assert events == []
    assert pipeline.metrics.view_moves == 0  # a still camera is never reported as moved


def test_a_minibus_that_arrives_and_stops_is_one_visit() -> None:
    _, events = _run("control_van_stops")
    (visit,) = _of(events, EventType.VEHICLE_VISIT)
    assert 9.0 <= visit.start_video_s <= 15.0 and 34.0 <= visit.end_video_s <= 45.0
    assert _of(events, EventType.DUMPING) == []


def test_a_knocked_camera_is_registered_and_is_no_deposit() -> None:
    """Before: a 6 px knock gave 1-3 false dumping events on plain grass and a wall."""
    pipeline, events = _run("control_nudge_6px")
    assert events == []
    (move,) = pipeline.scene.moves  # recorded once, when it happened
    assert 24.0 <= move.video_time_s <= 28.0
    assert 4.5 <= move.magnitude_px <= 7.5
    # ... and counted for the camera's health report (health.json, then the API's camera record)
    assert pipeline.metrics.view_moves == 1
    assert pipeline.metrics.last_view_move_at is not None


@pytest.mark.parametrize(
    "name",
    [
        "control_exposure_jumps",  # before: pale pavement blown out by auto-exposure became a deposit
        "control_insects_ir",  # before: an insect on the first frame left a "deposit" when it flew off
    ],
)
def test_a_blown_out_picture_or_a_passing_insect_at_start_is_no_deposit(name: str) -> None:
    _, events = _run(name)
    assert _of(events, EventType.DUMPING) == []


def test_a_brighter_exposure_with_a_lifted_black_level_is_no_deposit() -> None:
    """Before: a lasting x1.35 +20 exposure step squeezed the pale wall at the top of the picture
    against white; its texture went, and 27 s later it was a dumping event."""
    _, events = _run("control_exposure_and_black_level")
    assert events == []


def test_a_sack_is_still_found_when_the_picture_then_darkens_and_its_blacks_crush() -> None:
    """The texture of a dark sack against the grass is what finds it: the fix above must not blind the
    comparison near the bottom of the levels (measured: doing so lost this sack)."""
    _, events = _run("bag_then_exposure_and_black_level")
    (dump,) = _of(events, EventType.DUMPING)
    assert 20.0 <= dump.start_video_s <= 30.0


def test_a_damaged_stream_smeared_until_the_next_keyframe_is_no_deposit() -> None:
    """Before: damaged packets smeared the picture for up to 25 s; a ghost test wrote the smear into the
    background, and when the keyframe restored the real scene it was a dumping event."""
    _, events = _run("control_bitstream_damage")
    assert _of(events, EventType.DUMPING) == []


def test_a_sack_is_found_through_a_damaged_stream() -> None:
    _, events = _run("bag_with_bitstream_damage")
    (dump,) = _of(events, EventType.DUMPING)
    assert 20.0 <= dump.start_video_s <= 32.0


@pytest.mark.parametrize("name", ["control_nudge_2px", "control_rotation"])
def test_a_camera_nudged_under_a_pixel_of_working_resolution_or_turned_is_no_deposit(name: str) -> None:
    """Before: a strip along the picture's top edge became a deposit after a 2 px knock or a 1°
    turn (the registered sample's edge windows mixed in interpolated border pixels)."""
    _, events = _run(name)
    assert events == []


def test_a_reconnect_at_another_resolution_is_no_new_arrival() -> None:
    """Before: the parked vehicles were reported as new arrivals after the size change."""
    _, events = _run("control_resolution_change")
    assert events == []


@pytest.mark.parametrize(
    ("name", "deposit_s"),
    [
        ("bag_grass_centre", 25.0),  # people walk across the lawn past it
        ("bag_bottom_edge", 20.0),  # at the bottom edge of the picture
        ("bag_after_slow_dimming", 50.0),  # after the picture dimmed by 30 %
        ("bag_behind_post", 24.0),  # behind the lamp post, a man standing by (was "learnt away")
    ],
)
def test_a_deposit_a_person_would_see_is_found(name: str, deposit_s: float) -> None:
    """Before: 1 real deposit in 3 was found (the bottom-edge sack among passers-by, and the sack
    after a slow dimming, were missed)."""
    _, events = _run(name)
    (dumping,) = _of(events, EventType.DUMPING)
    assert deposit_s - 5.0 <= dumping.start_video_s <= deposit_s + 5.0
    assert dumping.end_video_s <= deposit_s + 60.0  # confirmed within a minute
    assert _of(events, EventType.VEHICLE_VISIT) == []


def test_the_evidence_tells_the_story_in_a_clip_a_browser_plays(tmp_path: Path) -> None:
    """A man walks in carrying a sack, puts it down at 24 s and walks off: the event starts when he
    came into view, the act still shows him at the sack, the after still shows the sack alone, the
    master clip is the camera's own H.264 and the working copy plays in a browser."""
    from detector.evidence import EvidenceWriter

    site = default_site("story")
    writer = EvidenceWriter(tmp_path / "staging", min_free_bytes=0)
    from detector.evidence_policy import EvidencePolicy
    from detector.packet_ring import PacketRing

    packets = PacketRing(EvidencePolicy.ring_seconds(site.performance, site.thresholds))
    source = FileSource(_clip("bag_carried_in"), "cam-1", start_time=START, packet_ring=packets)
    pipeline = CameraPipeline(
        site,
        site.camera(),
        create_detector(site.detector),
        evidence_writer=writer,
        packets=packets,
        clock_details=source.clock.as_details(),
    )
    try:
        events = pipeline.run(source.frames())
    finally:
        source.close()
    (event,) = _of(events, EventType.DUMPING)
    deposited = datetime.fromisoformat(str(event.details["deposited_at"]))
    assert event.started_at <= deposited <= event.ended_at
    assert 20.0 <= event.start_video_s <= 26.0  # he came into view / was at it, not seconds earlier
    assert event.details["clock_origin"] == "operator" and event.details["frame_timing"] == "pts"
    roles = {(f.role, f.kind) for f in event.files}
    for role in ("before", "act", "after", "deposit"):
        assert (role, FileKind.ORIGINAL) in roles and (role, FileKind.ANNOTATED) in roles
    by_role = {(f.role, f.kind): f for f in event.files}
    before, act, after = (by_role[(r, FileKind.ORIGINAL)] for r in ("before", "act", "after"))
    assert before.captured_at < event.started_at <= act.captured_at < after.captured_at
    master = by_role[("clip", FileKind.ORIGINAL)]
    working = by_role[("clip", FileKind.ANNOTATED)]
    assert "not re-encoded" in str(event.details["clip"])
    with av.open(str(master.path)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
    assert is_browser_playable(working.path)
    with av.open(str(working.path)) as c:
        times = [float(f.time) for f in c.decode(video=0)]
    assert len(times) >= 10 * 10  # the source's 10 fps, not a few frames a second
    assert times[-1] - times[0] >= 10.0


def _run_until(name: str, stop_s: float) -> list:
    """The pipeline over ``name`` until video time ``stop_s``, then stopped as by Ctrl-C."""
    site = default_site(name)
    pipeline = CameraPipeline(site, site.camera(), create_detector(site.detector))
    source = FileSource(_clip(name), "cam-1", start_time=START)
    events: list = []
    try:
        for frame in source.frames():
            if frame.video_time_s > stop_s:
                break
            events += pipeline.process(frame)
    finally:
        source.close()
    return events + pipeline.finish(stopped=True)


def test_a_deposit_still_waiting_when_the_worker_is_stopped_is_reported_as_cut_short() -> None:
    """Before: Ctrl-C (or a service stop) dropped a deposit waiting for its 30 s, and the next start
    learnt it as background: it was never reported."""
    events = _run_until("bag_grass_centre", 50.0)  # the sack appears at 25 s
    (dump,) = _of(events, EventType.DUMPING)
    assert 10.0 <= float(dump.details["persistence_cut_short_s"]) < 30.0
    assert "stopped" in str(dump.details["persistence_note"])


def test_a_stop_reports_no_deposit_that_was_not_there_or_too_young() -> None:
    assert _of(_run_until("control_parked_vehicles", 50.0), EventType.DUMPING) == []
    assert _of(_run_until("bag_grass_centre", 29.0), EventType.DUMPING) == []  # seen for under 10 s
