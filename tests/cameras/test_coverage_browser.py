"""The map in real headless Chromium: camera wedges drawn as their own layer, styled by status,
and the zone's coverage % as a headline (Thai and English); a partner sees only their own
organisation's wedges. Screenshots go to the artifacts directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from safezone.auth.roles import Role
from safezone.db.engine import Database
from tests.cameras.coverage_scene import CAMERAS, Cam, add_camera, build_scene
from tests.conftest import PASSWORD, LiveServer, UserFactory

pytest.importorskip("playwright.async_api")
from playwright.async_api import Browser, Page, expect  # noqa: E402

from tests.fixtures.browser import BROWSER_MARKS  # noqa: E402

pytestmark = BROWSER_MARKS
KNOWN = [c for c in CAMERAS if c.known]


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    await context.close()
    assert errors == []


async def _open_map(page: Page, server: LiveServer, username: str) -> dict[str, Any]:
    await page.goto(server.url + "/login?next=/map")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("form.login-form button[type=submit]")
    await page.wait_for_function(
        "() => window.safezoneMap && window.safezoneMap.ready && window.safezoneMap.coverageReady"
    )
    state: dict[str, Any] = await page.evaluate(
        "({errors: safezoneMap.errors, counts: safezoneMap.counts,"
        " coverage: safezoneMap.coverage})"
    )
    assert state["errors"] == []
    return state


async def _drawn(page: Page, layer: str) -> int:
    count: int = await page.evaluate("(name) => safezoneMap.drawnCount(name)", layer)
    return count


async def test_map_draws_wedges_and_the_coverage_headline(
    page: Page,
    db: Database,
    client: httpx.AsyncClient,
    make_user: UserFactory,
    live_server: LiveServer,
    artifacts: Path,
) -> None:
    scene = await build_scene(db)
    admin = await make_user(Role.supervisor)
    api = (
        await client.get(
            "/api/v1/coverage", params={"zone_id": scene["zone_id"]}, headers=admin["headers"]
        )
    ).json()
    state = await _open_map(page, live_server, admin["username"])
    assert state["counts"]["camera_fov"] == len(KNOWN)
    assert await _drawn(page, "camera_fov") == len(KNOWN)
    assert state["coverage"][str(scene["zone_id"])]["covered_share"] == api["covered_share"]
    await expect(page.locator("li[data-layer=camera_fov] .legend-title")).to_have_text(
        "มุมมองกล้อง (ระยะและมุมกว้าง)"
    )
    # Style by status: online linked wedges green and filled; registered ones dashed grey.
    styles = await page.evaluate(
        """() => { const out = {};
          safezoneMap.layers.camera_fov.group.eachLayer((l) => {
            out[l.feature.properties.code] = {color: l.options.color,
              dash: l.options.dashArray, fill: l.options.fillOpacity}; });
          return out; }"""
    )
    assert styles["A"]["color"] == "#17becf" and styles["A"]["dash"] is None
    assert styles["D"]["dash"] == "4 4"
    assert styles["E"]["color"] == "#d62728" and styles["E"]["fill"] < styles["A"]["fill"]

    panel = page.get_by_test_id("coverage-panel")
    await expect(panel).to_be_visible()
    share = page.get_by_test_id("coverage-share")
    expected_th = await page.evaluate(
        "(v) => new Intl.NumberFormat('th-TH', {style: 'percent', minimumFractionDigits: 1,"
        " maximumFractionDigits: 1}).format(v)",
        api["covered_share"],
    )
    await expect(share).to_have_text(expected_th)
    assert float(await share.get_attribute("data-share") or "nan") == api["covered_share"]
    await expect(panel).to_contain_text("ความครอบคลุมของกล้อง")
    await expect(panel).to_contain_text("ตู้ SOS ที่ไม่มีกล้องมอง 2 ตู้")
    await expect(panel).to_contain_text("กล้องที่ไม่ทราบมุมมอง 1 ตัว")
    await expect(panel).not_to_contain_text("เฉพาะกล้องขององค์กรของคุณ")
    shots = artifacts / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shots / "coverage-map-th.png"), animations="disabled")

    # A wedge's popup tells its aim.
    await page.evaluate(
        """() => safezoneMap.layers.camera_fov.group.eachLayer((l) => {
          if (l.feature.properties.code === 'A') l.openPopup(); })"""
    )
    popup = page.locator(".leaflet-popup-content")
    await expect(popup).to_contain_text("กล้อง A")
    await expect(popup).to_contain_text("มุมกว้าง 90°")

    await page.click("a[data-lang=en]")
    await page.wait_for_function("() => window.safezoneMap && window.safezoneMap.coverageReady")
    await expect(panel).to_contain_text("of the zone seen by linked, online cameras")
    expected_en = await page.evaluate(
        "(v) => new Intl.NumberFormat('en-GB', {style: 'percent', minimumFractionDigits: 1,"
        " maximumFractionDigits: 1}).format(v)",
        api["covered_share"],
    )
    assert expected_en.endswith("%")
    await expect(page.get_by_test_id("coverage-share")).to_have_text(expected_en)
    await page.screenshot(path=str(shots / "coverage-map-en.png"), animations="disabled")


async def test_partner_map_shows_only_own_wedges(
    page: Page,
    db: Database,
    make_user: UserFactory,
    partner_org: int,
    live_server: LiveServer,
    artifacts: Path,
) -> None:
    await build_scene(db)
    await add_camera(
        db, Cam("SHOP-1", 13.7452, 100.5340, 180.0, 70.0, 40.0, organisation_id=partner_org)
    )
    partner = await make_user(Role.partner)
    state = await _open_map(page, live_server, partner["username"])
    assert state["counts"]["camera_fov"] == 1
    assert await _drawn(page, "camera_fov") == 1
    codes = await page.evaluate(
        "() => safezoneMap.layers.camera_fov.group.getLayers()"
        ".map((l) => l.feature.properties.code)"
    )
    assert codes == ["SHOP-1"]
    panel = page.get_by_test_id("coverage-panel")
    await expect(panel).to_be_visible()
    await expect(panel).to_contain_text("เฉพาะกล้องขององค์กรของคุณ")
    shots = artifacts / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shots / "coverage-map-partner.png"), animations="disabled")
