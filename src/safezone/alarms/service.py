"""What people do with alarms: list, read, acknowledge, resolve.

Changes run inside the caller's write transaction and return the effects to run after the
commit (``alarms.effects``). Acknowledging is a conditional update (``status = 'new'`` in the
WHERE clause), so when two operators press Acknowledge at once exactly one wins and the other
is told who was first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.effects import BoxCommand, Effect, Push
from safezone.alarms.models import Alarm
from safezone.alarms.pipeline import clear_escalation_alert, seconds_between
from safezone.alarms.views import OPEN_STATUSES, alarm_views
from safezone.audit.service import record
from safezone.auth.service import Principal
from safezone.db.base import utcnow
from safezone.incidents.models import Incident
from safezone.incidents.service import add_event
from safezone.problems import Problem
from safezone.sos.models import SosBox

HELP_COMING: dict[str, Any] = {"cmd": "help_coming"}


async def get_alarm(session: AsyncSession, alarm_id: int) -> Alarm:
    """The alarm, or a 404 problem."""
    alarm = await session.get(Alarm, alarm_id, populate_existing=True)
    if alarm is None:
        raise Problem(404, "alarm_not_found", id=alarm_id)
    return alarm


async def list_alarms(
    session: AsyncSession,
    *,
    state: str = "open",
    kind: str | None = None,
    box_id: int | None = None,
    incident_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Alarms as views and the total matching; open ones most urgent first."""
    query = select(Alarm)
    if state == "open":
        query = query.where(Alarm.status.in_(OPEN_STATUSES))
    elif state != "all":
        query = query.where(Alarm.status == state)
    if kind:
        query = query.where(Alarm.kind == kind)
    if box_id is not None:
        query = query.where(Alarm.box_id == box_id)
    if incident_id is not None:
        query = query.where(Alarm.incident_id == incident_id)
    if since is not None:
        query = query.where(Alarm.raised_at >= since)
    if until is not None:
        query = query.where(Alarm.raised_at < until)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = (
        (Alarm.priority, Alarm.raised_at.desc(), Alarm.id.desc())
        if state == "open"
        else (Alarm.raised_at.desc(), Alarm.id.desc())
    )
    rows = await session.scalars(query.order_by(*order).limit(limit).offset(offset))
    return await alarm_views(session, rows), int(total)


async def alarm_detail(session: AsyncSession, alarm_id: int) -> dict[str, Any]:
    """One alarm as a view."""
    (view,) = await alarm_views(session, [await get_alarm(session, alarm_id)])
    return view


async def acknowledge(
    session: AsyncSession, *, alarm_id: int, who: Principal
) -> tuple[dict[str, Any], list[Effect]]:
    """Someone has taken the alarm: record when and who; the box is told help is coming."""
    alarm = await get_alarm(session, alarm_id)
    now = utcnow()
    result = await session.execute(
        update(Alarm)
        .where(Alarm.id == alarm_id, Alarm.status == "new")
        .values(status="acknowledged", acknowledged_at=now, acknowledged_by=who.user_id)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        await session.refresh(alarm)
        raise Problem(409, "alarm_not_new", id=alarm_id, status=alarm.status)
    await session.refresh(alarm)
    seconds = seconds_between(alarm.raised_at, now)
    await clear_escalation_alert(session, alarm_id=alarm.id, at=now, by=who.user_id)
    if alarm.incident_id is not None:
        incident = await session.get(Incident, alarm.incident_id)
        if incident is not None:
            if incident.acknowledged_at is None:
                incident.acknowledged_at = now
            if incident.status == "open":
                incident.status = "acknowledged"
        add_event(
            session, alarm.incident_id, "acknowledged", actor=who.actor, at=now,
            alarm_id=alarm.id, seconds_to_ack=seconds, escalations=alarm.escalations,
        )
    await record(
        session, actor=who.actor, action="alarm.acknowledge", entity_type="alarm",
        entity_id=alarm.id, details={"seconds_to_ack": seconds, "kind": alarm.kind},
    )
    await session.flush()
    (view,) = await alarm_views(session, [alarm])
    effects: list[Effect] = [Push("alarm.acknowledged", view)]
    box = await session.get(SosBox, alarm.box_id) if alarm.box_id is not None else None
    if box is not None and alarm.kind == "sos":
        effects.append(BoxCommand(box.code, dict(HELP_COMING)))
    return view, effects


async def resolve(
    session: AsyncSession, *, alarm_id: int, who: Principal, note: str | None = None
) -> tuple[dict[str, Any], list[Effect]]:
    """The alarm needs nothing more (its incident may go on)."""
    alarm = await get_alarm(session, alarm_id)
    if alarm.status not in OPEN_STATUSES:
        raise Problem(409, "alarm_not_open", id=alarm_id, status=alarm.status)
    now = utcnow()
    was = alarm.status
    alarm.status = "resolved"
    alarm.resolved_at = now
    await clear_escalation_alert(session, alarm_id=alarm.id, at=now, by=who.user_id)
    if alarm.incident_id is not None:
        add_event(
            session, alarm.incident_id, "alarm_resolved", actor=who.actor, at=now,
            alarm_id=alarm.id, note=note, unacknowledged=was == "new",
        )
    await record(
        session, actor=who.actor, action="alarm.resolve", entity_type="alarm",
        entity_id=alarm.id, details={"note": note, "was": was},
    )
    await session.flush()
    (view,) = await alarm_views(session, [alarm])
    return view, [Push("alarm.resolved", view)]
