"""Evidence files: masters without overlay, annotated copies, clips, atomic writes, full disk."""

from __future__ import annotations

import hashlib
import itertools
import shutil
from datetime import timedelta
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from edge_fixtures import T0, bus_image, frame_of, small_frames

from detector.clips import is_browser_playable, write_h264
from detector.evidence import EvidenceWriter, timestamp_text
from detector.frame_ring import FrameRing
from detector.storage import DiskFullError, StorageError
from detector.types import FileKind, Frame, StillRole


def _decode(path: Path) -> np.ndarray:
    img = cv2.imread(str(path))
    assert img is not None, f"{path} is not a decodable image"
    return img


def test_still_master_has_no_overlay_and_annotated_copy_does(tmp_path: Path) -> None:
    frame = frame_of(bus_image())
    writer = EvidenceWriter(tmp_path, min_free_bytes=0)
    files = writer.still("evt-1", StillRole.VEHICLE, frame, [((50.0, 230.0, 810.0, 740.0), "bus")])
    original, annotated = files
    assert (original.kind, annotated.kind) == (FileKind.ORIGINAL, FileKind.ANNOTATED)
    for f in files:
        data = f.path.read_bytes()
        assert data[:3] == b"\xff\xd8\xff"
        assert hashlib.sha256(data).hexdigest() == f.sha256
        assert len(data) == f.size
        assert f.captured_at == frame.captured_at and f.role == "vehicle"
    master = _decode(original.path).astype(np.int16)
    # The master is the frame itself, up to JPEG loss at quality 95.
    diff = np.abs(master - frame.image.astype(np.int16))
    assert diff.mean() < 2.0 and np.percentile(diff, 99.9) < 40
    drawn = np.abs(_decode(annotated.path).astype(np.int16) - frame.image.astype(np.int16))
    # Box edges and the timestamp band change many pixels strongly.
    assert (drawn.max(axis=2) > 80).sum() > 5000
    assert writer.files_for("evt-1") == files


def test_second_still_of_a_role_does_not_overwrite_the_first(tmp_path: Path) -> None:
    writer = EvidenceWriter(tmp_path, min_free_bytes=0)
    frames = small_frames(2)
    a = writer.still("evt", StillRole.ACT, frames[0])
    b = writer.still("evt", StillRole.ACT, frames[1])
    assert a[0].path != b[0].path and a[0].sha256 != b[0].sha256
    assert all(f.path.is_file() for f in a + b)
    assert len(writer.files_for("evt")) == 4


def test_crop_master_is_original_pixels_and_annotated_is_enlarged(tmp_path: Path) -> None:
    frame = frame_of(bus_image())
    writer = EvidenceWriter(tmp_path, min_free_bytes=0)
    original, annotated = writer.crop("evt", StillRole.PLATE, frame, (300.0, 600.0, 420.0, 660.0), margin=0.1)
    master = _decode(original.path)
    assert master.shape[:2] == (72, 144)  # 120x60 plus 10 % each side
    ref = frame.image[594:666, 288:432].astype(np.int16)
    assert np.abs(master.astype(np.int16) - ref).mean() < 3.0
    assert _decode(annotated.path).shape[1] >= 480


def test_timestamp_burn_in_shows_utc_and_london_time() -> None:
    summer = T0.replace(month=7)
    assert timestamp_text(T0) == "2026-11-24 16:00:00.000 UTC | 16:00:00 GMT Europe/London"
    assert timestamp_text(summer).endswith("17:00:00 BST Europe/London")


def test_timestamp_burn_in_follows_the_display_time_zone(tmp_path: Path) -> None:
    assert timestamp_text(T0, "America/New_York") == (
        "2026-11-24 16:00:00.000 UTC | 11:00:00 EST America/New_York"
    )
    frame = frame_of(bus_image())
    london = EvidenceWriter(tmp_path / "a", min_free_bytes=0).still("evt", StillRole.ACT, frame)
    eastern = EvidenceWriter(tmp_path / "b", min_free_bytes=0, display_timezone="America/New_York").still(
        "evt", StillRole.ACT, frame
    )
    assert london[0].sha256 == eastern[0].sha256  # the master has no overlay
    assert london[1].sha256 != eastern[1].sha256  # the burn-in differs


def _clock(first: Frame):  # type: ignore[no-untyped-def]
    return lambda t: first.captured_at + timedelta(seconds=t - first.video_time_s)


def test_clip_from_kept_frames_is_browser_playable_h264_at_their_times(tmp_path: Path) -> None:
    ring = FrameRing(seconds=60)
    frames = small_frames(50, fps=10.0)
    for f in frames:
        ring.push(f)
    writer = EvidenceWriter(tmp_path, min_free_bytes=0)
    files, what = writer.clip("evt", 1.0, 3.0, captured_at_of=_clock(frames[0]), frames=ring)
    assert len(files) == 1 and "frames kept" in what
    clip = files[0]
    assert clip.media_type == "video/mp4" and clip.role == "clip" and clip.kind is FileKind.ORIGINAL
    data = clip.path.read_bytes()
    assert data[4:8] == b"ftyp" and hashlib.sha256(data).hexdigest() == clip.sha256
    assert is_browser_playable(clip.path)  # H.264 4:2:0, moov before mdat
    with av.open(str(clip.path)) as c:
        decoded = [(round(float(f.time), 2), f.width, f.height) for f in c.decode(video=0)]
    assert len(decoded) == 21  # frames 10..30 inclusive
    assert all((w, h) == (160, 120) for _t, w, h in decoded)
    times = [t for t, _w, _h in decoded]
    assert [round(b - a, 2) for a, b in itertools.pairwise(times)] == [0.1] * 20
    assert clip.captured_at == ring.frames_between(1.0, 1.0)[0].captured_at
    assert not list(tmp_path.glob("evt/.*"))  # no temporary file left behind


@pytest.mark.parametrize("size", [(704, 576), (720, 576), (960, 540), (1280, 720)])
def test_the_same_frames_encode_to_the_same_clip_bytes(tmp_path: Path, size: tuple[int, int]) -> None:
    """A clip's SHA-256 is reproducible: the same frames give the same file however the heap was
    used before (libx264 with B-frames gave a different file at 704, 720 and 960 pixels wide)."""
    rng = np.random.default_rng(7)
    base = cv2.resize(bus_image(), size)
    frames = [(i / 10, np.roll(base, 3 * i, axis=1)) for i in range(12)]
    digests = set()
    for attempt in range(3):
        # leave freed memory full of other data, as a busy edge box's heap is
        junk = [rng.integers(0, 255, size=(1 << 20) * k, dtype=np.uint8) for k in (1, 4, 16)]
        del junk
        path = tmp_path / f"clip{attempt}.mp4"
        assert write_h264(iter(frames), path) == 12
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_clip_of_an_empty_span_is_refused(tmp_path: Path) -> None:
    ring = FrameRing(seconds=10)
    frames = small_frames(1)
    with pytest.raises(ValueError, match="no frames"):
        EvidenceWriter(tmp_path, min_free_bytes=0).clip(
            "evt", 0.0, 5.0, captured_at_of=_clock(frames[0]), frames=ring
        )


def test_ring_keeps_only_its_window_and_restarts_when_time_goes_back() -> None:
    ring = FrameRing(seconds=2.0)
    frames = small_frames(40, fps=10.0)
    for f in frames:
        ring.push(f)
    kept = ring.frames_between(-1, 100)
    assert [k.index for k in kept] == list(range(19, 40))  # 1.9 s .. 3.9 s
    latest = ring.latest()
    assert latest is not None and latest.index == 39
    decoded = latest.decode()
    assert decoded.image.shape == frames[39].image.shape and decoded.captured_at == frames[39].captured_at
    ring.push(frames[0])
    assert len(ring) == 1


def test_full_disk_is_refused_before_writing(tmp_path: Path) -> None:
    # Below the stills' own floor too (a still may use the reserve down to it: see test_sinks).
    huge = shutil.disk_usage(tmp_path).free + 10**9
    writer = EvidenceWriter(tmp_path, min_free_bytes=huge, min_free_still_bytes=huge)
    with pytest.raises(DiskFullError, match="disk almost full") as info:
        writer.still("evt", StillRole.ACT, frame_of(bus_image()))
    assert isinstance(info.value, StorageError)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_failed_write_leaves_no_file_that_looks_complete(tmp_path: Path) -> None:
    writer = EvidenceWriter(tmp_path, min_free_bytes=0)
    frame = frame_of(bus_image())
    event_dir = tmp_path / "evt"
    event_dir.mkdir()
    # A directory where the annotated copy must go makes the rename fail with a real OSError.
    (event_dir / "act.annotated.jpg").mkdir()
    with pytest.raises(StorageError):
        writer.still("evt", StillRole.ACT, frame)
    assert not list(event_dir.glob(".*"))  # the temporary file was removed
    assert not (event_dir / "act.annotated.jpg").is_file()


def test_unsafe_event_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="safe directory name"):
        EvidenceWriter(tmp_path).still("../escape", StillRole.ACT, frame_of(bus_image()))


def test_discard_removes_staged_files(tmp_path: Path) -> None:
    writer = EvidenceWriter(tmp_path, min_free_bytes=0)
    writer.still("evt", StillRole.ACT, small_frames(1)[0])
    writer.discard("evt")
    assert writer.files_for("evt") == [] and not (tmp_path / "evt").exists()


WRITE_PAST_FILE_LIMIT = """
import resource, signal, sys
from pathlib import Path
sys.path.insert(0, TESTS_DIR)
from edge_fixtures import T0, bus_image, frame_of, make_event, small_frames
from detector.evidence import EvidenceWriter
from detector.frame_ring import FrameRing
import detector.sinks.spool as spool_module
from detector.sinks.spool import Spool
from detector.storage import StorageError
from detector.types import StillRole

spool_module.try_link = lambda src, dst: False  # a file system without hard links: the spool copies
root = Path(ROOT)
event = make_event(root / "staging")  # written before the limit
spool = Spool(root / "spool", min_free_bytes=0)
spool.put(make_event(root / "staging"))  # an event already spooled must survive
# From here on no file may grow past 4 KB: writes fail part-way with a real OSError (EFBIG),
# as they would with ENOSPC.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    EvidenceWriter(root / "staging", min_free_bytes=0).still("big", StillRole.ACT, frame_of(bus_image()))
except StorageError as exc:
    print("still refused:", exc)
try:
    spool.put(event)
except StorageError as exc:
    print("put refused:", exc)
ring = FrameRing(60)
for f in small_frames(100):
    ring.push(f)
try:
    EvidenceWriter(root / "staging", min_free_bytes=0).clip(
        "big", 0.0, 10.0, captured_at_of=lambda t: T0, frames=ring
    )
except StorageError as exc:
    print("clip refused:", exc)
"""


def test_write_failing_part_way_leaves_no_partial_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = WRITE_PAST_FILE_LIMIT.replace("TESTS_DIR", repr(str(Path(__file__).parent))).replace(
        "ROOT", repr(str(tmp_path))
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "still refused: could not write" in proc.stdout
    assert "put refused: could not spool event" in proc.stdout
    assert "clip refused: could not write" in proc.stdout and "clip.mp4" in proc.stdout
    big = tmp_path / "staging" / "big"
    assert not list(big.iterdir())  # neither a complete-looking act.jpg nor a temporary file
    from detector.sinks.spool import Spool

    spool = Spool(tmp_path / "spool", min_free_bytes=0)
    [survivor] = spool.pending()
    assert survivor.verify() == []
    assert not list(spool.tmp_dir.iterdir())
