"""Acknowledge, resolve and escalate: who did what when, what the box and the consoles hear."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from safezone.alarms import service
from safezone.alarms.effects import SUPERVISORS, BoxCommand
from safezone.alarms.escalation import escalate_due, next_due
from safezone.alarms.models import Alarm
from safezone.alerts.models import Alert
from safezone.audit.models import AuditEntry
from safezone.audit.service import Actor
from safezone.auth.roles import Role
from safezone.auth.service import Principal, create_user
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.incidents.models import Incident, IncidentEvent
from safezone.problems import Problem
from safezone.settings import Settings
from tests.alarms.support import add_box, deliver, pushes
from tests.conftest import PASSWORD


async def _operator(db: Database, name: str = "op1") -> Principal:
    async with db.write() as session:
        user = await create_user(session, actor=Actor(None, "test"), username=name,
                                 password=PASSWORD, role=Role.operator)
    return Principal(user_id=user.id, username=name, display_name=name, role=Role.operator,
                     organisation_id=None, via="bearer")


async def _press(db: Database, settings: Settings, code: str = "SOS-100", **kw: object) -> int:
    async with db.write() as session:
        box_id = (await add_box(session, code)).id
    _e, effects = await deliver(db, settings, box_id, "sos_pressed", **kw)  # type: ignore[arg-type]
    alarm_id: int = pushes(effects)[0].payload["id"]
    return alarm_id


async def test_acknowledge_records_who_and_tells_the_box(db: Database, settings: Settings) -> None:
    who = await _operator(db)
    alarm_id = await _press(db, settings)
    async with db.write() as session:
        view, effects = await service.acknowledge(session, alarm_id=alarm_id, who=who)
    assert view["status"] == "acknowledged" and view["acknowledged_by"] == who.user_id
    assert [p.type for p in pushes(effects)] == ["alarm.acknowledged"]
    commands = [e for e in effects if isinstance(e, BoxCommand)]
    assert commands == [BoxCommand("SOS-100", {"cmd": "help_coming"})]
    async with db.session() as session:
        alarm = await session.get(Alarm, alarm_id)
        assert alarm is not None and alarm.acknowledged_at is not None
        incident = await session.get(Incident, alarm.incident_id)
        assert incident is not None and incident.status == "acknowledged"
        assert incident.acknowledged_at == alarm.acknowledged_at
        event = await session.scalar(
            select(IncidentEvent).where(IncidentEvent.kind == "acknowledged")
        )
        assert event is not None and event.actor_id == who.user_id
        assert event.data["alarm_id"] == alarm_id and event.data["seconds_to_ack"] >= 0
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "alarm.acknowledge")
        )
        assert audit is not None and audit.entity_id == str(alarm_id)
    # A second operator is told it was taken already.
    with pytest.raises(Problem) as refused:
        async with db.write() as session:
            await service.acknowledge(session, alarm_id=alarm_id, who=who)
    assert (refused.value.status, refused.value.code) == (409, "alarm_not_new")


async def test_tamper_acknowledged_sends_no_help_coming(db: Database, settings: Settings) -> None:
    who = await _operator(db)
    async with db.write() as session:
        box_id = (await add_box(session, "SOS-110")).id
    _e, effects = await deliver(db, settings, box_id, "tamper")
    async with db.write() as session:
        _view, acked = await service.acknowledge(
            session, alarm_id=pushes(effects)[0].payload["id"], who=who
        )
    assert not [e for e in acked if isinstance(e, BoxCommand)]


async def test_resolve_closes_the_alarm_not_the_incident(db: Database, settings: Settings) -> None:
    who = await _operator(db)
    alarm_id = await _press(db, settings)
    async with db.write() as session:
        view, effects = await service.resolve(session, alarm_id=alarm_id, who=who, note="ok")
    assert view["status"] == "resolved" and [p.type for p in pushes(effects)] == ["alarm.resolved"]
    with pytest.raises(Problem) as refused:
        async with db.write() as session:
            await service.resolve(session, alarm_id=alarm_id, who=who)
    assert refused.value.code == "alarm_not_open"
    async with db.session() as session:
        incident = await session.get(Incident, view["incident_id"])
        assert incident is not None and incident.status == "open"


async def test_unanswered_alarm_escalates_every_timeout(db: Database, settings: Settings) -> None:
    raised = utcnow() - timedelta(minutes=5)
    alarm_id = await _press(db, settings, at=raised)
    timeout = settings.alarm_ack_timeout_s
    async with db.session() as session:
        assert await next_due(session, settings=settings) == raised + timedelta(seconds=timeout)

    async with db.write() as session:
        early = await escalate_due(session, now=raised + timedelta(seconds=timeout - 0.5),
                                   settings=settings)
    assert early == []

    first_at = raised + timedelta(seconds=timeout)
    async with db.write() as session:
        effects = await escalate_due(session, now=first_at, settings=settings)
    escalated, notify = pushes(effects)
    assert escalated.type == "alarm.escalated" and escalated.payload["escalations"] == 1
    assert notify.type == "supervisor.notify" and notify.roles == SUPERVISORS
    assert notify.payload["alarm"]["id"] == alarm_id
    assert notify.payload["seconds_unanswered"] == timeout

    # Not again before another full timeout has passed since the escalation.
    async with db.write() as session:
        assert await escalate_due(session, now=first_at + timedelta(seconds=timeout - 1),
                                  settings=settings) == []
        again = await escalate_due(session, now=first_at + timedelta(seconds=timeout),
                                   settings=settings)
    assert pushes(again)[0].payload["escalations"] == 2

    async with db.session() as session:
        alerts = list(await session.scalars(select(Alert)))
        assert len(alerts) == 1
        assert alerts[0].kind == "alarm_unacknowledged" and alerts[0].entity_id == str(alarm_id)
        assert alerts[0].details["escalations"] == 2 and alerts[0].cleared_at is None
        timeline = list(await session.scalars(
            select(IncidentEvent.kind).order_by(IncidentEvent.at, IncidentEvent.id)
        ))
        assert timeline == ["opened", "escalated", "escalated"]

    # Acknowledged: the supervisors' alert clears and nothing is due any more.
    who = await _operator(db)
    async with db.write() as session:
        await service.acknowledge(session, alarm_id=alarm_id, who=who)
    async with db.session() as session:
        alert = await session.get(Alert, alerts[0].id)
        assert alert is not None and alert.cleared_at is not None
        assert alert.acknowledged_by == who.user_id
        assert await next_due(session, settings=settings) is None


async def test_escalation_stops_at_the_cap_and_skips_silent(
    db: Database, settings: Settings
) -> None:
    settings = settings.model_copy(update={"alarm_escalation_max": 2})
    raised = utcnow() - timedelta(hours=1)
    await _press(db, settings, at=raised)
    async with db.write() as session:
        box_id = (await add_box(session, "SOS-TAMPER")).id
    await deliver(db, settings, box_id, "tamper", at=raised)
    counts = []
    now = raised
    for _ in range(4):
        now += timedelta(seconds=settings.alarm_ack_timeout_s)
        async with db.write() as session:
            counts.append(len(pushes(await escalate_due(session, now=now, settings=settings),
                                     "alarm.escalated")))
    assert counts == [1, 1, 0, 0]
