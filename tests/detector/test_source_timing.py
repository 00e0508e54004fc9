"""Time comes from the footage: timestamps, not frame counts; missing timing refused; short reads said.

Each test is one kind of footage an installer or officer brings: a raw Motion-JPEG export with no
timestamps, a truncated AVI, a file that lost frames, a camera export with its own creation time,
a stream that reconnects at another resolution, packets that do not decode.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from detector_testutil import START

from detector.sources import FileSource, FrameTiming, SourceError, TimeOrigin, open_source

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def _vtest_frames(n: int) -> list[np.ndarray]:
    if not VTEST.is_file():
        pytest.skip("needs Debian's opencv-doc (vtest.avi)")
    cap = cv2.VideoCapture(str(VTEST))
    frames = []
    while len(frames) < n:
        ok, image = cap.read()
        assert ok
        frames.append(image)
    cap.release()
    return frames


def _h264(path: Path, pictures: list[tuple[int, np.ndarray]], fmt: str = "mp4", **meta: str) -> Path:
    """Write (pts in 1/10 s, BGR picture) pairs as H.264; a size change opens a second encoder."""
    with av.open(str(path), "w", format=fmt) as out:
        for k, v in meta.items():
            out.metadata[k] = v
        stream = out.add_stream("libx264", rate=10)
        stream.codec_context.time_base = Fraction(1, 10)
        stream.pix_fmt = "yuv420p"
        h, w = pictures[0][1].shape[:2]
        stream.width, stream.height = w, h
        ctx = stream.codec_context
        for pts, image in pictures:
            if image.shape[:2] != (ctx.height, ctx.width):
                for p in ctx.encode(None):
                    p.stream = stream
                    out.mux(p)
                ctx = av.CodecContext.create("libx264", "w")
                ctx.height, ctx.width = image.shape[:2]
                ctx.pix_fmt, ctx.time_base = "yuv420p", Fraction(1, 10)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = pts, Fraction(1, 10)
            for p in ctx.encode(frame):
                p.stream = stream
                out.mux(p)
        for p in ctx.encode(None):
            p.stream = stream
            out.mux(p)
    return path


def test_raw_motion_jpeg_without_timestamps_is_refused_unless_fps_is_given(tmp_path: Path) -> None:
    """The issue's case: 25 fps would be invented, so 79.5 s of 10 fps footage became 31.8 s."""
    raw = tmp_path / "export.mjpeg"
    with raw.open("wb") as f:
        for image in _vtest_frames(30):
            f.write(cv2.imencode(".jpg", image)[1].tobytes())
    with pytest.raises(SourceError, match=r"no timestamps.*--fps"):
        FileSource(raw, "cam-1", start_time=START)
    with pytest.raises(SourceError, match="--fps"):
        open_source(str(raw), "cam-1", start_time=START)
    source = FileSource(raw, "cam-1", start_time=START, fps=10.0)
    frames = list(source.frames())
    assert len(frames) == 30
    assert frames[-1].video_time_s == pytest.approx(2.9)
    assert frames[-1].captured_at == START + timedelta(seconds=2.9)
    assert source.clock.timing is FrameTiming.OPERATOR_FPS and source.clock.origin is TimeOrigin.OPERATOR


def test_truncated_avi_says_how_much_was_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _vtest_frames(1)
    data = VTEST.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    source = FileSource(cut, "cam-1", start_time=START)
    with caplog.at_level(logging.WARNING):
        frames = list(source.frames())
    report = source.report
    assert report.frames_expected == 795 and report.seconds_expected == pytest.approx(79.5)
    assert 300 < len(frames) == report.frames_read < 795
    assert report.ended_early
    assert frames[-1].video_time_s == pytest.approx((len(frames) - 1) / 10.0, abs=0.01)
    assert any(
        "ENDED EARLY" in r.getMessage() and f"read {len(frames)} of 795" in r.getMessage()
        for r in caplog.records
    )


def test_a_whole_file_is_not_reported_as_ending_early(tmp_path: Path) -> None:
    clip = _h264(tmp_path / "whole.mp4", [(i, img) for i, img in enumerate(_vtest_frames(20))])
    source = FileSource(clip, "cam-1", start_time=START)
    assert len(list(source.frames())) == 20
    assert not source.report.ended_early and source.report.undecodable_packets == 0


def test_lost_frames_leave_gaps_in_time_not_a_compressed_timeline(tmp_path: Path) -> None:
    images = _vtest_frames(40)
    kept = [(i, img) for i, img in enumerate(images) if i % 4 != 3]  # a quarter of the frames lost
    clip = _h264(tmp_path / "lossy.mp4", kept)
    frames = list(FileSource(clip, "cam-1", start_time=START).frames())
    assert [round(f.video_time_s * 10) for f in frames] == [i for i, _ in kept]
    assert frames[-1].captured_at == START + timedelta(seconds=kept[-1][0] / 10)


def test_camera_export_creation_time_is_the_start_and_is_recorded(tmp_path: Path) -> None:
    clip = _h264(
        tmp_path / "export.mp4",
        [(i, img) for i, img in enumerate(_vtest_frames(5))],
        creation_time="2026-06-01T21:15:07.000000Z",
    )
    source = FileSource(clip, "cam-1")
    assert source.clock.origin is TimeOrigin.CONTAINER and not source.clock.assumed
    first = next(source.frames())
    assert first.captured_at == datetime(2026, 6, 1, 21, 15, 7, tzinfo=UTC)


def test_start_from_modification_time_is_assumed_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clip = _h264(tmp_path / "plain.mp4", [(i, img) for i, img in enumerate(_vtest_frames(20))])
    end = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    os.utime(clip, (end.timestamp(), end.timestamp()))
    with caplog.at_level(logging.WARNING):
        source = FileSource(clip, "cam-1")
    assert source.start_time == end - timedelta(seconds=2.0)
    assert source.clock.origin is TimeOrigin.FILE_MTIME and source.clock.assumed
    assert source.clock.as_details()["clock_assumed"] is True
    assert any("ASSUMING" in r.getMessage() for r in caplog.records)


def test_reconnect_at_another_resolution_delivers_the_new_size(tmp_path: Path) -> None:
    images = _vtest_frames(20)
    small = [cv2.resize(img, (640, 480)) for img in images[10:]]
    clip = _h264(
        tmp_path / "switch.ts",
        [(i, img) for i, img in enumerate(images[:10])] + [(10 + i, img) for i, img in enumerate(small)],
        fmt="mpegts",
    )
    source = FileSource(clip, "cam-1", start_time=START)
    frames = list(source.frames())
    assert [f.image.shape[:2] for f in frames] == [(576, 768)] * 10 + [(480, 640)] * 10
    assert frames[10].video_time_s == pytest.approx(1.0, abs=0.01)
    assert source.report.size_changes == 1


def test_undecodable_packets_are_skipped_and_counted(tmp_path: Path) -> None:
    images = _vtest_frames(30)
    raw = tmp_path / "cam.mjpeg"
    with raw.open("wb") as f:
        for i, image in enumerate(images):
            jpeg = cv2.imencode(".jpg", image)[1].tobytes()
            if i in (7, 19):
                jpeg = jpeg[:4] + b"\x00" * 200 + jpeg[400:]  # a damaged picture
            f.write(jpeg)
    source = FileSource(raw, "cam-1", start_time=START, fps=10.0)
    frames = list(source.frames())
    assert 26 <= len(frames) <= 30
    assert all(f.image.shape == (576, 768, 3) for f in frames)
