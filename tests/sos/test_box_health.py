"""Box health: online/offline from heartbeats and the last will, offline and low-battery alerts,
scheduled self-tests, and the health and stats endpoints."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update

from safezone.alerts.models import Alert
from safezone.app import create_app
from safezone.auth.roles import Role
from safezone.box.agent import BoxAgent
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.i18n import BANGKOK
from safezone.settings import Settings
from safezone.sos.health import BATTERY_ALERT, OFFLINE_ALERT
from safezone.sos.models import SosBox
from safezone.sos.selftest import last_slot, next_slot, tell_due_boxes
from tests.sos.conftest import add_box, box_config, count, running, until
from tests.sos.test_link_e2e import raw_client, topic


@pytest.fixture
def sos_settings(settings: Settings, topic_root: str) -> Settings:
    # Embedded broker; offline after 0.6 s of silence, alert 0.3 s later.
    return settings.model_copy(update={
        "mqtt_topic_root": topic_root, "mqtt_url": None, "mqtt_port": 0,
        "box_health_flush_s": 0.05, "box_offline_after_s": 0.6, "box_offline_alert_s": 0.3,
    })


async def _box(db: Database, code: str) -> SosBox:
    async with db.session() as session:
        box = await session.scalar(select(SosBox).where(SosBox.code == code))
    assert box is not None
    return box


async def _open_alerts(db: Database, kind: str) -> int:
    return await count(db, Alert, Alert.kind == kind, Alert.cleared_at.is_(None))


async def test_last_will_marks_a_box_offline_and_an_alert_follows(
    link_app: Any, db: Database, tmp_path: Path
) -> None:
    link = link_app.state.box_link
    secret = await add_box(db, link.settings, "SOS-H1")
    agent = BoxAgent(box_config(link_app, "SOS-H1", secret, tmp_path, heartbeat_s=0.1,
                                reconnect_initial_s=30, reconnect_max_s=30))
    async with running(agent):
        await until(lambda: _is(db, "SOS-H1", "online"))
        # The network drops: the broker publishes the box's last will.
        assert agent._client is not None
        sock = agent._client._client.socket()
        assert sock is not None
        sock.shutdown(socket.SHUT_RDWR)
        await until(lambda: _is(db, "SOS-H1", "offline"))
        await until(lambda: _alerts_are(db, OFFLINE_ALERT, 1), within=10)
    # Back online: the alert clears.
    agent = BoxAgent(box_config(link_app, "SOS-H1", secret, tmp_path, heartbeat_s=0.1))
    async with running(agent):
        await until(lambda: _alerts_are(db, OFFLINE_ALERT, 0))
        assert (await _box(db, "SOS-H1")).status == "online"


async def test_a_silent_box_goes_offline(link_app: Any, db: Database) -> None:
    link = link_app.state.box_link
    secret = await add_box(db, link.settings, "SOS-H2")
    async with raw_client(link_app, "SOS-H2", secret) as client:
        beat = {"box_id": "SOS-H2", "time": utcnow().isoformat(), "battery_pct": 90}
        await client.publish(topic(link_app, "SOS-H2", "heartbeat"), json.dumps(beat))
        await until(lambda: _is(db, "SOS-H2", "online"))
        await until(lambda: _is(db, "SOS-H2", "offline"), within=10)
        box = await _box(db, "SOS-H2")
        assert box.status_since == box.last_seen_at  # offline since its last sign of life


async def test_low_battery_raises_and_clears_an_alert(link_app: Any, db: Database) -> None:
    link = link_app.state.box_link
    secret = await add_box(db, link.settings, "SOS-H3")
    async with raw_client(link_app, "SOS-H3", secret) as client:
        for battery, expected in ((12.5, 1), (14.0, 1), (60.0, 0)):
            beat = {"box_id": "SOS-H3", "time": utcnow().isoformat(), "battery_pct": battery,
                    "mains": False}
            await client.publish(topic(link_app, "SOS-H3", "heartbeat"), json.dumps(beat))
            await until(lambda b=battery: _battery_is(db, "SOS-H3", b))
            assert await _open_alerts(db, BATTERY_ALERT) == expected
    assert await count(db, Alert, Alert.kind == BATTERY_ALERT) == 1


async def test_scheduled_self_tests_reach_due_boxes_once_per_slot(
    link_app: Any, db: Database, tmp_path: Path
) -> None:
    link = link_app.state.box_link
    now = utcnow()
    local = now.astimezone(BANGKOK) - timedelta(minutes=1)
    settings = link.settings
    settings.box_self_test_days = local.strftime("%a").lower()
    settings.box_self_test_time = local.strftime("%H:%M")
    slot = last_slot(now, settings.box_self_test_days, settings.box_self_test_time)
    assert slot <= now < next_slot(now, settings.box_self_test_days, settings.box_self_test_time)
    secret = await add_box(db, settings, "SOS-H4")
    await add_box(db, settings, "SOS-H5")  # provisioned after the slot: not due yet
    async with db.write() as session:
        await session.execute(update(SosBox).where(SosBox.code == "SOS-H4")
                              .values(provisioned_at=slot - timedelta(days=3)))
    agent = BoxAgent(box_config(link_app, "SOS-H4", secret, tmp_path))
    async with running(agent):
        await until(lambda: _is(db, "SOS-H4", "online"))
        told: dict[Any, set[str]] = {}
        assert await tell_due_boxes(link, told, now) == ["SOS-H4"]
        assert await tell_due_boxes(link, told, now) == []  # once per slot
        await until(lambda: link.stats.events["self_test"] == 1)
    box = await _box(db, "SOS-H4")
    assert box.last_self_test_at is not None and box.self_test_ok is not None


async def test_health_lists_failing_boxes_and_stats_are_for_admins(
    link_app: Any, db: Database, make_user: Any
) -> None:
    link = link_app.state.box_link
    link.settings.box_offline_after_s = 3600  # no silence detection in this test
    await add_box(db, link.settings, "SOS-OK", status="online", last_seen_at=utcnow(),
                  battery_pct=95.0, mains_ok=True, self_test_ok=True,
                  last_self_test_at=utcnow())
    await add_box(db, link.settings, "SOS-BAD", status="online", last_seen_at=utcnow(),
                  battery_pct=5.0, mains_ok=False, self_test_ok=False,
                  last_self_test_at=utcnow(), self_test_detail="failed: camera")
    operator, admin = await make_user(Role.operator), await make_user(Role.admin)
    transport = httpx.ASGITransport(app=link_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        everything = (await http.get("/api/v1/sos-boxes/health",
                                     headers=operator["headers"])).json()
        failing = (await http.get("/api/v1/sos-boxes/health?failing=true",
                                  headers=operator["headers"])).json()
        assert everything["count"] == 2
        assert [b["code"] for b in failing["data"]] == ["SOS-BAD"]
        assert failing["data"][0]["problems"] == ["on_battery", "low_battery",
                                                  "self_test_failed"]
        denied = await http.get("/api/v1/device-link/stats", headers=operator["headers"])
        assert denied.status_code == 403
        stats = (await http.get("/api/v1/device-link/stats", headers=admin["headers"])).json()
    assert stats["enabled"] is True and stats["connected"] is True
    assert stats["broker"]["mode"] == "embedded"


async def _is(db: Database, code: str, status: str) -> bool:
    return (await _box(db, code)).status == status


async def _alerts_are(db: Database, kind: str, n: int) -> bool:
    return await _open_alerts(db, kind) == n


async def _battery_is(db: Database, code: str, battery: float) -> bool:
    return (await _box(db, code)).battery_pct == battery


async def test_health_flush_survives_a_box_deleted_meanwhile(
    sos_settings: Settings, db: Database
) -> None:
    application = create_app(sos_settings, migrate=False)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        link = application.state.box_link
        await asyncio.wait_for(link.connected.wait(), 15)
        secret = await add_box(db, sos_settings, "SOS-H6")
        async with raw_client(application, "SOS-H6", secret) as client:
            async with db.write() as session:
                await session.execute(SosBox.__table__.delete().where(SosBox.code == "SOS-H6"))
            beat = {"box_id": "SOS-H6", "time": utcnow().isoformat()}
            await client.publish(topic(application, "SOS-H6", "heartbeat"), json.dumps(beat))
            await until(lambda: link.stats.rejected["unknown_box"] == 1)
