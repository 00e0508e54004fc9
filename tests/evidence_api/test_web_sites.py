"""The sites and cameras page (issue 11): staff see every site on a map drawn from its coordinates (and
in a table), every camera with its mode, last contact in UK time, health and warnings (a silent camera
first of all); an admin adds a site and a camera, audited and CSRF-checked; nobody else may."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from evidence_testutil import Api
from sqlalchemy import select, update
from web_testutil import sign_in, unlabelled_fields, unscoped_table_headers

from evidence_api.models import AuditEntry, Camera, Site
from evidence_api.web.site_map import site_map

POINT = re.compile(
    r'<g class="site-point" id="map-[^"]+" data-site="(?P<key>[^"]+)" data-lat="(?P<lat>[^"]+)" '
    r'data-lon="(?P<lon>[^"]+)">\s*<circle cx="(?P<x>[^"]+)" cy="(?P<y>[^"]+)"'
)
VIEWBOX = re.compile(r'<svg viewBox="0 0 (\d+) (\d+)" role="img" aria-labelledby="map-title map-desc"')


def _add_site(api: Api, key: str, lat: float | None, lon: float | None, name: str) -> None:
    body: dict[str, Any] = {"key": key, "name": name, "land_type": "highway"}
    if lat is not None and lon is not None:
        body |= {"latitude": lat, "longitude": lon}
    r = api.client.post("/api/v1/sites", json=body, headers=api.h("admin"))
    assert r.status_code == 201, r.text


def _points(html: str) -> dict[str, dict[str, float]]:
    return {m["key"]: {k: float(m[k]) for k in ("lat", "lon", "x", "y")} for m in POINT.finditer(html)}


def _set_camera(api: Api, key: str, **values: Any) -> None:
    with api.sessionmaker() as session:
        session.execute(update(Camera).where(Camera.key == key).values(**values))
        session.commit()


def _section(html: str, start: str, end: str) -> str:
    return html[html.index(start) : html.index(end, html.index(start))]


def test_staff_see_the_sites_on_a_map_and_a_silent_camera_warned_about(api: Api) -> None:
    _add_site(api, "canal-bridge", 51.5080, -0.1200, "Canal bridge")
    _add_site(api, "quarry-lane", 51.5000, -0.1000, "Quarry lane")
    _add_site(api, "mill-yard", 51.4950, -0.1350, "Mill yard")
    _add_site(api, "somewhere", None, None, "Not surveyed")
    three_hours_ago = datetime.now(UTC) - timedelta(hours=3)
    _set_camera(api, "cam-9", last_seen_at=three_hours_ago)
    _set_camera(api, "cam-1", last_seen_at=datetime.now(UTC) - timedelta(minutes=1))

    sign_in(api, "officer")
    page = api.client.get("/sites")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert unlabelled_fields(page.text) == [] and unscoped_table_headers(page.text) == 0

    # the silent camera is named at the top, with how long, before the map
    attention = _section(page.text, '<section class="attention"', "</section>")
    assert "1 camera needs attention" in attention and "cam-9" in attention and "cam-1" not in attention
    assert "silent for 3 h" in attention
    assert page.text.index('class="attention"') < page.text.index("<svg")
    row = _section(page.text, 'id="camera-cam-9"', "</tr>")
    assert 'class="needs-attention"' in row and "silent for 3 h" in row and "covert" in row
    local = three_hours_ago.astimezone(ZoneInfo("Europe/London"))
    assert f"{local:%d %b %Y %H:%M:%S} {local.tzname()}" in row  # last seen, UK local time
    assert "none" in _section(page.text, 'id="camera-cam-1"', "</tr>")

    # one point per site with coordinates, carrying them, placed as they lie: north up, east right
    width, height = (int(v) for v in VIEWBOX.search(page.text).groups())  # type: ignore[union-attr]
    points = _points(page.text)
    assert set(points) == {"canal-bridge", "quarry-lane", "mill-yard"}
    assert points["canal-bridge"]["lat"] == 51.508 and points["quarry-lane"]["lon"] == -0.1
    for p in points.values():
        assert 0 < p["x"] < width and 0 < p["y"] < height
    assert points["canal-bridge"]["y"] < points["quarry-lane"]["y"] < points["mill-yard"]["y"]
    assert points["mill-yard"]["x"] < points["canal-bridge"]["x"] < points["quarry-lane"]["x"]
    svg = _section(page.text, "<svg", "</svg>")
    assert '<title id="map-title">Map of 3 sites</title>' in svg
    assert "Canal bridge at 51.50800, -0.12000" in svg and ">Quarry lane</text>" in svg
    unplaced = _section(page.text, "Not on the map (no coordinates):", "</p>")
    assert "Not surveyed" in unplaced and "Canal bridge" not in unplaced
    # the same data as a table
    table = _section(page.text, 'id="site-canal-bridge"', "</tr>")
    assert "51.50800" in table and "-0.12000" in table and "Highway" in table
    assert "/sites/cameras" not in page.text  # an officer gets no forms to add


def test_a_camera_reporting_problems_shows_them_and_its_wrong_clock(api: Api) -> None:
    report = {"problems": ["spool disk low: 1.2 GB free"], "clock_offset_s": -95.0}
    _set_camera(
        api,
        "cam-1",
        last_seen_at=datetime.now(UTC),
        health_status="disk_low",
        health_reported_at=datetime.now(UTC),
        health_report=report,
    )
    sign_in(api, "legal")
    page = api.client.get("/sites").text
    row = _section(page, 'id="camera-cam-1"', "</tr>")
    assert "disk low" in row and "spool disk low: 1.2 GB free" in row
    assert "clock is 95 s behind the server" in row
    assert "spool disk low" in _section(page, '<section class="attention"', "</section>")


def test_an_admin_adds_a_site_and_a_covert_camera(api: Api) -> None:
    csrf = sign_in(api, "admin")
    added = api.client.post(
        "/sites",
        data={
            "key": "church-lane",
            "name": "Church Lane verge",
            "latitude": "53.80080",
            "longitude": "-1.54910",
            "land_type": "footpath_bridleway",
            "parish_ward": "Hyde Park",
            "location_description": "North verge by the church gate",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"].startswith(
        "/sites?done=site&key=church-lane"
    )
    page = api.client.get(added.headers["location"])
    assert "Site church-lane is added." in page.text
    assert _points(page.text)["church-lane"]["lat"] == 53.8008
    assert "Footpath/Bridleway" in _section(page.text, 'id="site-church-lane"', "</tr>")

    camera = api.client.post(
        "/sites/cameras",
        data={
            "key": "cam-church",
            "site_key": "church-lane",
            "covert": "covert",
            "device_identity": "Hikvision DS-2CD2047 SN 4471",
            "clock_source": "ntp",
            "csrf_token": csrf,
        },
    )
    assert camera.status_code == 200 and "Camera cam-church is added." in camera.text
    row = _section(camera.text, 'id="camera-cam-church"', "</tr>")
    assert "covert" in row and "Church Lane verge" in row and "Hikvision DS-2CD2047 SN 4471" in row
    assert "never" in row  # not heard from yet (and not silent: it was added just now)
    with api.sessionmaker() as session:
        cam = session.execute(select(Camera).where(Camera.key == "cam-church")).scalar_one()
        assert cam.covert and cam.clock_source == "ntp" and cam.site.key == "church-lane"
        actors = {
            action: list(
                session.execute(
                    select(AuditEntry.actor).where(
                        AuditEntry.action == action, AuditEntry.target_id == target
                    )
                ).scalars()
            )
            for action, target in (("site.create", str(cam.site_id)), ("camera.create", str(cam.id)))
        }
    assert actors == {"site.create": ["user:admin"], "camera.create": ["user:admin"]}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_only_an_admin_adds_sites_and_cameras(api: Api) -> None:
    for role in ("officer", "legal"):
        csrf = sign_in(api, role)
        site = api.client.post(
            "/sites", data={"key": "sneaky", "name": "Sneaky", "land_type": "highway", "csrf_token": csrf}
        )
        assert site.status_code == 403 and "only an admin adds sites and cameras" in site.text
        cam = api.client.post(
            "/sites/cameras", data={"key": "sneaky-cam", "site_key": "back-lane", "csrf_token": csrf}
        )
        assert cam.status_code == 403
    with api.sessionmaker() as session:
        assert session.execute(select(Site).where(Site.key == "sneaky")).first() is None
        assert session.execute(select(Camera).where(Camera.key == "sneaky-cam")).first() is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_refused_site_or_camera_is_shown_beside_its_form_with_what_was_typed(api: Api) -> None:
    csrf = sign_in(api, "admin")
    taken = api.client.post(
        "/sites",
        data={"key": "back-lane", "name": "Again", "land_type": "railway", "csrf_token": csrf},
    )
    assert taken.status_code == 409 and "site &#39;back-lane&#39; already exists" in taken.text
    form = _section(taken.text, 'id="add-site"', "</form>")
    assert (
        'id="site-error"' in form and 'value="Again"' in form and '<option value="railway" selected>' in form
    )

    off_the_globe = api.client.post(
        "/sites",
        data={"key": "x", "name": "X", "latitude": "95", "land_type": "highway", "csrf_token": csrf},
    )
    assert off_the_globe.status_code == 422 and "Latitude: Input should be less than or equal to 90" in (
        off_the_globe.text
    )
    no_mode = api.client.post(
        "/sites/cameras", data={"key": "cam-x", "site_key": "back-lane", "covert": "", "csrf_token": csrf}
    )
    assert no_mode.status_code == 422 and "Mode: choose overt or covert" in _section(
        no_mode.text, 'id="add-camera"', "</form>"
    )
    unknown_site = api.client.post(
        "/sites/cameras",
        data={"key": "cam-x", "site_key": "nowhere", "covert": "overt", "csrf_token": csrf},
    )
    assert unknown_site.status_code == 404 and "site &#39;nowhere&#39; not found" in unknown_site.text
    with api.sessionmaker() as session:
        assert session.execute(select(Site).where(Site.key == "x")).first() is None
        assert session.execute(select(Camera).where(Camera.key == "cam-x")).first() is None


def test_the_map_keeps_distances_true_and_centres_a_single_site() -> None:
    # two sites 1 km apart east-west and one 1 km north of the first, at 54 degrees north
    lat = 54.0
    dlat = 1000 / 111_320
    dlon = dlat / 0.5877852522924731  # cos(54 degrees)
    sites = [
        Site(key="a", name="A", latitude=lat, longitude=-2.0),
        Site(key="b", name="B", latitude=lat, longitude=-2.0 + dlon),
        Site(key="c", name="C", latitude=lat + dlat, longitude=-2.0),
    ]
    drawn = site_map(sites)
    a, b, c = drawn.points
    east, north = b.x - a.x, a.y - c.y
    assert east == pytest.approx(north, rel=0.01)  # a kilometre is a kilometre either way
    assert drawn.scale is not None and drawn.scale.metres == 500
    assert drawn.scale.length == pytest.approx(east / 2, rel=0.01)

    alone = site_map([Site(key="a", name="A", latitude=lat, longitude=-2.0), Site(key="n", name="N")])
    assert [(p.x, p.y) for p in alone.points] == [(320, 200)] and alone.scale is None
    assert [s.key for s in alone.unplaced] == ["n"]
