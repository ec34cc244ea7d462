"""Incidents and their timelines: open or attach for an alarm, notes, close.

Statuses: ``open`` → ``acknowledged`` (someone answered one of its alarms) → ``closed``
(``dispatched`` is the patrol issue's). The camera sharing policy treats every status but
``closed`` as open (``cameras.policy.OPEN_INCIDENT``), which lets ``on_alarm`` cameras near an
open incident be watched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.models import Alarm
from safezone.alarms.views import BoxViewLike
from safezone.audit.service import SYSTEM, Actor
from safezone.db.base import table_of, utcnow
from safezone.incidents.models import Incident, IncidentEvent
from safezone.problems import Problem

OPEN_INCIDENT = ("open", "acknowledged", "dispatched")
CLOSED = "closed"


def add_event(
    session: AsyncSession,
    incident_id: int,
    kind: str,
    *,
    actor: Actor = SYSTEM,
    at: datetime | None = None,
    **data: Any,
) -> IncidentEvent:
    """Append one entry to an incident's timeline (inside the caller's transaction)."""
    event = IncidentEvent(
        incident_id=incident_id,
        at=at or utcnow(),
        kind=kind,
        actor_id=actor.id,
        actor=actor.name[:100],
        data=data,
    )
    session.add(event)
    return event


# Built once: the press path runs these (see ``alarms.pipeline``).
_RECENT = (
    select(Incident.id, Incident.priority)
    .join(Alarm, Alarm.incident_id == Incident.id)
    .where(
        Incident.source_box_id == bindparam("box_id"),
        Incident.status.in_(OPEN_INCIDENT),
        Alarm.raised_at >= bindparam("since"),
    )
    .order_by(Alarm.raised_at.desc(), Incident.id.desc())
    .limit(1)
)
_INSERT_INCIDENT = insert(table_of(Incident)).returning(table_of(Incident).c.id)
_INSERT_TIMELINE = insert(table_of(IncidentEvent))


class OpenIncident(NamedTuple):
    id: int
    priority: int


async def recent_incident_of_box(
    session: AsyncSession, *, box_id: int, since: datetime
) -> OpenIncident | None:
    """The box's open incident that had an alarm since ``since`` (latest first)."""
    conn = await session.connection()
    row = (await conn.execute(_RECENT, {"box_id": box_id, "since": since})).first()
    return OpenIncident(row.id, row.priority) if row is not None else None


def _title(kind: str, box: BoxViewLike) -> str:
    label = {"sos": "SOS", "tamper": "Tamper / งัดแงะ", "door_open": "Door / ประตูตู้"}.get(
        kind, kind
    )
    return f"{label}: {box.code} {box.name_th}"[:300]


async def open_incident(
    session: AsyncSession, *, box: BoxViewLike, kind: str, priority: int, at: datetime
) -> OpenIncident:
    """A new open incident at the box (one INSERT; returns its id)."""
    conn = await session.connection()
    incident_id = (
        await conn.execute(
            _INSERT_INCIDENT,
            {
                "kind": kind, "priority": priority, "status": "open",
                "title": _title(kind, box), "lat": box.lat, "lon": box.lon,
                "zone_id": box.zone_id, "opened_at": at, "source_box_id": box.id,
            },
        )
    ).scalar_one()
    return OpenIncident(incident_id, priority)


async def set_priority(session: AsyncSession, incident_id: int, priority: int) -> None:
    """Raise the incident's urgency to ``priority`` (lower is more urgent), never lower it."""
    conn = await session.connection()
    await conn.execute(
        update(table_of(Incident))
        .where(Incident.id == incident_id, Incident.priority > priority)
        .values(priority=priority)
    )


def timeline_row(
    incident_id: int, kind: str, *, at: datetime, actor: Actor = SYSTEM, **data: Any
) -> dict[str, Any]:
    """One timeline entry as INSERT parameters (for ``record_timeline``)."""
    return {"incident_id": incident_id, "at": at, "kind": kind, "actor_id": actor.id,
            "actor": actor.name[:100], "data": data}


async def record_timeline(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Append timeline entries made by ``timeline_row`` with one (executemany) INSERT."""
    if rows:
        conn = await session.connection()
        await conn.execute(_INSERT_TIMELINE, rows)


async def get_incident(session: AsyncSession, incident_id: int) -> Incident:
    """The incident, or a 404 problem."""
    incident = await session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        raise Problem(404, "incident_not_found", id=incident_id)
    return incident


async def timeline(session: AsyncSession, incident_id: int) -> list[IncidentEvent]:
    """The incident's events in the order they happened."""
    rows = await session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.at, IncidentEvent.id)
    )
    return list(rows)


async def list_incidents(
    session: AsyncSession,
    *,
    state: str = "open",
    kind: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Incident], int]:
    """Incidents (open, closed or all), most urgent and newest first, with the total."""
    query = select(Incident)
    if state == "open":
        query = query.where(Incident.status.in_(OPEN_INCIDENT))
    elif state == "closed":
        query = query.where(Incident.status == CLOSED)
    if kind:
        query = query.where(Incident.kind == kind)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(Incident.priority, Incident.opened_at.desc(), Incident.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)


async def add_note(
    session: AsyncSession, *, incident_id: int, text: str, actor: Actor
) -> IncidentEvent:
    """A person's note on the timeline (allowed on closed incidents too: reports come late)."""
    await get_incident(session, incident_id)
    event = add_event(session, incident_id, "note", actor=actor, text=text)
    await session.flush()
    return event


async def close_incident(
    session: AsyncSession, *, incident_id: int, actor: Actor, note: str | None = None
) -> tuple[Incident, list[Alarm]]:
    """Close it; its alarms still open are resolved with it. Returns those alarms."""
    incident = await get_incident(session, incident_id)
    if incident.status == CLOSED:
        raise Problem(409, "incident_closed", id=incident_id)
    now = utcnow()
    incident.status = CLOSED
    incident.closed_at = now
    alarms = list(
        await session.scalars(
            select(Alarm).where(
                Alarm.incident_id == incident_id, Alarm.status.in_(("new", "acknowledged"))
            )
        )
    )
    for alarm in alarms:
        alarm.status = "resolved"
        alarm.resolved_at = now
    add_event(
        session, incident_id, "closed", actor=actor, at=now,
        note=note, resolved_alarms=[a.id for a in alarms],
    )
    await session.flush()
    return incident, alarms
