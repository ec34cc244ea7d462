"""The console in real headless Chromium: login, language, throttling, the map and its layers.

Every test saves a screenshot under the artifacts directory (CI uploads it), so a reviewer can
see what the page looked like, Thai text included.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from safezone.auth.roles import Role
from safezone.settings import Settings
from tests.conftest import PASSWORD, LiveServer, UserFactory

pytest.importorskip("playwright.async_api")
from playwright.async_api import Browser, BrowserContext, Page, expect  # noqa: E402

from tests.fixtures.browser import BROWSER_MARKS  # noqa: E402

pytestmark = BROWSER_MARKS

# A ~0.9 km² block in Bangkok with a few of every kind of point (street lights left empty).
ZONE = [
    [100.530, 13.740], [100.540, 13.740], [100.540, 13.748], [100.530, 13.748], [100.530, 13.740],
]
CAMERAS = 240
SOS_BOXES = 6
RISK_POINTS = 5
CHECKPOINTS = 4


def _points(prefix: str, count: int, row: int = 0, **props: Any) -> dict[str, Any]:
    """``count`` points on a grid inside the zone, starting at grid row ``row``."""
    features = []
    for i in range(count):
        lon = 100.5305 + (i % 20) * 0.00045
        lat = 13.7405 + (row + i // 20) * 0.00045
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"code": f"{prefix}-{i:04d}", "name_th": f"{prefix} ทดสอบ {i}",
                           "name_en": f"{prefix} test {i}", **props},
        })
    return {"type": "FeatureCollection", "features": features}


@pytest.fixture
def screenshots(artifacts: Path) -> Path:
    path = artifacts / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


class Session:
    """One browser context (cookies, recorded requests, console errors) against a server."""

    def __init__(self, context: BrowserContext, page: Page, base: str, shots: Path) -> None:
        self.context, self.page, self.base, self.shots = context, page, base, shots
        self.requests: list[str] = []
        self.errors: list[str] = []
        context.on("request", lambda request: self.requests.append(request.url))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base + path)

    async def shot(self, name: str) -> None:
        # Finish CSS transitions (popup fade, zoom) so the picture is the settled page.
        await self.page.screenshot(path=str(self.shots / f"{name}.png"), animations="disabled")

    async def sign_in(self, username: str, password: str = PASSWORD) -> None:
        if "/login" not in self.page.url:
            await self.goto("/login")
        await self.page.fill("#username", username)
        await self.page.fill("#password", password)
        await self.page.click("form.login-form button[type=submit]")
        await self.page.wait_for_load_state()

    async def map_ready(self) -> dict[str, Any]:
        await self.page.wait_for_function("() => window.safezoneMap && window.safezoneMap.ready")
        state: dict[str, Any] = await self.page.evaluate(
            "({counts: safezoneMap.counts, apiCounts: safezoneMap.apiCounts,"
            " errors: safezoneMap.errors})"
        )
        return state

    async def drawn(self, layer: str) -> int:
        count: int = await self.page.evaluate("(name) => safezoneMap.drawnCount(name)", layer)
        return count


async def _open(browser: Browser, server: LiveServer, shots: Path, **options: Any) -> Session:
    options.setdefault("viewport", {"width": 1280, "height": 800})
    context = await browser.new_context(**options)
    return Session(context, await context.new_page(), server.url, shots)


@pytest.fixture
async def seeded(make_user: UserFactory, client: httpx.AsyncClient) -> dict[str, Any]:
    """A zone and point layers, loaded through the API by an admin."""
    admin = await make_user(Role.admin, username="chief")
    zone = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ZONE]},
        "properties": {"name_th": "เขตปลอดภัยทดสอบ", "name_en": "Test safe zone",
                       "population": 12500, "households": 4100},
    }]}
    layers = {
        "zones": zone,
        "cameras": _points("CAM", CAMERAS),
        "sos_boxes": _points("SOS", SOS_BOXES, row=13),
        "risk_points": _points("RISK", RISK_POINTS, row=14, kind="risk", category="dark_alley"),
        "checkpoints": _points("CP", CHECKPOINTS, row=15, visit_interval_min=60),
    }
    for name, body in layers.items():
        url = f"/api/v1/layers/{name}.geojson"
        resp = await client.post(url, json=body, headers=admin["headers"])
        assert resp.status_code == 200, resp.text
    return admin


@pytest.fixture
async def session(
    browser: Browser, live_server: LiveServer, screenshots: Path
) -> AsyncIterator[Session]:
    s = await _open(browser, live_server, screenshots)
    yield s
    await s.context.close()


async def test_login_page_is_thai_by_default_and_switches_to_english(session: Session) -> None:
    page = session.page
    await session.goto("/login")
    assert await page.get_attribute("html", "lang") == "th"
    await expect(page.locator("h1")).to_have_text("เข้าสู่ระบบศูนย์สั่งการ")
    await session.shot("login-th")
    await page.click("a[data-lang=en]")
    await expect(page.locator("h1")).to_have_text("Sign in to the command console")
    assert await page.get_attribute("html", "lang") == "en"
    assert urlsplit(page.url).path == "/login"
    await session.shot("login-en")
    await page.click("a[data-lang=th]")
    await expect(page.locator("h1")).to_have_text("เข้าสู่ระบบศูนย์สั่งการ")
    assert not session.errors


async def test_wrong_password_shows_the_error(session: Session, make_user: UserFactory) -> None:
    user = await make_user(Role.operator)
    await session.sign_in(user["username"], "not-the-password")
    alert = session.page.get_by_test_id("login-error")
    await expect(alert).to_have_text("ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง")
    assert await session.page.input_value("#username") == user["username"]
    await session.shot("login-wrong-password")


async def test_five_wrong_passwords_are_throttled(session: Session, make_user: UserFactory) -> None:
    user = await make_user(Role.operator)
    for _ in range(5):
        await session.sign_in(user["username"], "not-the-password")
    alert = session.page.get_by_test_id("login-error")
    await expect(alert).to_contain_text("กรุณารอ")
    assert re.search(r"\d+ วินาที", await alert.inner_text())
    await session.shot("login-throttled")
    # The right password does not get in while the block lasts.
    await session.sign_in(user["username"])
    assert urlsplit(session.page.url).path == "/login"


@pytest.mark.parametrize("role", list(Role))
async def test_every_role_reaches_the_map(
    session: Session, make_user: UserFactory, role: Role
) -> None:
    user = await make_user(role)
    await session.sign_in(user["username"])
    assert urlsplit(session.page.url).path == "/map"
    await expect(session.page.get_by_test_id("user-name")).to_have_text(user["username"])
    state = await session.map_ready()
    assert state["errors"] == []
    await session.shot(f"map-role-{role.value}")
    assert not session.errors


async def test_map_shows_the_zone_and_counts_match_the_api(
    session: Session, seeded: dict[str, Any]
) -> None:
    await session.sign_in(seeded["username"])
    state = await session.map_ready()
    listing = await session.page.evaluate(
        "fetch('/api/v1/layers', {credentials: 'same-origin'}).then(r => r.json())"
    )
    api = {layer["name"]: layer["count"] for layer in listing["data"]}
    assert api["zones"] == 1 and api["cameras"] == CAMERAS and api["street_lights"] == 0
    assert state["counts"] == api
    assert state["apiCounts"] == api
    for name, count in api.items():
        badge = session.page.locator(f"li[data-layer={name}] .legend-count")
        assert await badge.get_attribute("data-count") == str(count)
        assert await session.drawn(name) == count
    # The view was fitted to the zone: its centre is on screen and it fills much of the map.
    inside = await session.page.evaluate(
        "() => { const m = safezoneMap.map, z = safezoneMap.layers.zones.group.getBounds();"
        " return m.getBounds().contains(z) && m.getZoom() >= 14; }"
    )
    assert inside
    await expect(session.page.locator("li[data-layer=zones] .legend-title")).to_have_text(
        "พื้นที่ปลอดภัย"
    )
    await session.shot("map-seeded-th")
    await session.page.evaluate(
        "() => { safezoneMap.layers.zones.group.getLayers()[0].openPopup(); }"
    )
    popup = session.page.locator(".leaflet-popup-content")
    await expect(popup).to_contain_text("เขตปลอดภัยทดสอบ")
    await expect(popup).to_contain_text("ตร.กม.")
    await expect(popup).to_contain_text("12,500")
    await session.shot("map-zone-popup-th")
    assert not session.errors


async def test_map_in_english(session: Session, seeded: dict[str, Any]) -> None:
    await session.sign_in(seeded["username"])
    await session.map_ready()
    await session.page.click("a[data-lang=en]")
    await session.map_ready()
    assert await session.page.get_attribute("html", "lang") == "en"
    await expect(session.page.locator("li[data-layer=cameras] .legend-title")).to_have_text(
        "CCTV cameras"
    )
    await session.page.evaluate(
        "() => { safezoneMap.layers.cameras.group.getLayers()[0].openPopup(); }"
    )
    popup = session.page.locator(".leaflet-popup-content")
    await expect(popup).to_contain_text("CAM test 0")
    await expect(popup).to_contain_text("CAM-0000")
    await expect(popup).to_contain_text("Code")
    await session.shot("map-camera-popup-en")
    assert not session.errors


async def test_a_failed_layer_shows_the_problem_detail(
    session: Session, seeded: dict[str, Any]
) -> None:
    problem = {"type": "urn:safezone:problem:internal_error", "status": 500,
               "detail": "ฐานข้อมูลไม่ตอบสนอง", "code": "internal_error"}
    await session.page.route(
        "**/api/v1/layers/cameras.geojson",
        lambda route: route.fulfill(
            status=500, content_type="application/problem+json", body=json.dumps(problem)
        ),
    )
    await session.sign_in(seeded["username"])
    state = await session.map_ready()
    banner = session.page.get_by_test_id("map-error")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("กล้องวงจรปิด")
    await expect(banner).to_contain_text("ฐานข้อมูลไม่ตอบสนอง")
    assert await session.page.is_disabled("#layer-toggle-cameras")
    assert "cameras" not in state["counts"] and state["counts"]["zones"] == 1
    await session.shot("map-layer-error")


async def test_toggling_a_layer_hides_its_markers(session: Session, seeded: dict[str, Any]) -> None:
    await session.sign_in(seeded["username"])
    await session.map_ready()
    assert await session.drawn("cameras") == CAMERAS
    await session.page.uncheck("#layer-toggle-cameras")
    assert await session.drawn("cameras") == 0
    assert await session.drawn("sos_boxes") == SOS_BOXES
    await session.shot("map-cameras-hidden")
    await session.page.check("#layer-toggle-cameras")
    assert await session.drawn("cameras") == CAMERAS


async def test_no_request_leaves_the_server_without_a_tile_url(
    session: Session, seeded: dict[str, Any]
) -> None:
    await session.sign_in(seeded["username"])
    await session.map_ready()
    await session.page.mouse.wheel(0, -400)  # zooming would fetch tiles if there were any
    await session.page.wait_for_timeout(300)
    outside = [u for u in session.requests if not u.startswith(session.base + "/")]
    assert outside == []
    assert any(u.endswith(".geojson") for u in session.requests)
    assert await session.page.locator(".leaflet-tile").count() == 0


async def test_a_tile_url_adds_tiles_with_attribution(
    browser: Browser, settings: Settings, screenshots: Path, seeded: dict[str, Any]
) -> None:
    # A local port with nothing on it: tiles are requested (and fail) without any internet.
    tiles = "http://127.0.0.1:9/{z}/{x}/{y}.png"
    server_settings = settings.model_copy(update={"tile_url": tiles, "tile_attribution": "© Test"})
    with LiveServer(server_settings) as server:
        s = await _open(browser, server, screenshots)
        try:
            await s.sign_in(seeded["username"])
            await s.map_ready()
            await expect(s.page.locator(".leaflet-control-attribution")).to_contain_text("© Test")
            await s.page.wait_for_timeout(300)
            assert any(u.startswith("http://127.0.0.1:9/") for u in s.requests)
            # A refused tile is a network error, not a CSP violation.
            assert not [e for e in s.errors if "Content Security Policy" in e]
        finally:
            await s.context.close()


async def test_logout_returns_to_login_and_the_map_needs_login_again(
    session: Session, make_user: UserFactory
) -> None:
    user = await make_user(Role.patrol)
    await session.sign_in(user["username"])
    await session.map_ready()
    await session.page.get_by_test_id("logout").click()
    await session.page.wait_for_url(re.compile(r"/login$"))
    await session.shot("logged-out")
    await session.goto("/map")
    assert session.page.url == session.base + "/login?next=/map"


async def test_anonymous_map_goes_to_login_and_back(
    session: Session, make_user: UserFactory
) -> None:
    user = await make_user(Role.viewer)
    await session.goto("/map")
    assert session.page.url == session.base + "/login?next=/map"
    await session.sign_in(user["username"])
    assert urlsplit(session.page.url).path == "/map"


async def test_map_on_a_phone(
    browser: Browser, live_server: LiveServer, screenshots: Path, seeded: dict[str, Any]
) -> None:
    s = await _open(
        browser, live_server, screenshots, viewport={"width": 390, "height": 844},
        device_scale_factor=2, is_mobile=True, has_touch=True,
    )
    try:
        await s.sign_in(seeded["username"])
        await s.map_ready()
        # The legend starts folded on a phone so the map gets the screen.
        assert not await s.page.evaluate("document.getElementById('layer-details').open")
        box = await s.page.locator("#map").bounding_box()
        assert box is not None and box["height"] > 500
        await s.shot("map-phone")
        assert not s.errors
    finally:
        await s.context.close()
