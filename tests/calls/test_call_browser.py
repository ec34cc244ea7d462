"""The two-way call end to end: an operator in real headless Chromium (fake camera and
microphone) answers an SOS press from a real box agent (aiortc), through the real server
(uvicorn) and a real broker (the embedded one and Mosquitto). Media is counted at both ends:
the box counts the operator's audio frames; the browser counts the box's decoded video frames,
painted frames and audio packets. Hanging up leaves a call record with its length, the
incident timeline entries and the audit trail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from safezone.alarms.models import Alarm
from safezone.audit.models import AuditEntry
from safezone.auth.roles import Role
from safezone.box.agent import BoxAgent
from safezone.box.call import WebRtcCalls
from safezone.db.engine import Database
from safezone.incidents.models import Call, IncidentEvent
from safezone.settings import Settings
from tests.alarms.support import add_box, deliver
from tests.calls.conftest import (
    agent_config,
    link_ready,
    provision,
    running,
    until,
)
from tests.conftest import PASSWORD, LiveServer, UserFactory
from tests.sos.conftest import link_settings

pytest.importorskip("playwright.async_api")
from playwright.async_api import Browser, Page, expect  # noqa: E402

from tests.fixtures.browser import BROWSER_MARKS, MEDIA_ARGS, WEBRTC_ARGS, chromium  # noqa: E402

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Chromium that grants the microphone (fake device: a beeping tone)."""
    async with chromium(*MEDIA_ARGS) as launched:
        yield launched


async def sign_in(page: Page, base: str, username: str) -> None:
    await page.goto(f"{base}/login?next=/console")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("form.login-form button[type=submit]")
    await page.wait_for_url(f"{base}/console")
    await page.wait_for_function(
        "() => window.safezoneConsole && safezoneConsole.ready && safezoneConsole.connected")


async def browser_stats(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] = await page.evaluate("() => window.safezoneCall.stats()")
    return stats


@pytest.mark.parametrize("broker", ["embedded", "mosquitto"])
async def test_operator_answers_talks_and_hangs_up(
    broker: str, browser: Browser, settings: Settings, db: Database, make_user: UserFactory,
    mosquitto_url: str, topic_root: str, call_network: str, artifacts: Path, tmp_path: Path,
) -> None:
    operator = await make_user(Role.operator, username=f"caller_{broker}")
    app_settings = link_settings(settings, topic_root=topic_root,
                                 mqtt_url=mosquitto_url if broker == "mosquitto" else None)
    async with db.write() as session:
        await add_box(session, "SOS-CALL")
    secret = await provision(db, app_settings, "SOS-CALL")
    lines: list[str] = []
    context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="th-TH")
    with LiveServer(app_settings) as server:
        broker_at = await link_ready(server)
        agent = BoxAgent(agent_config("SOS-CALL", secret, broker=broker_at,
                                      topic_root=topic_root, tmp=tmp_path),
                         console=lines.append)
        calls = agent.call_handler
        assert isinstance(calls, WebRtcCalls)  # the box config turns calls on by default
        async with running(agent):
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in(page, server.url, operator["username"])

            # A press becomes an alarm in the panel; Answer is live now that call.js exists.
            agent.press()
            answer = page.get_by_test_id("answer-button")
            await expect(page.get_by_test_id("alarm-panel")).to_be_visible()
            await expect(answer).to_be_enabled()
            await answer.click()

            dock = page.get_by_test_id("call-dock")
            await expect(dock).to_have_attribute("data-state", "connected", timeout=15_000)
            await expect(page.get_by_test_id("call-status")).to_have_text("กำลังสนทนา")
            call_id = await dock.get_attribute("data-call-id")
            assert call_id is not None
            record = calls.record(call_id)
            assert record is not None and record.connected_at is not None

            # Media flows both ways: the box camera's frames are decoded and painted in the
            # <video>, its tone arrives as audio, and the box hears the fake microphone.
            async def flowing() -> bool:
                stats = await browser_stats(page)
                counts = record.sink.counts
                return (stats["videoFramesDecoded"] > 20 and stats["videoFramesPainted"] > 10
                        and stats["audioPackets"] > 50 and stats["audioSamples"] > 48_000
                        and counts.frames > 50 and counts.loud_frames > 0)

            await until(flowing, within=20, what="media in both directions")
            stats = await browser_stats(page)
            assert record.video_frames_sent >= stats["videoFramesDecoded"] > 20
            assert record.sink.counts.samples == record.sink.counts.frames * 960  # 20 ms @ 48k
            await expect(page.get_by_test_id("call-duration")).not_to_have_text("00:00")
            await expect(page.get_by_test_id("call-warning")).to_be_hidden()
            await page.screenshot(path=str(artifacts / f"call-connected-{broker}.png"))

            await page.get_by_test_id("hangup-button").click()
            await expect(dock).to_have_attribute("data-state", "ended")
            await expect(page.get_by_test_id("call-status")).to_have_text("วางสายแล้ว")
            # The box heard the hang-up (call_end through the server and the broker).
            await until(lambda: record.end_reason is not None, what="the box hanging up")
            assert record.end_reason == "operator_hangup"
            timeline = page.get_by_test_id("panel-timeline")
            await expect(timeline.locator("[data-kind=call_started]")).to_have_count(1)
            await expect(timeline.locator("[data-kind=call_ended]")).to_have_count(1)
            await page.screenshot(path=str(artifacts / f"call-ended-{broker}.png"))
            assert errors == []
        await context.close()

    async with db.session() as session:
        call = await session.get(Call, call_id)
        alarm = await session.scalar(select(Alarm).where(Alarm.id == call.alarm_id))
        events = list(await session.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == alarm.incident_id,
                                        IncidentEvent.kind.in_(("call_started", "call_ended")))
            .order_by(IncidentEvent.id)))
        audit = list(await session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_id == call_id)
            .order_by(AuditEntry.id)))
    assert call.operator_id == operator["id"] and call.incident_id == alarm.incident_id
    assert call.connected_at is not None and call.ended_at is not None
    assert call.end_reason == "operator_hangup"
    assert call.duration_s == pytest.approx(
        (call.ended_at - call.connected_at).total_seconds(), abs=0.01)
    assert call.duration_s > 0.5
    assert [e.kind for e in events] == ["call_started", "call_ended"]
    assert events[0].actor == operator["username"]
    assert events[1].data["duration_s"] == call.duration_s and events[1].data["connected"]
    assert audit == ["call.request", "call.connect", "call.end"]
    assert any("CALL connected" in line for line in lines)


async def test_no_microphone_and_no_answer_are_told_plainly(
    settings: Settings, db: Database, make_user: UserFactory, topic_root: str,
    call_network: str, artifacts: Path,
) -> None:
    """No microphone permission: the operator is warned and the call goes on listen-only; the
    box (provisioned but switched off) does not answer: the call ends and says so."""
    operator = await make_user(Role.operator, username="caller_nomic")
    app_settings = link_settings(settings, topic_root=topic_root, mqtt_url=None,
                                 call_answer_timeout_s=2.0)
    async with db.write() as session:
        box_id = (await add_box(session, "SOS-SILENT")).id
    await provision(db, app_settings, "SOS-SILENT")
    # No --use-fake-ui-for-media-stream: the permission prompt is refused.
    async with chromium(*WEBRTC_ARGS) as refusing:
        context = await refusing.new_context(viewport={"width": 1400, "height": 900},
                                             locale="th-TH")
        with LiveServer(app_settings) as server:
            await link_ready(server)
            page = await context.new_page()
            await sign_in(page, server.url, operator["username"])
            await deliver(db, app_settings, box_id, "sos_pressed")
            # Stored here rather than by the server's link: the console gets it on reload.
            await page.reload()
            await page.locator("[data-testid=queue-item] button").first.click()
            await page.get_by_test_id("answer-button").click()
            warning = page.get_by_test_id("call-warning")
            await expect(warning).to_contain_text("ใช้ไมโครโฟนไม่ได้")
            await expect(warning).to_contain_text("ไม่ได้รับอนุญาต")
            await expect(page.get_by_test_id("call-status")).to_contain_text("กำลังเรียกตู้")
            dock = page.get_by_test_id("call-dock")
            await expect(dock).to_have_attribute("data-state", "failed", timeout=10_000)
            await expect(warning).to_have_text("ตู้ไม่ตอบรับภายใน 2 วินาที")
            await page.screenshot(path=str(artifacts / "call-no-answer.png"))
            call_id = await dock.get_attribute("data-call-id")
    async with db.session() as session:
        call = await session.get(Call, call_id)
    assert call.end_reason == "no_answer" and call.connected_at is None
    assert call.duration_s is None
