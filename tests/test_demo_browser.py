"""The officer plays the demo's dumping clip on the review pages in a real browser (headless Chromium).

After ``tipwatch demo`` (the session's one run, ``demo_run``), the demo's data is served by the real
command, ``tipwatch serve``; Chromium signs in through the login form as the officer, opens the confirmed
dumping event from the queue, and plays its clip in the event page's own ``<video>``, fetched from the
page's blob URL.  Chromium is Debian's (``deploy/dev.sh test`` installs it): it decodes H.264 through its
FFmpeg, which is what an officer's browser does.  Playwright drives it; no browser is ever downloaded.
Without Chromium the test skips, but fails when ``CI=true`` (as the PostgreSQL tests do).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from tests_support_demo import DemoRun

from detector.clips import is_browser_playable

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER_START_S = 60  # migrations and the first import of the app on a busy machine
VIEWPORT = (1366, 768)  # width, height: the commonest laptop screen
METADATA_MS = 15_000
PLAY_MS = 15_000
PLAYED_S = 0.5  # playback must get at least this far into the clip
MIN_DURATION_S = 1.0

# Run in the page on the event page's <video>: reload it so loadedmetadata is seen (the page's own
# preload may already have had it), play it muted (headless Chromium refuses unmuted autoplay), wait for
# playback to pass PLAYED_S, and report what the element said, its MediaError included.
PLAY_CLIP_JS = """
async (video, limits) => {
  const out = {pageError: video.error ? video.error.code : null, metadata: false, played: false,
               playError: null, errorCode: null, errorMessage: null};
  const waitFor = (name) =>
    new Promise((resolve) => video.addEventListener(name, () => resolve(name), {once: true}));
  const timeout = (ms) => new Promise((resolve) => setTimeout(() => resolve('timeout'), ms));
  const failed = waitFor('error');
  const metadata = waitFor('loadedmetadata');
  video.muted = true;
  video.load();
  out.metadata = (await Promise.race([metadata, failed, timeout(limits.metadataMs)])) === 'loadedmetadata';
  out.width = video.videoWidth;
  out.height = video.videoHeight;
  out.duration = video.duration;
  if (out.metadata) {
    try { await video.play(); out.played = true; } catch (e) { out.playError = String(e); }
    const advanced = new Promise((resolve) => {
      const tick = () => { if (video.currentTime > limits.playedS) resolve('advanced'); };
      video.addEventListener('timeupdate', tick);
      tick();
    });
    await Promise.race([advanced, failed, timeout(limits.playMs)]);
    video.pause();
  }
  out.currentTime = video.currentTime;
  if (video.error) { out.errorCode = video.error.code; out.errorMessage = video.error.message; }
  return out;
}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(data: Path, log: Path) -> Iterator[str]:
    """``tipwatch serve`` on the demo's data on a free loopback port, until the block ends; yields its
    URL once it answers.  TIPWATCH_* settings from the environment are left out so it reads only ``data``."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPWATCH_")}
    command = [sys.executable, "-m", "tipwatch", "serve", "--data", str(data), "--port", str(port)]
    with log.open("w", encoding="utf-8") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env)
        try:
            deadline = time.monotonic() + SERVER_START_S
            while True:
                if server.poll() is not None:
                    pytest.fail(f"tipwatch serve exited {server.returncode}:\n{log.read_text()[-4000:]}")
                try:
                    if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"tipwatch serve did not answer in {SERVER_START_S} s:\n{log.read_text()[-4000:]}"
                    )
                time.sleep(0.2)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _working_clip(event: dict[str, Any]) -> dict[str, Any]:
    """The clip a browser should play: the H.264 working copy (``annotated``) beside a remuxed master,
    else the only clip (``original``)."""
    clips = [f for f in event["files"] if f["role"] == "clip" and f["received_at"] is not None]
    for kind in ("annotated", "original"):
        for f in clips:
            if f["kind"] == kind and f["media_type"] == "video/mp4":
                return f
    raise AssertionError(f"event {event['id']} has no uploaded clip: {event['files']}")


def _frame_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height


@pytest.mark.slow
def test_the_demos_dumping_clip_plays_on_the_event_page_in_chromium(
    chromium: str, demo_run: DemoRun, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    assert demo_run.returncode == 0, (
        f"the demo failed, so there is no event to play:\n{demo_run.output[-4000:]}"
    )
    console: list[str] = []
    with serving(demo_run.data, tmp_path / "serve.log") as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium)
        try:
            context = browser.new_context(
                base_url=url, viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]}
            )
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.on("console", lambda m: console.append(f"console {m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"page error: {e}"))

            # sign in as the officer, through the form
            page.goto("/login")
            page.get_by_label("User name").fill("officer")
            page.get_by_label("Password").fill(demo_run.officer_password())
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{url}/review")
            assert "(officer)" in page.locator("header").inner_text()

            # the confirmed dumping event, from the queue's Confirmed list
            page.get_by_role("link", name="Confirmed").click()
            rows = page.locator("table.queue tbody tr").filter(has_text="dumping")
            assert rows.count() == 1, page.locator("main").inner_text()
            rows.get_by_role("link").last.click()
            page.wait_for_url(re.compile(r"/review/events/[0-9a-f-]{36}$"))
            event_id = page.url.rsplit("/", 1)[1]
            listed = page.request.get("/api/v1/events", params={"type": "dumping", "status": "confirmed"})
            assert [e["id"] for e in listed.json()["items"]] == [event_id]
            event = page.request.get(f"/api/v1/events/{event_id}").json()
            clip = _working_clip(event)
            blob_url = f"/review/blobs/{clip['sha256']}"

            # what the page serves is the clip the edge box hashed: H.264, index first
            served = page.request.get(blob_url)
            assert served.ok and served.headers["content-type"] == "video/mp4", served.status
            clip_file = tmp_path / "clip.mp4"
            clip_file.write_bytes(served.body())
            assert hashlib.sha256(clip_file.read_bytes()).hexdigest() == clip["sha256"]
            assert is_browser_playable(clip_file), "the clip is not H.264 4:2:0 MP4 with moov before mdat"
            width, height = _frame_size(clip_file)

            page.screenshot(path=tmp_path / "event-page.png")
            video = page.locator(f'video[src="{blob_url}"]')
            assert video.count() == 1, f"the event page shows no <video> for {blob_url}"
            video.scroll_into_view_if_needed()
            limits = {"metadataMs": METADATA_MS, "playMs": PLAY_MS, "playedS": PLAYED_S}
            seen = video.evaluate(PLAY_CLIP_JS, limits)
            page.screenshot(path=tmp_path / "event-page-clip.png")
        finally:
            browser.close()

    why = f"{clip['name']} ({clip['kind']}, {width}x{height}) in Chromium: {seen}\n" + "\n".join(console)
    assert seen["pageError"] is None and seen["errorCode"] is None, why
    assert seen["metadata"], why
    assert (seen["width"], seen["height"]) == (width, height), why
    assert seen["duration"] > MIN_DURATION_S, why
    assert seen["played"], why
    assert seen["currentTime"] > PLAYED_S, why
