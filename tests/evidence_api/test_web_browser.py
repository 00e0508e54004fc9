"""The council's pages in a real browser (headless Debian Chromium, driven by Playwright; issue 11).

The admin signs in through the form, adds a user on the users page, resets their password, signs out;
the new user signs in with that password.  In a second run the admin adds a site (it appears on the map)
and a covert camera, follows the expiry banner to renew an authorisation, records a RIPA authorisation
for the new camera and cancels it.  In a third an officer confirms a fly-tip, opens a case for it,
records its DEFRA details (a tampered category refused on the form first), closes it, and downloads the
quarter's WasteDataFlow return, which counts them, and opens the dashboard.  Every page touched
(sign-in, queue, event, cases, a case, users, an error page, sites, authorisations, the return, the
dashboard) is checked at 1366x768 (the commonest laptop) and 390x844 (a phone): the page never scrolls
sideways, a screenshot of each is kept under the test's tmp_path, and where axe-core is installed (its
npm package; see :data:`AXE_CANDIDATES`) it is injected into each page and must find no serious or
critical accessibility violation.  No browser and no axe-core is ever downloaded by the test.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from evidence_testutil import PASSWORD, Api, event_body, upload
from tests_support_uvicorn import serve_in_thread

from evidence_api.services.authorisations import add_months

VIEWPORTS = ((1366, 768), (390, 844))  # a laptop, a phone
# axe-core's npm package, wherever npm or Debian put it; TIPWATCH_TEST_AXE_CORE names axe.min.js itself.
AXE_CANDIDATES = (
    Path("/usr/lib/node_modules/axe-core/axe.min.js"),
    Path("/usr/local/lib/node_modules/axe-core/axe.min.js"),
    Path("/usr/share/nodejs/axe-core/axe.min.js"),
    Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js",
)
BLOCKING_IMPACTS = {"serious", "critical"}
AXE_RUN_JS = """
async () => {
  const results = await axe.run(document, {resultTypes: ['violations']});
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
  }));
}
"""
SIDEWAYS_JS = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def _axe_source() -> str | None:
    wanted = os.environ.get("TIPWATCH_TEST_AXE_CORE")
    for path in (Path(wanted),) if wanted else AXE_CANDIDATES:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


@pytest.fixture
def served(api: Api) -> Iterator[str]:
    """The fixture's app (already started by its TestClient) on a loopback port for the browser."""
    with serve_in_thread(api.client.app, lifespan="off") as port:
        yield f"http://127.0.0.1:{port}"


class PageChecker:
    """Looks at a page as a person would at each viewport: no sideways scroll, a screenshot, axe."""

    def __init__(self, out: Path, axe: str | None) -> None:
        self.out = out
        self.axe = axe
        self.problems: list[str] = []
        self.screenshots: list[Path] = []

    def check(self, page: Any, name: str) -> None:
        for width, height in VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_load_state("load")
            scroll_width, inner_width = page.evaluate(SIDEWAYS_JS)
            if scroll_width > inner_width:
                self.problems.append(
                    f"{name} at {width}x{height} scrolls sideways: {scroll_width} > {inner_width}"
                )
            shot = self.out / f"{name}-{width}x{height}.png"
            page.screenshot(path=shot, full_page=True)
            self.screenshots.append(shot)
            if self.axe is not None:
                if not page.evaluate("() => typeof axe !== 'undefined'"):
                    page.add_script_tag(content=self.axe)
                where = f"{name} at {width}x{height}"
                for v in page.evaluate(AXE_RUN_JS):
                    if v["impact"] in BLOCKING_IMPACTS:
                        self.problems.append(
                            f"{where}: axe {v['impact']} {v['id']}: {v['help']} {v['nodes']}"
                        )


def _page_checker(tmp_path: Path) -> PageChecker:
    """A checker keeping its screenshots under ``tmp_path``, with axe-core where it is installed."""
    axe = _axe_source()
    if axe is None:
        missing = "axe-core is not installed (deploy/dev.sh test installs it with npm into node_modules/)"
        if os.environ.get("CI") == "true":
            pytest.fail(missing + ": the accessibility check must run in CI")
        warnings.warn(missing + ", so no accessibility rules were checked", stacklevel=1)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    return PageChecker(shots, axe)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_admin_adds_a_user_who_signs_in_and_every_page_fits_a_phone(
    chromium: str, api: Api, served: str, media: dict[str, bytes], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    body = event_body({"act.jpg": ("act", media["bus"])})
    upload(api, body, {"a": media["bus"]})
    checker = _page_checker(tmp_path)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium)
        try:
            admin = browser.new_context(base_url=served, viewport={"width": 1366, "height": 768})
            page = admin.new_page()
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

            page.goto("/login")
            checker.check(page, "login")
            page.get_by_label("User name").fill("admin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{served}/review")
            checker.check(page, "queue")

            page.get_by_role("link", name="Users").click()
            page.wait_for_url(f"{served}/admin/users")
            checker.check(page, "users")
            page.get_by_label("User name").fill("sam.patel")
            page.get_by_label("Full name").fill("Sam Patel")
            page.get_by_label("Role", exact=True).select_option("officer")
            page.get_by_role("button", name="Add user").click()
            first = page.locator("#temporary-password").inner_text()
            assert "sam.patel" in page.locator(".shown-once").inner_text()
            checker.check(page, "users-created")

            page.get_by_role("button", name="Reset password of sam.patel").click()
            page.wait_for_load_state("load")
            temporary = page.locator("#temporary-password").inner_text()
            assert temporary != first and len(temporary) >= 8
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url(f"{served}/login")

            page.get_by_label("User name").fill("sam.patel")
            page.get_by_label("Password").fill(temporary)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{served}/review")
            header = page.locator("header").inner_text()
            assert "sam.patel (officer)" in header and "Users" not in header

            page.locator(f'a[href="/review/events/{body["id"]}"]').last.click()
            page.wait_for_url(f"{served}/review/events/{body['id']}")
            checker.check(page, "event")
            page.get_by_role("link", name="Cases").click()
            page.wait_for_url(f"{served}/review/cases")
            checker.check(page, "cases")
            page.goto("/admin/users")
            assert "only an admin manages users" in page.locator("main").inner_text()
            checker.check(page, "forbidden")
            page.goto("/review/no-such-page")
            checker.check(page, "not-found")
        finally:
            browser.close()

    print("screenshots:", *checker.screenshots, sep="\n  ")
    assert not errors, errors
    assert not checker.problems, "\n".join(checker.problems)


def _uk_today() -> date:
    return datetime.now(ZoneInfo("Europe/London")).date()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_admin_adds_a_site_and_camera_and_creates_renews_and_cancels_an_authorisation(
    chromium: str, api: Api, served: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    # an authorisation within its last fortnight: the banner on every page says so
    expiring = api.client.post(
        "/api/v1/authorisations",
        json={
            "kind": "ripa_directed_surveillance",
            "urn": "DS/2026/090",
            "title": "Back lane tipping",
            "offence_min_months": 60,
            "magistrate_decision": "approved",
            "magistrate_date": (add_months(_uk_today(), -3) + timedelta(days=10)).isoformat(),
            "camera_keys": ["cam-9"],
        },
        headers=api.h("legal"),
    )
    assert expiring.status_code == 201, expiring.text
    checker = _page_checker(tmp_path)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium)
        try:
            context = browser.new_context(base_url=served, viewport={"width": 1366, "height": 768})
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.goto("/login")
            page.get_by_label("User name").fill("admin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{served}/review")

            # a site with coordinates and a covert camera there
            page.get_by_role("link", name="Sites and cameras").click()
            page.wait_for_url(f"{served}/sites")
            site_form = page.locator("#add-site")
            site_form.get_by_label("Site key").fill("church-lane")
            site_form.get_by_label("Name", exact=True).fill("Church Lane verge")
            site_form.get_by_label("Latitude").fill("53.80080")
            site_form.get_by_label("Longitude").fill("-1.54910")
            site_form.get_by_label("Land type").select_option("footpath_bridleway")
            site_form.get_by_role("button", name="Add site").click()
            page.wait_for_url(f"{served}/sites?done=site&key=church-lane*")
            assert page.locator("svg #map-church-lane").count() == 1
            camera_form = page.locator("#add-camera")
            camera_form.get_by_label("Camera key").fill("cam-church")
            camera_form.get_by_label("Site", exact=True).select_option("church-lane")
            camera_form.get_by_label("covert: needs a RIPA authorisation").check()
            camera_form.get_by_label("Device identity").fill("Hikvision DS-2CD2047 SN 4471")
            camera_form.get_by_label("Clock source").select_option("ntp")
            camera_form.get_by_role("button", name="Add camera").click()
            page.wait_for_url(f"{served}/sites?done=camera&key=cam-church*")
            assert "covert" in page.locator("#camera-cam-church").inner_text()
            checker.check(page, "sites")

            # the banner's link leads to where the expiring authorisation is renewed
            page.get_by_role("link", name="Renew or cancel it").first.click()
            page.wait_for_url(f"{served}/authorisations/*")
            checker.check(page, "authorisation-expiring")
            renew = page.locator("#renew-form")
            renew.get_by_label("Date of the magistrate's approval of the renewal").fill(
                _uk_today().isoformat()
            )
            renew.get_by_label("Magistrates' court").fill("Leeds Magistrates' Court")
            renew.get_by_label("Reasons for renewing").fill("Tipping continues at the lane")
            renew.get_by_role("button", name="Renew").click()
            page.wait_for_url("**done=renewed")
            assert "Renewed for a further three months." in page.locator("main").inner_text()
            assert page.locator(".banner.warn").count() == 0  # no longer within its last fortnight

            # a new RIPA authorisation for the new camera, then cancelled
            page.get_by_role("link", name="Authorisations", exact=True).click()
            page.wait_for_url(f"{served}/authorisations")
            page.get_by_role("link", name="Record a RIPA authorisation").click()
            page.wait_for_url(f"{served}/authorisations/new*")
            checker.check(page, "authorisation-new")
            form = page.locator("main form")
            approved = _uk_today() - timedelta(days=1)
            while approved.day > 28:  # a corresponding date three months on (no end-of-month rule)
                approved -= timedelta(days=1)
            form.get_by_label("Unique reference number (URN)", exact=True).fill("DS/2026/120")
            form.get_by_label("Title", exact=True).fill("Church Lane verge")
            form.get_by_label("Authorising officer", exact=True).fill("Alex Morgan")
            form.get_by_label("Authorising officer's rank or grade", exact=True).fill(
                "Head of Environmental Services"
            )
            form.get_by_label("Grounds", exact=True).fill("Repeated fly-tipping, s.33 EPA 1990")
            form.get_by_label("Necessity", exact=True).fill("Overt signs have not stopped it")
            form.get_by_label("Proportionality", exact=True).fill("One camera, the verge only")
            form.get_by_label("Collateral intrusion", exact=True).fill("Walkers on the lane; not kept")
            form.get_by_label("Magistrate's decision", exact=True).select_option("approved")
            form.get_by_label("Date of the magistrate's decision", exact=True).fill(approved.isoformat())
            form.get_by_label("cam-church").check()
            form.get_by_role("button", name="Record it").click()
            page.wait_for_url("**done=created")
            status = page.locator("#status").inner_text()
            assert status == "active", status
            last_day = add_months(approved, 3) - timedelta(days=1)
            assert f"to the end of {last_day:%A %d %b %Y}" in page.locator("#in-force").inner_text()
            checker.check(page, "authorisation-created")
            cancel = page.locator("#cancel-form")
            cancel.get_by_label("Reasons for cancelling").fill("Offender identified; no longer needed")
            cancel.get_by_role("button", name="Cancel the authorisation").click()
            page.wait_for_url("**done=cancelled")
            assert page.locator("#status").inner_text() == "cancelled"
            assert "Offender identified" in page.locator("#cancelled").inner_text()
            checker.check(page, "authorisation-cancelled")

            page.get_by_role("link", name="All authorisations").click()
            page.wait_for_url(f"{served}/authorisations")
            checker.check(page, "authorisations")
        finally:
            browser.close()

    print("screenshots:", *checker.screenshots, sep="\n  ")
    assert not errors, errors
    assert not checker.problems, "\n".join(checker.problems)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_officer_builds_a_case_with_defra_details_and_downloads_the_quarters_return(
    chromium: str, api: Api, served: str, media: dict[str, bytes], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    body = event_body({"act.jpg": ("act", media["bus"])}, started_at=datetime(2026, 8, 14, 10, 0, tzinfo=UTC))
    upload(api, body, {"a": media["bus"]})
    checker = _page_checker(tmp_path)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium)
        try:
            context = browser.new_context(
                base_url=served, viewport={"width": 1366, "height": 768}, accept_downloads=True
            )
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.goto("/login")
            page.get_by_label("User name").fill("officer")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{served}/review")

            # confirm the fly-tip and open a case for it
            page.goto(f"/review/events/{body['id']}")
            page.get_by_role("button", name="Confirm fly-tip").click()
            page.wait_for_load_state("load")
            page.get_by_label("Title for a new case").fill("Fridge and tyres, Back Lane")
            page.get_by_role("button", name="Add to case").click()
            page.wait_for_url(f"{served}/review/cases/*")
            case_url = page.url

            # a size DEFRA does not have, sent by a tampered form: refused on the form, with the reason
            page.locator("#size-band").evaluate(
                "(s) => { const o = document.createElement('option'); o.value = 'half_a_lorry';"
                " o.text = 'Half a lorry'; s.add(o); s.value = 'half_a_lorry'; }"
            )
            page.get_by_label("Make and colour").fill("white Ford Transit")
            page.get_by_role("button", name="Save the details").click()
            page.wait_for_load_state("load")
            alert = page.get_by_role("alert").inner_text()
            assert alert.startswith("Size:"), alert
            assert page.get_by_label("Make and colour").input_value() == "white Ford Transit"
            checker.check(page, "case-refused")

            form = page.locator("#details-form")
            form.get_by_label("Size", exact=True).select_option(label="Small Van Load")
            form.get_by_label("Waste type").select_option(label="White Goods")
            form.get_by_label("Land type").select_option(label="Back Alleyway")
            form.get_by_label("investigation").check()
            form.get_by_label("fixed penalty notice").check()
            form.get_by_label("Registration").fill("ab12 cde")
            form.get_by_label("Notes").fill("Driver seen lifting the fridge out at 10:02.")
            form.get_by_label("Outcome").select_option(label="Fixed penalty notice")
            form.get_by_role("button", name="Save the details").click()
            page.wait_for_url("**done=saved*")
            facts = page.locator("#case-facts").inner_text()
            for words in ("Small Van Load", "White Goods", "Back Alleyway", "AB12 CDE, white Ford Transit"):
                assert words in facts, facts
            checker.check(page, "case-details")
            page.get_by_role("button", name="Close the case").click()
            page.wait_for_url("**done=closed*")
            assert page.locator("#case-status").inner_text().startswith("closed")
            checker.check(page, "case-closed")

            # the quarter's return counts the case's categories, and downloads as its CSV
            page.get_by_role("link", name="DEFRA return").click()
            page.wait_for_url(f"{served}/returns")
            page.get_by_label("Year").fill("2026")
            page.get_by_label("Quarter").select_option("2")  # July–September: financial 2026/27 Q2
            page.get_by_role("button", name="Show the quarter").click()
            page.wait_for_url(f"{served}/returns?year=2026&quarter=2")
            assert page.locator("#return-total").inner_text() == "1"
            rows = page.locator("#return-rows tbody").inner_text()
            assert "Back Alleyway" in rows and "Small Van Load" in rows and "White Goods" in rows
            checker.check(page, "return")
            with page.expect_download() as download_info:
                page.get_by_role("link", name="Download wastedataflow-2026-27-Q2.csv").click()
            download = download_info.value
            assert download.suggested_filename == "wastedataflow-2026-27-Q2.csv"
            saved = tmp_path / download.suggested_filename
            download.save_as(saved)
            assert saved.read_text(encoding="utf-8").splitlines() == [
                "land_type,size_band,waste_type,incidents",
                "back_alleyway,small_van_load,white_goods,1",
            ]
            assert case_url.startswith(f"{served}/review/cases/")

            page.get_by_role("link", name="Dashboard").click()
            page.wait_for_url(f"{served}/dashboard")
            assert page.locator("#chart-review svg[role=img] rect").count() == 1  # lay-by: one confirmed
            checker.check(page, "dashboard")
        finally:
            browser.close()

    print("screenshots:", *checker.screenshots, sep="\n  ")
    assert not errors, errors
    assert not checker.problems, "\n".join(checker.problems)
