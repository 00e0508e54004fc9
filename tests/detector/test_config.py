"""Site configuration: what an operator gets wrong is an error naming the field and the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from detector.backends import OpenCVSSDConfig, YoloConfig
from detector.config import CameraConfig, SiteConfigError, default_site, load_site, parse_site

REPO = Path(__file__).resolve().parents[2]

VALID = """\
site_id: lay-by-a123
name: A123 north
cameras:
  - id: cam-1
    mode: overt
zones:
  - name: verge
    polygon: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]
fixtures:
  - name: bin
    polygon: [[0.1, 0.6], [0.2, 0.6], [0.2, 0.7]]
thresholds:
  dumping_persistence_s: 20
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (VALID, None),
        (
            "site_id: a\nthresholds:\n  dumping_persistance_s: 3\n",
            "line 3, thresholds.dumping_persistance_s: Extra",
        ),
        ("site_id: a\nzones:\n  - name: z\n    polygon: [[0,0],[2,0],[1,1]]\n", "line 4, zones.0.polygon"),
        ("site_id: a\nzones:\n  - name: z\n    polygon: [[0,0],[1,0]]\n", "at least 3 points"),
        ("site_id: a\ncameras:\n  - id: c\n    mode: covert\n", "set authorisation_ref"),
        ("site_id: a\ncameras:\n  - id: c\n  - id: c\n", "camera ids must be unique, repeated: c"),
        ("site_id: a\ndetector:\n  type: yolo\n", "line 2, detector.yolo.model_path: Field required"),
        ("site_id: a\ndetector:\n  type: tensorrt\n", "does not match any of the expected tags"),
        ("site_id: a\nthresholds:\n  dumping_persistence_s: -5\n", "greater than 0"),
        (
            "site_id: a\ndisplay_timezone: Mars/Olympus\n",
            "line 2, display_timezone: Value error, unknown time",
        ),
        ("site_id: a\ncameras:\n  - id: c\n    mode: hidden\n", "line 4, cameras.0.mode"),
        ("name: no id\n", "site_id: Field required"),
        ("site_id: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_site_file_validation(text: str, expected: str | None) -> None:
    if expected is None:
        site = parse_site(text)
        assert site.site_id == "lay-by-a123"
        assert site.thresholds.dumping_persistence_s == 20
        assert site.thresholds.vehicle_stop_s == 4.0  # untouched default
        return
    with pytest.raises(SiteConfigError) as info:
        parse_site(text)
    assert expected in str(info.value)


def test_every_field_has_title_and_description() -> None:
    from pydantic import BaseModel

    from detector import config

    models: list[type[BaseModel]] = [
        config.SiteConfig,
        config.CameraConfig,
        config.ZoneConfig,
        config.FixtureConfig,
        config.ThresholdsConfig,
        config.PerformanceConfig,
        OpenCVSSDConfig,
        YoloConfig,
    ]
    for model in models:
        assert model.model_config.get("extra") == "forbid", model.__name__
        for name, field in model.model_fields.items():
            assert field.title and field.description, f"{model.__name__}.{name} lacks a title/description"


def test_example_site_file_loads() -> None:
    site = load_site(REPO / "deploy" / "site.example.yaml")
    cam = site.camera()
    assert cam.id == "cam-1"
    assert [z.name for z in site.zones_for(cam)] == ["lay-by", "verge"]
    assert {f.name for f in site.fixtures_for(cam)} >= {"recycling bank", "litter bin"}


def test_without_a_site_file_the_whole_frame_is_the_zone() -> None:
    site = default_site()
    zones = site.zones_for(site.camera())
    assert len(zones) == 1 and zones[0].name == "frame"
    assert zones[0].polygon == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]


def test_yolo_model_path_is_relative_to_the_site_file(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "site_id: a\ndetector:\n  type: yolo\n  model_path: models/their.pt\n"
    )
    site = load_site(tmp_path / "site.yaml")
    assert isinstance(site.detector, YoloConfig)
    assert site.detector.model_path == tmp_path / "models" / "their.pt"


def test_missing_site_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SiteConfigError, match="cannot read site file"):
        load_site(tmp_path / "nope.yaml")


@pytest.mark.parametrize("camera_id", ["../outside", "/tmp/elsewhere", "a/b", ".hidden", "cam 1", ""])
def test_a_camera_id_that_could_name_a_folder_outside_the_spool_is_refused(camera_id: str) -> None:
    """A camera id names its spool folder under ``--spool`` (``--all-cameras``): path separators,
    a leading dot and spaces are refused, as the evidence API refuses them as keys."""
    with pytest.raises(ValidationError):
        CameraConfig(id=camera_id, authorisation_ref="DPIA-1")
