"""Event ids come from what the event is: the same incident in the same footage gets the same id (so
re-processing cannot store it twice), distinct incidents never share one, and ids still sort by time."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from detector.backends.registry import ModelInfo
from detector.config import CameraConfig
from detector.events import EventFactory
from detector.identity import event_id, event_time, footage_identity, is_time_ordered
from detector.types import ObjectClass, VehicleVisit

T0 = datetime(2026, 11, 24, 16, 0, 0, 123456, tzinfo=UTC)
FIELDS: dict[str, Any] = {
    "site_id": "lay-by-a123",
    "camera_id": "cam-1",
    "footage_id": "file:" + "ab" * 32,
    "event_type": "dumping",
    "started_at": T0,
    "started_video_s": 12.5,
    "ordinal": 1,
    "rule_version": "rules/1",
}


def test_the_same_incident_gets_the_same_id_and_every_field_of_its_identity_counts() -> None:
    first = event_id(**FIELDS)
    assert event_id(**FIELDS) == first
    assert uuid.UUID(first).version == 8 and uuid.UUID(first).variant == uuid.RFC_4122
    changed = {
        "site_id": "other-site",
        "camera_id": "cam-2",
        "footage_id": "file:" + "cd" * 32,
        "event_type": "vehicle_visit",
        "started_at": T0 + timedelta(microseconds=1),
        "started_video_s": 12.6,
        "ordinal": 2,
        "rule_version": "rules/2",
    }
    ids = {event_id(**{**FIELDS, key: value}) for key, value in changed.items()}
    assert first not in ids and len(ids) == len(changed)


def test_ids_begin_with_the_incident_time_so_they_sort_like_uuid7() -> None:
    times = [T0 + timedelta(seconds=s) for s in (0, 0.002, 1, 3600, 86400 * 30)]
    ids = [event_id(**{**FIELDS, "started_at": t, "ordinal": 9 - i}) for i, t in enumerate(times)]
    assert ids == sorted(ids)
    assert all(is_time_ordered(i) for i in ids)
    assert abs(event_time(ids[0]) - T0) < timedelta(milliseconds=1)
    with pytest.raises(ValueError, match="naive"):
        event_id(**{**FIELDS, "started_at": datetime(2026, 11, 24, 16, 0)})


def _visit(visit_id: int, started_at: datetime, track_id: int = 3) -> VehicleVisit:
    return VehicleVisit(
        visit_id=visit_id,
        track_id=track_id,
        object_class=ObjectClass.CAR,
        zone="verge",
        started_s=4.0,
        started_at=started_at,
        box=(1.0, 2.0, 30.0, 40.0),
        last_seen_s=4.0,
        last_seen_at=started_at,
    )


def test_a_live_stream_gives_distinct_incidents_distinct_ids() -> None:
    """A stream's capture times are the box's clock: incidents at different times differ, and two
    that start on the same frame differ by their ordinal; a restarted stream is still the stream."""
    model = ModelInfo(
        name="ssd",
        source="test",
        licence="Apache-2.0",
        classes=(),
        weights_path=Path("ssd.pb"),
        sha256="a" * 64,
    )
    camera = CameraConfig(id="cam-1")
    stream = footage_identity("rtsp://user:secret@10.0.0.5:554/Streaming/101", stream=True)
    assert stream == "stream:rtsp://10.0.0.5:554/Streaming/101"  # no password in anything derived
    factory = EventFactory("lay-by-a123", camera, model, stream)
    later = EventFactory("lay-by-a123", camera, model, stream)  # the worker restarted
    ids = {
        factory.visit_id(_visit(1, T0)),
        factory.visit_id(_visit(2, T0)),  # two vehicles arriving on the same frame
        factory.visit_id(_visit(3, T0 + timedelta(minutes=5))),
        later.visit_id(_visit(1, T0 + timedelta(hours=1))),  # ordinals restart, times do not
    }
    assert len(ids) == 4
    assert later.visit_id(_visit(1, T0)) == factory.visit_id(_visit(1, T0))
    # A pipeline run outside the worker (no footage identity) never collides with another run.
    unknown = EventFactory("lay-by-a123", camera, model)
    another = EventFactory("lay-by-a123", camera, model)
    assert unknown.visit_id(_visit(1, T0)) != another.visit_id(_visit(1, T0))


def test_footage_is_identified_by_its_content(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)
    renamed = tmp_path / "elsewhere" / "renamed.mp4"
    renamed.parent.mkdir()
    shutil.copy(clip, renamed)
    assert footage_identity(str(clip), stream=False) == footage_identity(str(renamed), stream=False)
    other = tmp_path / "other.mp4"
    other.write_bytes(clip.read_bytes()[:-1] + b"\x01")
    assert footage_identity(str(other), stream=False) != footage_identity(str(clip), stream=False)
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "0001.jpg").write_bytes(b"\xff\xd8\xff one")
    (folder / "0002.jpg").write_bytes(b"\xff\xd8\xff two")
    before = footage_identity(str(folder), stream=False)
    assert before.startswith("folder:") and footage_identity(str(folder), stream=False) == before
    (folder / "0002.jpg").write_bytes(b"\xff\xd8\xff changed")
    assert footage_identity(str(folder), stream=False) != before
