"""Site configuration: the YAML an operator writes for one site, parsed into pydantic models.

Zone and fixture polygons are in **normalised image coordinates**: ``[x, y]`` pairs in 0–1, where
``[0, 0]`` is the top-left corner and ``[1, 1]`` the bottom-right.  They survive a camera being
switched to a different resolution (main stream vs sub stream), which pixel coordinates would not.

Every model uses ``extra="forbid"`` so a misspelt key is an error, not a silently ignored setting;
:func:`load_site` turns validation errors into :class:`SiteConfigError` messages that name the
field path and the YAML line.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from detector.backends import DetectorConfig, OpenCVSSDConfig, YoloConfig
from detector.yaml_lines import line_of, load_yaml_with_lines, to_plain

logger = logging.getLogger(__name__)

# Site and camera keys, as the evidence API accepts them; a camera id also names a spool folder, so
# no path separators and no leading dot ("../elsewhere" must not escape the spool).
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"

#: the local time shown to people (GMT/BST) unless a site sets ``display_timezone``
DEFAULT_DISPLAY_TIMEZONE = "Europe/London"

Point = Annotated[
    tuple[float, float],
    Field(title="Point", description="[x, y] in normalised image coordinates (0–1, origin top-left)"),
]


class SiteConfigError(ValueError):
    """The site file is missing, is not YAML, or does not validate; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {len(points)}")
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(
                f"point [{x}, {y}] is outside 0–1: polygons use normalised coordinates "
                "(divide pixel x by the image width and y by the height)"
            )
    return points


class ZoneConfig(_Strict):
    """A hotspot zone: where vehicles stopping and new objects appearing matter."""

    name: str = Field(title="Zone name", description="Short name shown on events, e.g. 'verge'", min_length=1)
    polygon: list[Point] = Field(
        title="Polygon", description="At least 3 [x, y] points in normalised coordinates (0–1)"
    )

    @field_validator("polygon")
    @classmethod
    def _valid_polygon(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return _check_polygon(v)


class FixtureConfig(_Strict):
    """Something that lives at the site and must never raise an alert (recycling bank, bin, trailer)."""

    name: str = Field(title="Fixture name", description="What it is, e.g. 'recycling bank'", min_length=1)
    polygon: list[Point] = Field(
        title="Polygon", description="At least 3 [x, y] points in normalised coordinates (0–1)"
    )

    @field_validator("polygon")
    @classmethod
    def _valid_polygon(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return _check_polygon(v)


class CameraConfig(_Strict):
    """One camera at the site."""

    id: str = Field(
        title="Camera id",
        description=(
            "Camera key as registered in the evidence API: letters, digits, '.', '_' and '-', starting "
            "with a letter or digit (it also names the camera's spool folder)"
        ),
        pattern=KEY_PATTERN,
    )
    source: str | None = Field(
        default=None,
        title="Source",
        description="Video file, image folder or rtsp:// / http(s):// URL (--source overrides)",
    )
    mode: Literal["overt", "covert"] = Field(
        default="overt",
        title="Mode",
        description="overt (signed, DPIA) or covert (needs a RIPA authorisation)",
    )
    authorisation_ref: str | None = Field(
        default=None,
        title="Authorisation reference",
        description="DPIA reference for overt cameras, RIPA authorisation reference for covert ones",
    )
    zones: list[ZoneConfig] | None = Field(
        default=None,
        title="Hotspot zones",
        description="Per-camera hotspot zones; omitted means the whole frame is one zone named 'frame'",
    )
    fixtures: list[FixtureConfig] = Field(
        default_factory=list, title="Fixtures", description="Regions that never alert"
    )

    @model_validator(mode="after")
    def _covert_needs_authorisation(self) -> CameraConfig:
        if self.mode == "covert" and not self.authorisation_ref:
            raise ValueError(f"camera '{self.id}' is covert: set authorisation_ref to the RIPA authorisation")
        return self


class ThresholdsConfig(_Strict):
    """Per-site tuning of the rules; the defaults suit a lay-by seen from a pole-mounted camera."""

    dumping_persistence_s: float = Field(
        default=30.0,
        gt=0,
        title="Dumping persistence (s)",
        description="How long a new static object must stay, after people near it have gone, to be dumping",
    )
    stop_report_min_s: float = Field(
        default=10.0,
        ge=0,
        title="Reported at a stop after (s)",
        description="When the worker is stopped (Ctrl-C, systemd stop) a deposit still waiting for its "
        "persistence time is reported anyway, marked as cut short, once it has stayed this long with "
        "its bringers gone: it would otherwise be lost, as the next start learns it as background",
    )
    min_deposit_area: float = Field(
        default=0.0006,
        gt=0,
        lt=1,
        title="Minimum deposit area",
        description="Smallest deposit as a fraction of the frame area (0.0006 ≈ 16×16 px at 768×576)",
    )
    max_deposit_area: float = Field(
        default=0.15,
        gt=0,
        le=1,
        title="Maximum deposit area",
        description="Larger 'new' regions are scene changes (lighting, a moved camera), not deposits",
    )
    vehicle_stop_s: float = Field(
        default=4.0,
        gt=0,
        title="Vehicle stop time (s)",
        description="A vehicle that stays still this long inside a zone starts a visit",
    )
    vehicle_leave_s: float = Field(
        default=3.0,
        gt=0,
        title="Vehicle leave grace (s)",
        description="A visit ends once the vehicle has been gone (lost or outside the zone) this long",
    )
    dumping_cooldown_s: float = Field(
        default=120.0,
        ge=0,
        title="Dumping cooldown (s)",
        description="After a dumping event, further deposits close to it within this time join it",
    )
    visit_cooldown_s: float = Field(
        default=30.0,
        ge=0,
        title="Visit cooldown (s)",
        description="A vehicle that leaves and stops again within this time continues the same visit",
    )
    link_lookback_s: float = Field(
        default=180.0,
        gt=0,
        title="Link look-back (s)",
        description="Vehicle visits and people seen this long before a deposit appeared are linked to it",
    )
    near_growth: float = Field(
        default=0.3,
        ge=0,
        title="Near-a-deposit box growth",
        description=(
            "A person's or vehicle's box grown by this fraction of its size (plus the near margin) "
            "that overlaps a deposit counts as being at it: for linking, the act and persistence"
        ),
    )
    near_margin_px: float = Field(
        default=8.0,
        ge=0,
        title="Near margin (px)",
        description="Pixels added on every side to each grown box when testing 'near' (frame pixels)",
    )
    vehicle_link_growth: float = Field(
        default=0.75,
        ge=0,
        title="Vehicle link box growth",
        description="A visiting vehicle's box grown by this fraction that overlaps a deposit links the visit",
    )
    person_at_vehicle_growth: float = Field(
        default=0.2,
        ge=0,
        title="Person-at-vehicle box growth",
        description=(
            "A person whose box overlaps the visiting vehicle's box grown by this fraction was at the "
            "vehicle; seen near a deposit too, they link the deposit to the visit"
        ),
    )
    person_at_vehicle_window_s: float = Field(
        default=5.0,
        ge=0,
        title="Person-at-vehicle window (s)",
        description="A person counts as at the vehicle from this long before the visit to this long after it",
    )
    incident_join_distance: float = Field(
        default=0.25,
        ge=0,
        title="Incident join distance",
        description=(
            "Within the dumping cooldown, a deposit whose centre is closer than this fraction of the "
            "frame diagonal to an earlier incident's joins that incident"
        ),
    )
    motion_busy_fraction: float = Field(
        default=0.05,
        ge=0,
        le=1,
        title="Motion busy share",
        description=(
            "A deposit region with more than this share of its pixels moving is busy (someone undetected "
            "at it): its persistence clock pauses"
        ),
    )
    tracked_recently_s: float = Field(
        default=1.5,
        ge=0,
        title="Tracked recently (s)",
        description=(
            "A track last seen this recently near a deposit is at it: a bringer restarts its persistence "
            "clock, anyone else pauses it"
        ),
    )
    bringer_window_s: float = Field(
        default=15.0,
        gt=0,
        title="Bringer window (s)",
        description=(
            "People and vehicles near a deposit in this long before it first appeared brought it: their "
            "return restarts its persistence clock and the event starts when the first came into view"
        ),
    )
    max_visible_step_s: float = Field(
        default=5.0,
        gt=0,
        title="Largest persistence step (s)",
        description=(
            "A deposit's persistence clock advances by the time between scene samples, at most this much "
            "(scene samples are sparse while nothing moves)"
        ),
    )
    same_vehicle_iou: float = Field(
        default=0.5,
        gt=0,
        le=1,
        title="Same-vehicle overlap",
        description=(
            "A new track overlapping a just-lost vehicle track that had arrived by at least this IoU is "
            "the same vehicle (a tracker id switch), so it has arrived too"
        ),
    )
    act_window_s: float = Field(
        default=2.0,
        gt=0,
        title="Act window (s)",
        description="The 'act' still is the first clip frame within this long after the act began",
    )
    before_still_offset_s: float = Field(
        default=5.0,
        ge=0,
        title="Before-still offset (s)",
        description=(
            "The 'before' still is the latest snapshot this long before the first linked person or vehicle "
            "came into view (a person is often in view a few seconds before the detector is sure of them); "
            "when the footage starts later than that, the earliest snapshot before they came into view"
        ),
    )
    deposit_crop_margin: float = Field(
        default=0.75,
        ge=0,
        le=5,
        title="Deposit crop margin",
        description=(
            "The deposit crop shows this fraction of the deposit's width (height) beside it on the left "
            "and right (above and below): its surroundings, in proportion to its size"
        ),
    )
    deposit_crop_min_px: int = Field(
        default=160,
        ge=16,
        title="Deposit crop minimum size (px)",
        description=(
            "Each side of a deposit crop is at least this many frame pixels (or the whole frame), so a "
            "small sack is shown with enough around it to recognise where it is"
        ),
    )
    deposit_crop_max_aspect: float = Field(
        default=2.0,
        ge=1,
        title="Deposit crop longest/shortest side",
        description=(
            "A deposit crop's long side is at most this many times its short side (a tall or flat "
            "deposit gets more context across it, never a thin strip)"
        ),
    )


class PerformanceConfig(_Strict):
    """How hard the worker works; lower rates save CPU on a small edge box."""

    motion_fps: float = Field(
        default=5.0,
        gt=0,
        title="Motion-gate rate (looks per second)",
        description=(
            "How often the motion gate, and everything it wakes, looks at the picture; frames in "
            "between cost only their decode (and stay in the clip).  Frigate's detect default; a "
            "source slower than this is looked at on every frame"
        ),
    )
    detect_interval_s: float = Field(
        default=0.7,
        gt=0,
        title="Detect interval (s)",
        description="Fastest object-detector cadence while there is motion",
    )
    tracked_refresh_s: float = Field(
        default=0.7,
        gt=0,
        title="Continuing-motion refresh (s)",
        description=(
            "Motion that continues motion already looked at (a person walking on) is looked at again "
            "this often; motion where nothing moved (someone coming into view) within "
            "detect_interval_s.  Raising it saves CPU on busy scenes but looks at walkers less often: "
            "at 1 s or more a person putting something down can go unlinked to it (measured)"
        ),
    )
    keepalive_s: float = Field(
        default=30.0,
        gt=0,
        title="Keep-alive (s)",
        description=(
            "Full-frame detector cadence while little moves; skipped when nothing has moved since "
            "the last full look (nothing new can be in view then)"
        ),
    )
    scene_idle_s: float = Field(
        default=5.0,
        gt=0,
        title="Scene idle interval (s)",
        description="While nothing moves the scene cannot change: refresh the scene model only this often",
    )
    scene_interval_s: float = Field(
        default=0.5,
        gt=0,
        title="Scene interval (s)",
        description="How often the scene (deposit) model samples",
    )
    clip_fps: float = Field(
        default=4.0, gt=0, title="Clip frame rate", description="Frames per second kept for evidence clips"
    )
    pre_roll_s: float = Field(
        default=10.0, ge=0, title="Pre-roll (s)", description="Clip time before an event"
    )
    post_roll_s: float = Field(
        default=5.0, ge=0, title="Post-roll (s)", description="Clip time after an event"
    )
    max_clip_s: float = Field(
        default=90.0,
        gt=0,
        title="Max clip (s)",
        description="Cap on a clip's length; the frame ring holds this plus the visit cooldown in memory",
    )
    ring_jpeg_quality: int = Field(
        default=85,
        ge=50,
        le=100,
        title="Ring JPEG quality",
        description="Quality of frames held in memory for clips (stills of the moment are full quality)",
    )
    plate_views: int = Field(
        default=5,
        ge=1,
        le=20,
        title="Plate views per visit",
        description=(
            "How many views of a visiting vehicle (its largest, most confident boxes over the visit) "
            "have their plate read, the reads voted character by character for the event's plate. "
            "Each view costs one plate read when the visit ends (OCR, tens to hundreds of ms of CPU) "
            "and holds the lower part of the vehicle box in memory until then; 1 reads the best view "
            "alone"
        ),
    )


class SiteConfig(_Strict):
    """One site (a lay-by, a gateway, a verge) watched by one or more cameras."""

    site_id: str = Field(
        title="Site id",
        description="Site key as registered in the evidence API (letters, digits, '.', '_', '-')",
        pattern=KEY_PATTERN,
    )
    name: str = Field(
        default="", title="Site name", description="Human-readable name, e.g. 'A123 lay-by north'"
    )
    cameras: list[CameraConfig] = Field(
        default_factory=list, title="Cameras", description="Cameras at the site; at least one for `detect`"
    )
    zones: list[ZoneConfig] | None = Field(
        default=None,
        title="Hotspot zones",
        description="Site-wide hotspot zones for cameras that set none; omitted means the whole frame",
    )
    fixtures: list[FixtureConfig] = Field(
        default_factory=list, title="Fixtures", description="Site-wide regions that never alert"
    )
    thresholds: ThresholdsConfig = Field(
        default_factory=ThresholdsConfig, title="Thresholds", description="Rule tuning"
    )
    detector: DetectorConfig = Field(
        default_factory=OpenCVSSDConfig,
        title="Detector",
        description="Object detector plugin: {type: opencv_ssd} (default) or {type: yolo, model_path: ...}",
    )
    performance: PerformanceConfig = Field(
        default_factory=PerformanceConfig, title="Performance", description="Cadences and clip settings"
    )
    display_timezone: str = Field(
        default=DEFAULT_DISPLAY_TIMEZONE,
        min_length=1,
        title="Display time zone",
        description=(
            "IANA time zone of the local time burnt into annotated stills beside UTC, e.g. "
            "'Europe/London' (GMT/BST); times are stored in UTC regardless"
        ),
    )

    @field_validator("display_timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}: use an IANA name such as 'Europe/London'") from exc
        return v

    @model_validator(mode="after")
    def _unique_ids(self) -> SiteConfig:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"camera ids must be unique, repeated: {', '.join(dupes)}")
        return self

    def camera(self, camera_id: str | None = None) -> CameraConfig:
        """The named camera, or the only/first one; a default overt camera 'cam-1' when none is configured."""
        if camera_id is not None:
            for cam in self.cameras:
                if cam.id == camera_id:
                    return cam
            raise SiteConfigError(f"site '{self.site_id}' has no camera '{camera_id}'")
        return self.cameras[0] if self.cameras else CameraConfig(id="cam-1")

    def zones_for(self, camera: CameraConfig) -> list[ZoneConfig]:
        zones = camera.zones if camera.zones is not None else self.zones
        if zones:
            return list(zones)
        return [ZoneConfig(name="frame", polygon=[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])]

    def fixtures_for(self, camera: CameraConfig) -> list[FixtureConfig]:
        return [*self.fixtures, *camera.fixtures]


def default_site(site_id: str = "default") -> SiteConfig:
    """The configuration used without a site file: one camera, the whole frame is the hotspot zone."""
    return SiteConfig(site_id=site_id)


def parse_site(text: str, origin: str = "<site>", base_dir: Path | None = None) -> SiteConfig:
    """Parse site YAML text; raise :class:`SiteConfigError` naming the field and line of each problem."""
    try:
        data = load_yaml_with_lines(text)
    except yaml.YAMLError as exc:
        raise SiteConfigError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SiteConfigError(f"{origin}: expected a mapping with site_id, cameras, ... at the top level")
    try:
        site = SiteConfig.model_validate(to_plain(data))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            path = ".".join(str(p) for p in loc) or "(top level)"
            line = line_of(data, loc)
            where = f"line {line}, " if line is not None else ""
            problems.append(f"{origin}: {where}{path}: {err['msg']}")
        raise SiteConfigError("invalid site configuration:\n  " + "\n  ".join(problems)) from exc
    if (
        base_dir is not None
        and isinstance(site.detector, YoloConfig)
        and not site.detector.model_path.is_absolute()
    ):
        detector = site.detector.model_copy(update={"model_path": base_dir / site.detector.model_path})
        site = site.model_copy(update={"detector": detector})
    return site


def load_site(path: Path | str) -> SiteConfig:
    """Load and validate a site file (see ``deploy/site.example.yaml``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SiteConfigError(f"cannot read site file {path}: {exc.strerror or exc}") from exc
    site = parse_site(text, origin=str(path), base_dir=path.parent)
    logger.info("loaded site %s (%d camera(s)) from %s", site.site_id, len(site.cameras), path)
    return site
