"""The plate test set: deterministic, its truth a valid UK mark by the reader's own rules, the plate
drawn where its truth says and as the DVLA lays it out; and the plate benchmark's JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.plate_format import check_uk_plate
from detector.types import PlateRead
from tipwatch.cli import build_parser
from tipwatch.dev.bench.plates import Outcome, edit_distance, rates
from tipwatch.dev.plateset import (
    FORMAT_WEIGHTS,
    MARKS_SEEN_ON,
    PHOTOS,
    FontMissing,
    draw_vehicle,
    render_views,
    typeface,
    write_plate_set,
)
from tipwatch.dev.plateset.photos import load_photo
from tipwatch.dev.plateset.typeface import draw_plate

ROOT = Path(__file__).resolve().parents[2]
SEED = 13


@pytest.fixture(scope="module", autouse=True)
def _photos_installed() -> None:
    for name, photo in PHOTOS.items():
        if not photo.path().is_file():
            pytest.skip(f"{name} photo not installed ({photo.package})")
    if not typeface.FONT_PATH.is_file():
        pytest.skip(f"plate typeface not installed ({typeface.FONT_PACKAGE})")


def test_the_set_renders_the_same_pixels_every_time_and_any_subset_alike() -> None:
    first = [draw_vehicle(SEED, i) for i in range(3)]
    again = [draw_vehicle(SEED, i) for i in range(3)]
    assert first == again
    views = render_views(first[2], 2)
    assert [v.jpeg for v in views] == [v.jpeg for v in render_views(again[2], 2)]
    # view 0 does not depend on how many views are rendered, nor on the vehicles before it
    assert render_views(draw_vehicle(SEED, 2), 1)[0].jpeg == views[0].jpeg
    assert views[0].jpeg != views[1].jpeg  # the views of a track differ
    assert draw_vehicle(SEED + 1, 2) != first[2]


def test_every_truth_is_a_valid_uk_mark_by_the_readers_rules_and_the_set_is_broad() -> None:
    fleet = [draw_vehicle(SEED, i) for i in range(300)]
    today = datetime.now(UTC).date()
    for vehicle in fleet:
        mark = vehicle.mark
        for seen in (MARKS_SEEN_ON, today):
            decided = check_uk_plate(mark.display, on=seen)
            assert (decided.text, decided.format, decided.corrections) == (mark.text, mark.format, ()), mark
        assert "".join(mark.groups) == mark.text
    formats = Counter(v.mark.format for v in fleet)
    assert set(formats) == set(FORMAT_WEIGHTS), formats
    assert min(formats.values()) >= 20, formats
    conditions = [v.conditions for v in fleet]
    heights = [c.height_px for c in conditions]
    angles = [c.angle_deg for c in conditions]
    assert 20 <= min(heights) < 23 and 57 < max(heights) <= 60
    assert min(angles) < 3 and 27 < max(angles) <= 30
    assert {c.colour for c in conditions} == {"yellow", "white"}
    assert {c.layout for c in conditions} == {"one_line", "square", "motorcycle"}
    assert {c.blur for c in conditions} == {"none", "soft", "heavy"}
    assert {c.night for c in conditions} == {True, False}
    assert {c.photo for c in conditions} == set(PHOTOS)
    assert len({v.mark.text for v in fleet}) == len(fleet)


def test_the_plate_is_where_its_truth_says_inside_the_readers_part_of_the_vehicle() -> None:
    # a daylight, unblurred yellow plate: find one in the set rather than tune one
    vehicle = next(
        v
        for v in (draw_vehicle(SEED, i) for i in range(200))
        if v.conditions.colour == "yellow" and not v.conditions.night and v.conditions.blur == "none"
    )
    for view in render_views(vehicle, 2):
        corners = np.asarray(view.plate_corners, np.float32)
        x1, y1, x2, y2 = view.vehicle_box
        assert (corners[:, 0] > x1).all() and (corners[:, 0] < x2).all()
        # the reader looks at the lower 60 % of the vehicle box (detector.plates.PlateReader)
        assert (corners[:, 1] > y1 + 0.4 * (y2 - y1)).all() and (corners[:, 1] < y2 + 0.05 * (y2 - y1)).all()
        polygon = np.zeros(view.image.shape[:2], np.uint8)
        cv2.fillConvexPoly(polygon, corners.round().astype(np.int32), 255)
        interior = cv2.erode(polygon, np.ones((3, 3), np.uint8))
        hsv = cv2.cvtColor(view.image, cv2.COLOR_BGR2HSV)
        inside = hsv[interior > 0]
        yellow = (inside[:, 0] >= 15) & (inside[:, 0] <= 40) & (inside[:, 1] > 90)
        assert yellow.mean() > 0.5  # the plate's background, between its black characters


def _ink_components(plate: np.ndarray) -> list[tuple[float, float]]:
    ink = (cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY) < 100).astype(np.uint8)
    _, _, stats, centroids = cv2.connectedComponentsWithStats(ink)
    return [(float(c[0]), float(c[1])) for c, s in zip(centroids[1:], stats[1:], strict=True) if s[4] > 20]


def test_plates_follow_the_dvla_layout() -> None:
    one = draw_plate(("AB12", "CDE"), "one_line", "yellow", ppm=2.0)
    assert one.shape[:2] == (222, 1040)  # 520 x 111 mm
    chars = sorted(_ink_components(one))
    assert len(chars) == 7
    steps = np.diff([x for x, _ in chars])
    # characters 50 mm wide and 11 mm apart: 61 mm centre to centre; 33 mm apart between the groups
    assert np.allclose(np.delete(steps, 3), 61 * 2, atol=12)
    assert abs(steps[3] - (50 + 33) * 2) < 12
    two = draw_plate(("AB12", "CDE"), "square", "white", ppm=2.0)
    assert two.shape[:2] == (406, 570)  # 285 x 203 mm
    rows = Counter(round(y / 100) for _, y in _ink_components(two))
    assert sorted(rows.values()) == [3, 4]  # "AB12" over "CDE"


def test_a_missing_typeface_is_named_with_its_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(typeface, "FONT_PATH", tmp_path / "nowhere.ttf")
    typeface._font.cache_clear()
    typeface.glyph.cache_clear()
    try:
        with pytest.raises(FontMissing, match="fonts-dejavu-extra"):
            draw_plate(("AB12", "CDE"), "one_line", "yellow")
    finally:
        typeface._font.cache_clear()
        typeface.glyph.cache_clear()


def test_written_set_holds_each_view_with_its_truth_beside_it(tmp_path: Path) -> None:
    paths = write_plate_set(tmp_path, vehicles=2, seed=SEED, views=2)
    assert [p.name for p in paths] == ["v0000-0.jpg", "v0000-1.jpg", "v0001-0.jpg", "v0001-1.jpg"]
    for path in paths:
        truth = json.loads(path.with_suffix(".truth.json").read_text())
        vehicle = draw_vehicle(SEED, truth["index"])
        assert truth["text"] == vehicle.mark.text and truth["conditions"]["photo"] == vehicle.conditions.photo
        assert path.read_bytes() == render_views(vehicle, 2)[truth["view"]].jpeg
        assert cv2.imread(str(path)) is not None
    listing = json.loads((tmp_path / "plates.json").read_text())
    assert [v["text"] for v in listing["vehicles"]] == [draw_vehicle(SEED, i).mark.text for i in range(2)]


def test_photos_are_the_real_files_from_their_packages() -> None:
    for name in PHOTOS:
        image = load_photo(name)
        box = PHOTOS[name].vehicle_box
        assert image.shape[0] >= box[3] and image.shape[1] >= box[2]
        assert float(image.std()) > 20  # a photograph, not a blank


# -- the benchmark's scoring


def test_scoring_separates_exact_wrong_but_confident_unverified_and_nothing() -> None:
    vehicle = draw_vehicle(SEED, 0)
    truth = vehicle.mark.text
    wrong = truth[:-1] + ("X" if truth[-1] != "X" else "Y")  # one character off
    outcomes = [
        Outcome(vehicle, PlateRead(text=truth, confidence=0.9, valid_uk_format=True)),
        Outcome(vehicle, PlateRead(text=wrong, confidence=0.9, valid_uk_format=True)),
        Outcome(vehicle, PlateRead(text="CERO0", confidence=0.8, valid_uk_format=False)),
        Outcome(vehicle, PlateRead(text=None, confidence=None, valid_uk_format=False)),
    ]
    r = rates(outcomes)
    assert (r["n"], r["exact"], r["wrong_confident"], r["unverified"], r["no_read"]) == (
        4,
        0.25,
        0.25,
        0.25,
        0.25,
    )
    one_off = 1 - 1 / len(truth)
    assert r["char_accuracy"] == pytest.approx((1 + one_off + outcomes[2].char_accuracy) / 4, abs=1e-4)
    assert edit_distance("AB12CDE", "AB12CDE") == 0
    assert edit_distance("AB12CDE", "AB2CDE") == 1
    assert edit_distance("AB12CDE", "B12CDEF") == 2


def test_bench_plates_is_a_bench_target() -> None:
    args = build_parser(load=["bench"]).parse_args(["bench", "plates", "--json", "--vehicles", "4"])
    assert (args.target, args.json, args.vehicles, args.views) == ("plates", True, 4, 5)


def test_plate_benchmark_prints_one_json_object_with_its_figures_and_targets() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "plates.py"), "--json", "--vehicles", "2", "--views", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["set"]["vehicles"] == 2 and result["set"]["views_per_vehicle"] == 2
    assert result["single"]["n"] == 4 and result["voted"]["n"] == 2 and result["tight_box"]["n"] == 2
    for kind in ("single", "voted"):
        for key in ("exact", "char_accuracy", "wrong_confident", "unverified", "no_read"):
            assert 0.0 <= result[kind][key] <= 1.0
        shares = result[kind]
        assert shares["exact"] + shares["wrong_confident"] + shares["unverified"] + shares["no_read"] == (
            pytest.approx(1.0, abs=1e-3)
        )
    assert set(result["by_condition"]) >= {"height_px", "angle_deg", "blur", "colour", "lines", "light"}
    assert sum(b["single"]["n"] for b in result["by_condition"]["height_px"].values()) == 4
    assert result["ms_per_crop"]["mean"] > 0 and result["ms_per_crop"]["p95"] >= result["ms_per_crop"]["p50"]
    assert set(result["targets"]) == {
        "voted_exact_at_30px_plus",
        "single_exact_at_30px_plus",
        "wrong_confident_every_height_band",
        "ms_per_crop_mean",
    }
    for target in result["targets"].values():
        assert isinstance(target["pass"], bool)
