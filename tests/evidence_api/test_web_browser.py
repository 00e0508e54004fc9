"""The council's pages in a real browser (headless Debian Chromium, driven by Playwright; issue 11).

The admin signs in through the form, adds a user on the users page, resets their password, signs out;
the new user signs in with that password.  Every page touched (sign-in, queue, event, cases, users, an
error page) is checked at 1366x768 (the commonest laptop) and 390x844 (a phone): the page never scrolls
sideways, a screenshot of each is kept under the test's tmp_path, and where axe-core is installed (its
npm package; see :data:`AXE_CANDIDATES`) it is injected into each page and must find no serious or
critical accessibility violation.  No browser and no axe-core is ever downloaded by the test.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evidence_testutil import PASSWORD, Api, event_body, upload
from tests_support_uvicorn import serve_in_thread

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


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_admin_adds_a_user_who_signs_in_and_every_page_fits_a_phone(
    chromium: str, api: Api, served: str, media: dict[str, bytes], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    body = event_body({"act.jpg": ("act", media["bus"])})
    upload(api, body, {"a": media["bus"]})
    axe = _axe_source()
    if axe is None:
        missing = "axe-core is not installed (deploy/dev.sh test installs it with npm into node_modules/)"
        if os.environ.get("CI") == "true":
            pytest.fail(missing + ": the accessibility check must run in CI")
        warnings.warn(missing + ", so no accessibility rules were checked", stacklevel=1)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    checker = PageChecker(shots, axe)
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
