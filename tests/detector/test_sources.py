"""Frame sources: capture times for files and folders; a real HTTP stream that drops and comes back."""

from __future__ import annotations

import functools
import http.server
import socketserver
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from detector_testutil import START

from detector.sources import FileSource, ImageFolderSource, SourceError, StreamSource, open_source
from detector.types import ClockSource


def _write_clip(path: Path, frames: int = 20, fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (160, 120))
    for i in range(frames):
        writer.write(np.full((120, 160, 3), (i * 10) % 250, np.uint8))
    writer.release()
    return path


def test_file_capture_time_is_start_plus_pts(tmp_path: Path) -> None:
    clip = _write_clip(tmp_path / "clip.mp4")
    frames = list(FileSource(clip, "cam-1", start_time=START).frames())
    assert len(frames) == 20
    assert [f.index for f in frames] == list(range(20))
    for f in frames:
        assert f.clock_source is ClockSource.STREAM
        assert f.video_time_s == pytest.approx(f.index / 10.0, abs=0.011)
        assert f.captured_at == START + timedelta(seconds=f.video_time_s)


def test_file_start_time_defaults_to_mtime_minus_duration(tmp_path: Path) -> None:
    clip = _write_clip(tmp_path / "clip.mp4")
    import os

    end = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    os.utime(clip, (end.timestamp(), end.timestamp()))
    source = FileSource(clip, "cam-1")
    assert source.start_time == end - timedelta(seconds=2.0)


def test_image_folder_in_name_order(tmp_path: Path) -> None:
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"img{i:03d}.jpg"), np.full((50, 60, 3), i * 80, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    frames = list(ImageFolderSource(tmp_path, "cam-1", start_time=START, fps=2.0).frames())
    assert [int(f.image.mean() // 80) for f in frames] == [0, 1, 2]
    assert frames[2].captured_at == START + timedelta(seconds=1.0)


def test_sources_refuse_what_they_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        open_source(str(tmp_path / "missing.mp4"), "cam-1")
    with pytest.raises(SourceError, match="no images"):
        open_source(str(tmp_path), "cam-1")
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(SourceError, match="cannot open"):
        FileSource(tmp_path / "junk.mp4", "cam-1", start_time=START)


class _Server:
    """A real HTTP server on loopback serving a folder; can be stopped and restarted on its port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = 0
        self._srv: socketserver.TCPServer | None = None
        self.start()

    def start(self) -> None:
        handler = functools.partial(_QuietHandler, directory=str(self.folder))
        socketserver.TCPServer.allow_reuse_address = True
        self._srv = socketserver.TCPServer(("127.0.0.1", self.port), handler)
        self.port = self._srv.server_address[1]
        threading.Thread(target=self._srv.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self._srv is not None
        self._srv.shutdown()
        self._srv.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


def test_stream_reconnects_with_backoff_and_reports_the_gap(tmp_path: Path) -> None:
    _write_clip(tmp_path / "live.mp4")
    server = _Server(tmp_path)
    sleeps: list[float] = []
    source = StreamSource(
        f"http://127.0.0.1:{server.port}/live.mp4",
        "cam-1",
        backoff_initial_s=0.05,
        backoff_max_s=0.4,
        sleep=lambda s: (sleeps.append(s), time.sleep(s)),
    )
    frames = []
    restarted = False
    for frame in source.frames():
        frames.append(frame)
        if len(frames) == 20 and not restarted:  # end of the first play: the camera goes offline
            server.stop()
            threading.Timer(0.6, server.start).start()
            restarted = True
        if len(frames) >= 45:
            break
    source.close()
    server.stop()
    assert len(frames) == 45  # it never gave up
    assert all(f.clock_source is ClockSource.RECEIVE for f in frames)
    assert [f.index for f in frames] == list(range(45))
    assert source.reconnects >= 1
    outage = max(source.gaps, key=lambda g: g.seconds)
    assert outage.reconnect_attempts >= 3 and outage.seconds >= 0.4
    assert sleeps[:3] == [0.05, 0.1, 0.2]  # exponential backoff
    assert max(sleeps) <= 0.4  # capped
