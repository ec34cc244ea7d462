"""Live view in real headless Chromium, from Debian's GStreamer RTSP server: the camera page
plays (the video's clock advances), a refused camera says why, and the camera wall plays a 2×2
grid whose saved layout comes back after a reload."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from safezone.auth.roles import Role
from safezone.db.engine import Database
from safezone.settings import Settings
from tests.cameras.live_support import add_camera
from tests.conftest import PASSWORD, LiveServer, UserFactory
from tests.fixtures.rtsp import RtspServer

pytest.importorskip("playwright.async_api")
from playwright.async_api import Browser, Page, expect  # noqa: E402

from tests.fixtures.browser import BROWSER_MARKS  # noqa: E402

pytestmark = BROWSER_MARKS
MIME = 'video/mp4; codecs="avc1.42C016"'  # what the test server's x264 baseline stream is


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    paths = [{"path": f"/c{i}", "pattern": ("ball", "smpte")[i % 2]} for i in range(1, 5)]
    with RtspServer(paths) as server:
        yield server


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    await context.close()
    assert not errors, errors


async def sign_in(page: Page, server: LiveServer, username: str, path: str) -> None:
    await page.goto(f"{server.url}/login?next={path}")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("form.login-form button[type=submit]")
    await page.wait_for_url(f"**{path}*")


async def plays(page: Page, selector: str, past_s: float = 1.0) -> None:
    """The <video>'s clock passes ``past_s`` and then keeps advancing: it really plays."""
    await page.wait_for_function(
        "([sel, t]) => document.querySelector(sel)?.currentTime > t",
        arg=[selector, past_s], timeout=30_000,
    )
    now = await page.eval_on_selector(selector, "v => v.currentTime")
    await page.wait_for_function(
        "([sel, t]) => document.querySelector(sel).currentTime > t + 0.5",
        arg=[selector, now], timeout=30_000,
    )


async def test_chromium_can_play_h264_through_mse(page: Page) -> None:
    # Debian's Chromium is built with its FFmpeg's H.264 decoder; without it live view cannot
    # work in this browser, so say so plainly rather than fail obscurely below.
    await page.set_content("<video></video>")
    assert await page.evaluate("(m) => MediaSource.isTypeSupported(m)", MIME), (
        f"this Chromium has no H.264 for Media Source Extensions ({MIME})"
    )


async def test_the_camera_page_plays_live_video(
    page: Page, db: Database, settings: Settings, live_server: LiveServer,
    make_user: UserFactory, rtsp: RtspServer, artifacts: Path,
) -> None:
    operator = await make_user(Role.operator)
    camera = await add_camera(db, settings, url=rtsp.url("/c1"), name="แยกราชประสงค์")
    await sign_in(page, live_server, operator["username"], f"/cameras/{camera}")
    await plays(page, "#live-video")
    assert await page.eval_on_selector("#live-video", "v => v.videoWidth") == 640
    await expect(page.get_by_test_id("player-state")).to_be_hidden()
    await page.get_by_test_id("snapshot-button").click()
    await page.wait_for_function(
        "() => document.getElementById('snapshot-img').naturalWidth === 640", timeout=20_000
    )
    await page.screenshot(path=str(artifacts / "live-camera-page.png"))
    # Stopping ends the socket; the server closes its upstream after the grace period.
    await page.get_by_test_id("live-toggle").click()
    await expect(page.get_by_test_id("player-state")).to_have_text("หยุดแล้ว")


async def test_the_camera_list_filters_and_links_to_the_camera(
    page: Page, db: Database, settings: Settings, live_server: LiveServer,
    make_user: UserFactory, rtsp: RtspServer, artifacts: Path,
) -> None:
    operator = await make_user(Role.operator)
    up = await add_camera(db, settings, url=rtsp.url("/c1"), name="ตลาดเช้า")
    down = await add_camera(db, settings, url=rtsp.url("/c2"), name="ท่าน้ำ", status="offline")
    await sign_in(page, live_server, operator["username"], "/cameras")
    rows = page.locator("[data-testid=camera-table] tbody tr")
    await expect(rows).to_have_count(2)
    await page.get_by_test_id("filter-status").select_option("offline")
    await page.click("[data-testid=camera-filters] button[type=submit]")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-camera-id", str(down))
    await page.screenshot(path=str(artifacts / "live-camera-list.png"))
    await page.goto(f"{live_server.url}/cameras?q=ตลาด")
    await page.click(f"tr[data-camera-id='{up}'] td:nth-child(2) a")
    await expect(page.get_by_test_id("camera-name")).to_have_text("ตลาดเช้า")


async def test_a_refused_camera_says_why_in_thai_and_english(
    page: Page, db: Database, settings: Settings, live_server: LiveServer,
    make_user: UserFactory, rtsp: RtspServer, artifacts: Path,
) -> None:
    operator = await make_user(Role.operator)
    camera = await add_camera(db, settings, url=rtsp.url("/c2"), policy="off")
    await sign_in(page, live_server, operator["username"], f"/cameras/{camera}")
    state = page.get_by_test_id("player-state")
    await expect(state).to_have_text("ไม่มีสิทธิ์: เจ้าของไม่ได้แบ่งปันภาพกล้องนี้")
    await page.screenshot(path=str(artifacts / "live-camera-denied-th.png"))
    await page.click("a[data-lang=en]")
    await expect(state).to_have_text("Access denied: the owner does not share this camera.")


async def test_an_on_request_camera_offers_an_access_request(
    page: Page, db: Database, settings: Settings, live_server: LiveServer,
    make_user: UserFactory, rtsp: RtspServer,
) -> None:
    operator = await make_user(Role.operator)
    camera = await add_camera(db, settings, url=rtsp.url("/c3"), policy="on_request")
    await sign_in(page, live_server, operator["username"], f"/cameras/{camera}")
    await expect(page.get_by_test_id("player-state")).to_contain_text("เมื่ออนุมัติคำขอ")
    await page.fill("#access-reason", "ติดตามเหตุลักทรัพย์หน้าร้าน")
    await page.get_by_test_id("request-access").click()
    await expect(page.locator("#access-request-result")).to_have_text(
        "ส่งคำขอแล้ว เจ้าของกล้องจะพิจารณา"
    )
    await expect(page.get_by_test_id("request-access")).to_be_disabled()


async def tile_cameras(page: Page) -> list[str]:
    return await page.eval_on_selector_all(
        "[data-testid=wall-tile]", "tiles => tiles.map(t => t.dataset.cameraId)"
    )


async def test_the_wall_plays_a_2x2_grid_and_a_saved_layout_comes_back(
    page: Page, db: Database, settings: Settings, live_server: LiveServer,
    make_user: UserFactory, rtsp: RtspServer, artifacts: Path,
) -> None:
    supervisor = await make_user(Role.supervisor)
    cams = [await add_camera(db, settings, url=rtsp.url(f"/c{i}")) for i in range(1, 5)]
    await sign_in(page, live_server, supervisor["username"], "/cameras/wall")
    await page.wait_for_selector("#wall[data-ready=true]")
    # Click-to-place fills the empty tiles in order (select a tile first to choose one).
    for camera in cams:
        await page.click(f".wall-camera[data-camera-id='{camera}']")
    assert await tile_cameras(page) == [str(c) for c in cams]
    for index in range(1, 5):
        await plays(page, f"[data-testid=wall-tile]:nth-child({index}) video", past_s=0.5)
    await page.screenshot(path=str(artifacts / "live-wall-2x2.png"))

    await page.get_by_test_id("layout-name").fill("หน้าตลาด")
    await page.get_by_test_id("layout-save").click()
    await expect(page.get_by_test_id("layout-message")).to_have_text("บันทึกผัง “หน้าตลาด” แล้ว")
    assert "layout=" in page.url
    await page.reload()
    await page.wait_for_selector("#wall[data-ready=true]")
    assert await tile_cameras(page) == [str(c) for c in cams]
    selected = await page.get_by_test_id("layout-select").input_value()
    assert selected and (await page.eval_on_selector("#wall", "w => w.dataset.grid")) == "2"
    await plays(page, "[data-testid=wall-tile]:nth-child(4) video", past_s=0.5)

    # A 3×3 grid keeps the four cameras; dragging one onto a tile puts it there.
    await page.get_by_test_id("grid-3").check()
    assert (await tile_cameras(page))[:4] == [str(c) for c in cams]
    await page.drag_and_drop(
        f".wall-camera[data-camera-id='{cams[0]}']", "[data-testid=wall-tile]:nth-child(9)"
    )
    assert (await tile_cameras(page))[8] == str(cams[0])
    await plays(page, "[data-testid=wall-tile]:nth-child(9) video", past_s=0.5)
    await page.screenshot(path=str(artifacts / "live-wall-3x3.png"))
