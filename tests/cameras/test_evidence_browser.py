"""A recorded clip plays and seeks in real headless Chromium (HTTP Range through the API)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from safezone.auth.roles import Role
from safezone.db.engine import Database
from safezone.settings import Settings
from tests.cameras.evidence_support import PATHS, add_camera, window
from tests.conftest import PASSWORD, LiveServer, UserFactory
from tests.fixtures.rtsp import RtspServer

pytest.importorskip("playwright.async_api")
from playwright.async_api import Browser  # noqa: E402

from tests.fixtures.browser import BROWSER_MARKS  # noqa: E402

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    with RtspServer(PATHS) as server:
        yield server


async def test_clip_plays_and_seeks_in_chromium(
    live_server: LiveServer, browser: Browser, db: Database, settings: Settings,
    make_user: UserFactory, rtsp: RtspServer, artifacts: Path,
) -> None:
    cam = await add_camera(db, settings, code="EV-WEB", url=rtsp.url("/ev-open"))
    operator = await make_user(Role.operator, username="evidence-op")
    start, end = window(2.5, 5.5)
    async with httpx.AsyncClient(base_url=live_server.url, headers=operator["headers"]) as api:
        resp = await api.post(f"/api/v1/cameras/{cam}/clips",
                              json={"start": start, "end": end, "reason": "browser playback"})
        assert resp.status_code == 202, resp.text
        clip_id = resp.json()["id"]
        deadline = time.monotonic() + 30
        while (clip := (await api.get(f"/api/v1/clips/{clip_id}")).json())["status"] in (
            "pending", "recording"
        ):
            assert time.monotonic() < deadline, clip
            await asyncio.sleep(0.2)
    assert clip["status"] == "complete", clip

    context = await browser.new_context(viewport={"width": 800, "height": 500})
    page = await context.new_page()
    ranges: list[tuple[int, str | None]] = []
    page.on("response", lambda r: ranges.append((r.status, r.request.headers.get("range")))
            if "video.mp4" in r.url else None)
    await page.goto(f"{live_server.url}/login")
    await page.fill("#username", "evidence-op")
    await page.fill("#password", PASSWORD)
    await page.click("form.login-form button[type=submit]")
    await page.wait_for_load_state()
    # A page of the same origin, so the session cookie goes along with the video requests.
    await page.evaluate(
        """(src) => { document.body.innerHTML = '';
                      const v = document.createElement('video');
                      v.id = 'v'; v.muted = true; v.controls = true; v.src = src;
                      v.style.width = '640px'; document.body.appendChild(v); }""",
        f"/api/v1/clips/{clip_id}/video.mp4",
    )
    await page.wait_for_function(
        "() => { const v = document.getElementById('v'); return v && v.readyState >= 1; }"
    )
    duration = await page.evaluate("document.getElementById('v').duration")
    assert abs(duration - clip["duration_s"]) < 0.2
    # Seek near the end: the browser fetches that part with a Range request.
    seeked = await page.evaluate(
        """() => new Promise((resolve, reject) => {
             const v = document.getElementById('v');
             v.addEventListener('seeked', () => resolve(v.currentTime), {once: true});
             v.addEventListener('error', () => reject(v.error && v.error.message), {once: true});
             v.currentTime = v.duration - 0.5; })"""
    )
    assert abs(seeked - (duration - 0.5)) < 0.6
    await page.wait_for_function(
        "() => document.getElementById('v').readyState >= 2"
    )
    await page.screenshot(path=str(artifacts / "evidence-clip-seeked.png"))
    await context.close()
    assert any(status == 206 and rng for status, rng in ranges), ranges
