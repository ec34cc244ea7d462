"""The operator console in real headless Chromium: a real box agent's SOS press (over MQTT,
through the server's device link and alarm pipeline) appears at the top of the queue with a
flashing marker and sound, the operator acknowledges it and the box lights "help is coming";
and the box health page lists failing boxes first."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from safezone.alarms.models import Alarm
from safezone.audit.service import Actor
from safezone.auth.roles import Role
from safezone.box.agent import BoxAgent
from safezone.box.config import BoxConfig
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.sos.models import SosBox
from safezone.sos.provision import provision_box
from tests.alarms.support import LAT, LON, add_box, add_camera, north_of
from tests.conftest import PASSWORD, LiveServer, UserFactory

pytest.importorskip("playwright.async_api")
from playwright.async_api import Browser, Page, expect  # noqa: E402

from tests.fixtures.browser import BROWSER_MARKS  # noqa: E402

# The press crosses a real broker and server on a shared 2-core machine: allow for load.
WAIT = 20_000
pytestmark = BROWSER_MARKS


async def _sign_in(page: Page, base: str, username: str, path: str) -> None:
    await page.goto(f"{base}/login?next={path}")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("form.login-form button[type=submit]")
    await page.wait_for_url(f"{base}{path}")


async def _box_agent(live_server: LiveServer, db: Database, code: str, tmp: Path) -> BoxAgent:
    """A provisioned box whose agent talks to the live server's own (embedded) broker."""
    link = live_server.server.config.app.state.box_link
    deadline = time.monotonic() + 15
    while not (link.connected.is_set() and link.broker is not None and link.broker.port):
        assert time.monotonic() < deadline, "the server's device link did not connect"
        await asyncio.sleep(0.05)
    async with db.write() as session:
        _box, secret = await provision_box(
            session, code=code, actor=Actor(None, "test"), settings=link.settings
        )
    config = BoxConfig(
        box_code=code, secret=secret, broker_url=f"mqtt://127.0.0.1:{link.broker.port}",
        topic_root=link.settings.mqtt_topic_root, outbox_path=tmp / f"{code}.db",
        outbox_sync="normal", http_port=None, resend_initial_s=0.5, reconnect_initial_s=0.2,
    )
    return BoxAgent(config, console=lambda line: None)


async def test_operator_sees_and_acknowledges_an_sos(
    browser: Browser, live_server: LiveServer, db: Database, make_user: UserFactory,
    artifacts: Path, tmp_path: Path,
) -> None:
    operator = await make_user(Role.operator, username="console_op")
    async with db.write() as session:
        box_id = (await add_box(session, "SOS-SADET")).id
        await add_camera(session, "CAM-SADET", lat=north_of(LAT, -40), lon=LON, tier="registered",
                         bearing_deg=0, fov_deg=90, range_m=80)
    agent = await _box_agent(live_server, db, "SOS-SADET", tmp_path)
    agent_task = asyncio.create_task(agent.run())
    context = await browser.new_context(viewport={"width": 1400, "height": 860}, locale="th-TH")
    try:
        await asyncio.wait_for(agent.connected.wait(), 15)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await _sign_in(page, live_server.url, operator["username"], "/console")
        await page.wait_for_function(
            "() => window.safezoneConsole && safezoneConsole.ready && safezoneConsole.connected"
        )
        await expect(page.get_by_test_id("queue-empty")).to_be_visible()
        await page.get_by_test_id("sound-toggle").click()
        await expect(page.get_by_test_id("sound-toggle")).to_have_attribute("aria-pressed", "true")

        # Someone presses the button: the agent publishes, the link commits, the console hears.
        event_id = agent.press()
        item = page.locator("[data-testid=queue-item]").first
        await expect(item).to_have_class("queue-item kind-sos status-new selected", timeout=WAIT)
        await expect(item).to_contain_text("SOS-SADET")
        await expect(page.locator(".sz-alarm-marker.sz-alarm-flash")).to_have_count(1)
        await expect(page.get_by_test_id("alarm-panel")).to_be_visible()
        await expect(page.get_by_test_id("panel-cameras")).to_contain_text("CAM-SADET")
        # The call module (static/js/call.js) is there: Answer is live (tests/calls/).
        await expect(page.get_by_test_id("answer-button")).to_be_enabled()
        await page.wait_for_function("() => safezoneConsole.sound.beeps > 1")
        await page.screenshot(path=str(artifacts / "console-sos-new.png"))

        await page.get_by_test_id("ack-button").click()
        await expect(item).to_have_class("queue-item kind-sos status-acknowledged selected",
                                         timeout=WAIT)
        await expect(page.locator(".sz-alarm-marker.sz-alarm-flash")).to_have_count(0)
        await expect(page.locator(".sz-alarm-marker.sz-alarm-acknowledged")).to_have_count(1)
        await expect(page.get_by_test_id("ack-button")).to_be_hidden()
        await expect(page.get_by_test_id("panel-timeline")).to_contain_text("รับเรื่อง")
        # Nothing waits any more: the ringing stops.
        await page.wait_for_function("() => !safezoneConsole.sound.ringing")
        await page.screenshot(path=str(artifacts / "console-sos-acknowledged.png"))

        # The box heard that help is coming.
        deadline = time.monotonic() + 10
        while not agent.outputs.state["light"]:
            assert time.monotonic() < deadline, "the box never got help_coming"
            await asyncio.sleep(0.05)
        async with db.session() as session:
            alarm = await session.scalar(select(Alarm).where(Alarm.box_id == box_id))
            assert alarm is not None and alarm.status == "acknowledged"
            assert alarm.event_id == event_id and alarm.acknowledged_by == operator["id"]
        assert errors == []
    finally:
        await context.close()
        agent.stop()
        await asyncio.wait_for(agent_task, 15)


async def test_box_health_lists_failing_boxes_first(
    browser: Browser, live_server: LiveServer, db: Database, make_user: UserFactory,
    artifacts: Path,
) -> None:
    operator = await make_user(Role.operator, username="health_op")
    now = utcnow()
    async with db.write() as session:
        healthy: dict[str, Any] = {"status": "online", "last_seen_at": now, "battery_pct": 96.0,
                                   "last_self_test_at": now, "self_test_ok": True,
                                   "secret_hash": "0" * 64, "provisioned_at": now}
        for code in ("SOS-A-OK", "SOS-B-OK"):
            box = await add_box(session, code)
            for key, value in healthy.items():
                setattr(box, key, value)
        failing = await add_box(session, "SOS-Z-FAIL")
        for key, value in healthy.items():
            setattr(failing, key, value)
        failing.status = "offline"
        failing.battery_pct = 12.0
        failing.last_seen_at = now - timedelta(minutes=20)
        failing.self_test_ok = False
        failing.self_test_detail = "failed: speaker"
        await session.flush()
        assert await session.scalar(select(SosBox.id).where(SosBox.code == "SOS-Z-FAIL"))
    context = await browser.new_context(viewport={"width": 1280, "height": 700})
    page = await context.new_page()
    await _sign_in(page, live_server.url, operator["username"], "/sos-boxes")
    rows = page.locator("#boxes-body tr")
    await expect(rows).to_have_count(3)
    assert await rows.nth(0).get_attribute("data-box") == "SOS-Z-FAIL"
    assert await rows.nth(0).get_attribute("data-failing") == "true"
    await expect(rows.nth(0)).to_contain_text("ทดสอบไม่ผ่าน")
    await expect(rows.nth(0)).to_contain_text("แบตเตอรี่ต่ำ")
    assert await rows.nth(1).get_attribute("data-failing") == "false"
    await expect(page.get_by_test_id("boxes-summary")).to_contain_text("มีปัญหา 1 ตู้")
    await page.screenshot(path=str(artifacts / "sos-box-health.png"))
    await context.close()
