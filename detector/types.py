"""Core value types of the detection worker.

Every backend converts its output into :class:`Detections` at its own edge; nothing
outside ``detector/backends`` imports a model library.  Times are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt


class ClockSource(enum.StrEnum):
    """Where a frame's capture time came from."""

    STREAM = "stream"  # the camera / container clock (RTSP RTCP, file PTS anchored to a known start)
    RECEIVE = "receive"  # this box's clock when the frame arrived (NTP-disciplined)


class ObjectClass(enum.IntEnum):
    """The classes the worker cares about; backends map their own labels onto these."""

    PERSON = 0
    CAR = 1
    VAN_TRUCK = 2
    BUS = 3
    MOTORCYCLE = 4

    @property
    def is_vehicle(self) -> bool:
        return self is not ObjectClass.PERSON


class EventType(enum.StrEnum):
    VEHICLE_VISIT = "vehicle_visit"
    DUMPING = "dumping"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Frame:
    """One decoded frame from a camera.

    The picture is held as the decoder gave it: BGR ``(H, W, 3)``, or planar 4:2:0 (I420,
    ``(H*3/2, W)``) from a video decoder.  :attr:`grey` is free for I420 (the luma plane is a view),
    and :attr:`image` (BGR) is converted once, on first use: most frames of a quiet camera only
    ever meet the motion gate, which needs grey alone.

    ``Frame(image, camera_id, index, captured_at, clock_source, video_time_s)`` with a BGR
    ``image``, or ``Frame(None, ..., i420=planes)``.  ValueError for a picture of another shape
    or a naive ``captured_at``.
    """

    __slots__ = (
        "_bgr",
        "_i420",
        "camera_id",
        "captured_at",
        "clock_source",
        "height",
        "index",
        "video_time_s",
        "width",
    )

    def __init__(
        self,
        image: npt.NDArray[np.uint8] | None,
        camera_id: str,
        index: int,
        captured_at: datetime,
        clock_source: ClockSource,
        video_time_s: float,
        *,
        i420: npt.NDArray[np.uint8] | None = None,
    ) -> None:
        if image is not None:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(
                    f"Frame.image must be an HxWx3 uint8 BGR array, got shape {image.shape} "
                    f"dtype {image.dtype}"
                )
            height, width = int(image.shape[0]), int(image.shape[1])
        elif i420 is not None:
            if i420.ndim != 2 or i420.dtype != np.uint8 or i420.shape[0] % 3 or i420.shape[1] % 2:
                raise ValueError(f"Frame i420 planes must be a (H*3/2, W) uint8 array, got {i420.shape}")
            height, width = int(i420.shape[0]) * 2 // 3, int(i420.shape[1])
        else:
            raise ValueError("a Frame needs a BGR image or I420 planes")
        if captured_at.tzinfo is None:
            raise ValueError("Frame.captured_at must be timezone-aware (UTC)")
        self._bgr = image
        self._i420 = i420
        self.width, self.height = width, height
        self.camera_id = camera_id
        self.index = index
        self.captured_at = captured_at
        self.clock_source = clock_source
        self.video_time_s = video_time_s

    @property
    def image(self) -> npt.NDArray[np.uint8]:
        """The picture as BGR uint8 ``(H, W, 3)`` (converted from I420 once, then kept)."""
        if self._bgr is None:
            assert self._i420 is not None
            self._bgr = np.asarray(cv2.cvtColor(self._i420, cv2.COLOR_YUV2BGR_I420), np.uint8)
        return self._bgr

    @property
    def grey(self) -> npt.NDArray[np.uint8]:
        """Luma ``(H, W)`` uint8: a view of the Y plane for I420, else converted from BGR."""
        if self._i420 is not None:
            return self._i420[: self.height]
        return np.asarray(cv2.cvtColor(self.image, cv2.COLOR_BGR2GRAY), np.uint8)

    def __repr__(self) -> str:
        return (
            f"Frame({self.camera_id!r}, index={self.index}, {self.width}x{self.height}, "
            f"t={self.video_time_s:.3f}s, captured_at={self.captured_at.isoformat()})"
        )


@dataclass(slots=True)
class Detections:
    """Parallel arrays describing N detected objects in one frame (pixel coordinates)."""

    xyxy: npt.NDArray[np.float32]  # (N, 4) x1, y1, x2, y2
    confidence: npt.NDArray[np.float32]  # (N,)
    class_id: npt.NDArray[np.int32]  # (N,) ObjectClass values
    tracker_id: npt.NDArray[np.int64] | None = None  # (N,) or None before tracking

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32)
        if self.xyxy.size == 0:
            self.xyxy = self.xyxy.reshape(0, 4)
        self.confidence = np.asarray(self.confidence, dtype=np.float32)
        self.class_id = np.asarray(self.class_id, dtype=np.int32)
        n = len(self.xyxy)
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must have shape (N, 4), got {self.xyxy.shape}")
        for name, arr in (("confidence", self.confidence), ("class_id", self.class_id)):
            if arr.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
        if self.tracker_id is not None:
            self.tracker_id = np.asarray(self.tracker_id, dtype=np.int64)
            if self.tracker_id.shape != (n,):
                raise ValueError(f"tracker_id must have shape ({n},), got {self.tracker_id.shape}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros((0,), np.float32),
            class_id=np.zeros((0,), np.int32),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: int | slice | npt.NDArray[np.bool_] | npt.NDArray[np.integer]) -> Detections:
        if isinstance(index, int):
            index = np.array([index])
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=None if self.tracker_id is None else self.tracker_id[index],
        )

    def __iter__(self) -> Iterator[Detections]:
        for i in range(len(self)):
            yield self[i]

    @staticmethod
    def merge(parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Detections.empty()
        with_ids = all(p.tracker_id is not None for p in parts)
        return Detections(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            tracker_id=np.concatenate([p.tracker_id for p in parts]) if with_ids else None,
        )


@dataclass(slots=True)
class TrackPoint:
    video_time_s: float
    captured_at: datetime
    xyxy: tuple[float, float, float, float]
    confidence: float


@dataclass(slots=True)
class Track:
    """A tracked vehicle or person and what the worker knows of it."""

    track_id: int
    object_class: ObjectClass
    first_seen: TrackPoint
    last_seen: TrackPoint
    history: list[TrackPoint] = field(default_factory=list)
    stationary_since_s: float | None = None  # video time when it stopped moving, if it has
    in_zones: set[str] = field(default_factory=set)
    best_confidence: float = 0.0
    best_frame_index: int | None = None
    arrived: bool = False  # seen moving (or continuing a track that was): not parked since the start

    @property
    def dwell_s(self) -> float:
        return self.last_seen.video_time_s - self.first_seen.video_time_s


@dataclass(slots=True)
class VehicleVisit:
    """A vehicle stopped in a hotspot zone."""

    visit_id: int
    track_id: int
    object_class: ObjectClass
    zone: str
    started_s: float  # the arrival: when the first linked person or vehicle came into view
    started_at: datetime
    box: tuple[float, float, float, float]  # pixels, where it stopped
    last_seen_s: float
    last_seen_at: datetime
    ended_s: float | None = None
    ended_at: datetime | None = None
    event_id: str | None = None  # set by the pipeline when it mints the event id at the start
    present_at_start: bool = False  # already standing there when the source started: arrival unseen
    deposits: int = 0

    @property
    def active(self) -> bool:
        return self.ended_s is None


@dataclass(slots=True)
class Deposit:
    """A new static region in a hotspot zone that the rules are watching: something left behind."""

    region_id: int
    first_seen_s: float
    first_seen_at: datetime
    box: tuple[int, int, int, int]
    zone: str
    clear_since_s: float
    act_s: float
    linked_visits: set[int] = field(default_factory=set)
    people: set[int] = field(default_factory=set)
    vehicles: set[int] = field(default_factory=set)
    visible_s: float = 0.0  # seen, unhidden, with whoever brought it gone, since clear_since_s
    observed_s: float | None = None  # video time of the last scene sample that looked at it
    arrival_s: float | None = None  # when the first linked person or vehicle came into view


@dataclass(slots=True)
class DumpingIncident:
    """One dumping event: the first qualifying deposit and any that joined it."""

    incident_id: int
    zone: str
    started_s: float  # the arrival: when the first linked person or vehicle came into view
    started_at: datetime
    confirmed_s: float
    confirmed_at: datetime
    box: tuple[int, int, int, int]
    deposits: list[Deposit]
    linked_visits: set[int]
    people: set[int]
    vehicles: set[int]
    deposit_s: float = 0.0  # when the deposit was first seen standing there
    act_still_s: float = 0.0  # when a bringer was last at the deposit as it appeared: the "act" still
    departed_s: float = 0.0  # when the last bringer was last seen: the clip ends soon after
    cut_short_s: float | None = None  # the worker stopped when it had stayed this long (< persistence)

    @property
    def area_px(self) -> int:
        return sum((d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) for d in self.deposits)


class StillRole(enum.StrEnum):
    ARRIVAL = "arrival"  # vehicle arrives
    VEHICLE = "vehicle"  # best view of the vehicle
    PLATE = "plate"  # number-plate crop
    ACT = "act"  # the act of depositing
    DEPARTURE = "departure"  # vehicle / people leave
    BEFORE = "before"  # scene before the deposit
    AFTER = "after"  # scene after the deposit, nobody near it
    DEPOSIT = "deposit"  # crop of what was left


class FileKind(enum.StrEnum):
    ORIGINAL = "original"  # the frame/clip as captured, write-once master
    ANNOTATED = "annotated"  # working copy: boxes and labels, or a clip re-encoded for browsers


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """One file attached to an event (a JPEG still or an mp4 clip) on the edge box."""

    path: Path
    role: str  # a StillRole value or "clip"
    kind: FileKind
    media_type: str  # image/jpeg or video/mp4
    sha256: str
    size: int
    captured_at: datetime  # capture time of the frame (start of clip for clips)


@dataclass(slots=True)
class PlateRead:
    text: str | None
    confidence: float | None
    valid_uk_format: bool


@dataclass(slots=True)
class Event:
    """A vehicle visit or a dumping event, as flagged at the edge (before spooling)."""

    event_id: str  # deterministic UUIDv8 (detector.identity), minted at the edge: the idempotency key
    type: EventType
    site_id: str
    camera_id: str
    started_at: datetime
    ended_at: datetime
    start_video_s: float
    end_video_s: float
    clock_source: ClockSource
    model_name: str
    model_sha256: str
    rule_version: str
    zone: str | None = None
    linked_event_ids: list[str] = field(default_factory=list)
    plate: PlateRead | None = None
    files: list[EvidenceFile] = field(default_factory=list)
    details: dict[str, str | int | float | bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None or self.ended_at.tzinfo is None:
            raise ValueError("event times must be timezone-aware (UTC)")
        if self.ended_at < self.started_at:
            raise ValueError(f"event ends ({self.ended_at}) before it starts ({self.started_at})")
