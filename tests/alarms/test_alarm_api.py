"""The alarm and incident API, the escalation service in a running app, and the report figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select

from safezone.alarms.effects import run_effects_on
from safezone.alarms.models import Alarm
from safezone.alarms.stats import ack_stats
from safezone.alerts.models import Alert
from safezone.app import create_app
from safezone.auth.roles import Role
from safezone.db.engine import Database
from safezone.live.hub import LiveMessage
from safezone.settings import Settings
from tests.alarms.support import add_box, deliver, pushes
from tests.conftest import UserFactory


async def _press(db: Database, settings: Settings, code: str, **kw: Any) -> dict[str, Any]:
    async with db.write() as session:
        box_id = (await add_box(session, code)).id
    _e, effects = await deliver(db, settings, box_id, "sos_pressed", **kw)
    payload: dict[str, Any] = pushes(effects)[0].payload
    return payload


def _collect(app: Any, role: Role = Role.operator) -> list[LiveMessage]:
    received: list[LiveMessage] = []
    app.state.live_hub.subscribe(received.append, role=role)
    return received


async def _wait_for(received: list[LiveMessage], type: str, within: float = 10) -> LiveMessage:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for message in received:
            if message.type == type:
                return message
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {type} within {within} s; got {[m.type for m in received]}")


async def test_alarm_and_incident_api(
    app: Any, client: httpx.AsyncClient, db: Database, settings: Settings,
    make_user: UserFactory,
) -> None:
    operator = await make_user(Role.operator)
    patrol = await make_user(Role.patrol)
    received = _collect(app)
    alarm = await _press(db, settings, "SOS-A1")

    listing = (await client.get("/api/v1/alarms", headers=patrol["headers"])).json()
    assert listing["count"] == 1 and listing["data"][0]["id"] == alarm["id"]
    assert listing["data"][0]["box"]["code"] == "SOS-A1"
    one = await client.get(f"/api/v1/alarms/{alarm['id']}", headers=operator["headers"])
    assert one.status_code == 200 and one.json()["status"] == "new"
    missing = await client.get("/api/v1/alarms/999999", headers=operator["headers"])
    assert missing.status_code == 404 and missing.json()["code"] == "alarm_not_found"

    # Patrol officers see alarms but do not take them at the console.
    refused = await client.post(f"/api/v1/alarms/{alarm['id']}/acknowledge",
                                headers=patrol["headers"])
    assert refused.status_code == 403
    acked = await client.post(f"/api/v1/alarms/{alarm['id']}/acknowledge",
                              headers=operator["headers"])
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"] == operator["id"]
    pushed = await _wait_for(received, "alarm.acknowledged")
    assert pushed.payload["id"] == alarm["id"]
    twice = await client.post(f"/api/v1/alarms/{alarm['id']}/acknowledge",
                              headers=operator["headers"])
    assert twice.status_code == 409
    assert twice.headers["content-type"].startswith("application/problem+json")

    incident_id = alarm["incident_id"]
    incidents = (await client.get("/api/v1/incidents", headers=operator["headers"])).json()
    assert [i["id"] for i in incidents["data"]] == [incident_id]
    note = await client.post(f"/api/v1/incidents/{incident_id}/notes",
                             json={"text": "สายตรวจ 1 กำลังไป"}, headers=patrol["headers"])
    assert note.status_code == 201 and note.json()["actor"] == patrol["username"]
    closed = await client.post(f"/api/v1/incidents/{incident_id}/close",
                               json={"note": "เรียบร้อย"}, headers=operator["headers"])
    assert closed.status_code == 200, closed.text
    detail = closed.json()
    assert detail["status"] == "closed"
    assert [e["kind"] for e in detail["timeline"]] == ["opened", "acknowledged", "note", "closed"]
    assert [a["status"] for a in detail["alarms"]] == ["resolved"]
    again = await client.post(f"/api/v1/incidents/{incident_id}/close",
                              headers=operator["headers"])
    assert again.status_code == 409 and again.json()["code"] == "incident_closed"
    assert (await client.get("/api/v1/alarms", headers=operator["headers"])).json()["count"] == 0
    everything = await client.get("/api/v1/alarms", params={"state": "all"},
                                  headers=operator["headers"])
    assert everything.json()["count"] == 1


async def test_resolve_via_api(
    app: Any, client: httpx.AsyncClient, db: Database, settings: Settings,
    make_user: UserFactory,
) -> None:
    supervisor = await make_user(Role.supervisor)
    alarm = await _press(db, settings, "SOS-A2")
    resp = await client.post(f"/api/v1/alarms/{alarm['id']}/resolve", json={"note": "false"},
                             headers=supervisor["headers"])
    assert resp.status_code == 200 and resp.json()["status"] == "resolved"


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"alarm_ack_timeout_s": 1.0})


@pytest.fixture
async def fast_app(fast_settings: Settings) -> AsyncIterator[Any]:
    application = create_app(fast_settings, migrate=False)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


async def test_escalation_service_alerts_consoles_and_supervisors(
    fast_app: Any, db: Database, fast_settings: Settings
) -> None:
    operators = _collect(fast_app, Role.operator)
    supervisors = _collect(fast_app, Role.supervisor)
    async with db.write() as session:
        box_id = (await add_box(session, "SOS-E1")).id
    _e, effects = await deliver(db, fast_settings, box_id, "sos_pressed")
    await run_effects_on(fast_app.state, effects)
    assert (await _wait_for(operators, "alarm.new")).payload["box"]["code"] == "SOS-E1"
    escalated = await _wait_for(operators, "alarm.escalated")
    assert escalated.payload["escalations"] >= 1
    notify = await _wait_for(supervisors, "supervisor.notify")
    assert notify.payload["alarm"]["id"] == escalated.payload["id"]
    assert not [m for m in operators if m.type == "supervisor.notify"]
    async with db.session() as session:
        alert = await session.scalar(select(Alert).where(Alert.kind == "alarm_unacknowledged"))
        assert alert is not None and alert.entity_id == str(escalated.payload["id"])


async def test_alarm_left_unanswered_across_a_restart_is_escalated(
    db: Database, fast_settings: Settings
) -> None:
    # Raised while no server ran (or before a crash): the next one escalates it on start.
    alarm = await _press(db, fast_settings, "SOS-E2",
                         at=datetime.now(UTC) - timedelta(seconds=30))
    application = create_app(fast_settings, migrate=False)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            async with db.session() as session:
                row = await session.get(Alarm, alarm["id"], populate_existing=True)
                if row is not None and row.escalations >= 1:
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the alarm was not escalated after start-up")


async def test_ack_stats_arithmetic(
    db: Database, settings: Settings, client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    base = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
    ack_after = [5, 10, 12, 15, 18, 25]
    async with db.write() as session:
        box = await add_box(session, "SOS-S1")
        for i, seconds in enumerate(ack_after):
            raised = base + timedelta(minutes=i)
            session.add(Alarm(event_id=f"s-{i}", box_id=box.id, kind="sos", status="resolved",
                              raised_at=raised,
                              acknowledged_at=raised + timedelta(seconds=seconds)))
        # Never acknowledged: counts against the shares.
        session.add(Alarm(event_id="s-open", box_id=box.id, kind="sos", status="new",
                          raised_at=base + timedelta(minutes=30)))
        # Cancelled at the box before anyone answered: not answerable, counted apart.
        session.add(Alarm(event_id="s-cancel", box_id=box.id, kind="sos", status="cancelled",
                          raised_at=base + timedelta(minutes=31)))
        # Outside the period, and another kind: both ignored.
        session.add(Alarm(event_id="s-old", box_id=box.id, kind="sos", status="new",
                          raised_at=base - timedelta(days=1)))
        session.add(Alarm(event_id="s-door", box_id=box.id, kind="door_open", status="new",
                          raised_at=base))
    async with db.session() as session:
        figures = await ack_stats(session, start=base, end=base + timedelta(hours=1))
    assert (figures.raised, figures.answerable, figures.acknowledged) == (8, 7, 6)
    assert (figures.unacknowledged, figures.cancelled_unanswered) == (1, 1)
    assert figures.within == {10: 2, 15: 4, 20: 5}
    assert figures.share_within == {10: 2 / 7, 15: 4 / 7, 20: 5 / 7}
    assert figures.median_s == 13.5
    assert figures.p90_s == 25.0
    assert figures.standards["nena"]["met"] is False

    supervisor = await make_user(Role.supervisor)
    resp = await client.get(
        "/api/v1/alarms/stats",
        params={"from": base.isoformat(), "to": (base + timedelta(hours=1)).isoformat()},
        headers=supervisor["headers"],
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["from"].startswith("2025-03-01T02:00:00")
    assert body["within"] == {"10": 2, "15": 4, "20": 5}
    assert body["share_within"]["15"] == pytest.approx(4 / 7, abs=0)
    assert body["standards"]["nfpa_1225"] == {
        "within_s": 10, "target_share": 0.9, "share": 2 / 7, "met": False,
    }
    empty = await client.get("/api/v1/alarms/stats", headers=supervisor["headers"])
    assert empty.json()["answerable"] == 0 and empty.json()["share_within"]["10"] is None
    naive = await client.get("/api/v1/alarms/stats", params={"from": "2025-03-01T00:00:00"},
                             headers=supervisor["headers"])
    assert naive.status_code == 422 and naive.json()["code"] == "naive_datetime"
