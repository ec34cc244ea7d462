"""The alarm pipeline: one accepted box event in, stored state and effects out.

``on_box_event`` is called by the device link (``safezone.sos.link``) *inside* the write
transaction that inserted the (new, deduplicated) ``BoxEvent``. It stores everything the event
means and returns ``Effect`` values; the link commits, then runs them with
``safezone.alarms.effects.run_effects`` and only then acknowledges the event to the box. So a
console hears of an alarm only after it is committed, and the box resends until it is.

What each kind means:

* ``sos_pressed`` - an ``sos`` alarm, priority 1; opens an SOS incident at the box (or
  attaches to the box's open incident that had an alarm within ``alarm_attach_window_s``);
* ``tamper`` - a *silent* alarm, priority 2 (listed on the console, no sound or flashing);
  attaches or opens a ``tamper`` incident;
* ``door_open`` - a low-priority alarm (3); attaches to an open incident of the box if there
  is one, else stands alone (maintenance opens doors);
* ``sos_cancelled`` - the person cancelled at the box: the press's alarm is marked
  ``cancelled`` (the incident stays open, with a timeline entry); the press is named by
  ``payload["cancels"]`` (its event id) or else is the box's latest open SOS alarm;
* ``power_lost`` / ``power_restored`` - box state and power-cut folding (``alarms.power``);
* ``self_test`` and anything else - nothing here (the device link records box health).

Every alarm is correlated (``alarms.correlate``): the cameras that see the box and other
alarms within 200 m and 10 minutes. Its ``alarm.new`` push carries all of it, so the console
can open the cameras at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms import power
from safezone.alarms.camera_index import CameraIndex
from safezone.alarms.correlate import correlate, link_back
from safezone.alarms.effects import Effect, Push
from safezone.alarms.models import Alarm
from safezone.alarms.views import OPEN_STATUSES, BoxViewLike, alarm_view, alarm_views
from safezone.alerts.models import Alert
from safezone.db.base import table_of, utcnow
from safezone.incidents.service import (
    add_event,
    open_incident,
    recent_incident_of_box,
    record_timeline,
    set_priority,
    timeline_row,
)
from safezone.settings import Settings, get_settings
from safezone.sos.models import SosBox

log = logging.getLogger(__name__)


# event kind -> (alarm kind, priority, silent, may open an incident)
ALARM_KINDS: dict[str, tuple[str, int, bool, bool]] = {
    "sos_pressed": ("sos", 1, False, True),
    "tamper": ("tamper", 2, True, True),
    "door_open": ("door_open", 3, False, False),
}
ESCALATION_ALERT = "alarm_unacknowledged"
_INSERT_ALARM = insert(table_of(Alarm)).returning(table_of(Alarm).c.id)


# What raising an alarm needs of its box: a ``SosBox`` row or the link's snapshot of one.
AlarmBox = BoxViewLike


class EventLike(Protocol):
    """A stored box event: a ``BoxEvent`` row or the link's ``StoredEvent``."""

    @property
    def event_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def device_time(self) -> datetime | None: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def payload(self) -> dict[str, Any]: ...


async def on_box_event(
    session: AsyncSession,
    *,
    box: SosBox,
    event: EventLike,
    settings: Settings | None = None,
) -> list[Effect]:
    """Store what ``event`` means and return the effects to run after the commit.

    ``settings`` defaults to the process settings; the device link passes the app's.
    """
    settings = settings or get_settings()
    at = event.received_at or utcnow()
    if event.kind in ALARM_KINDS:
        return await raise_alarm(session, box=box, event=event, settings=settings)
    if event.kind == "sos_cancelled":
        return await _cancel(session, box=box, event=event, at=at)
    if event.kind == "power_lost":
        return await power.power_lost(session, box=box, at=at, settings=settings)
    if event.kind == "power_restored":
        return await power.power_restored(session, box=box, at=at, settings=settings)
    return []


async def raise_alarm(
    session: AsyncSession, *, box: AlarmBox, event: EventLike, settings: Settings,
    cameras: CameraIndex | None = None,
) -> list[Effect]:
    """The alarm for an event of one of the ``ALARM_KINDS`` (see the module docstring).

    The device link calls this directly with a snapshot of the box (its row, read with
    Core) and its in-memory camera index; everything else goes through ``on_box_event``.
    """
    at = event.received_at
    # Reads first, writes after, all as Core statements: the press path is CPU-bound on a
    # busy server, and the ORM's unit of work cost more than the SQL itself.
    kind, priority, silent, may_open = ALARM_KINDS[event.kind]
    since = at - timedelta(seconds=settings.alarm_attach_window_s)
    incident = await recent_incident_of_box(session, box_id=box.id, since=since)
    found = await correlate(
        session, lat=box.lat, lon=box.lon, at=at, settings=settings,
        exclude_incident=incident.id if incident is not None else None, index=cameras,
    )
    opened = incident is None and may_open
    if opened:
        incident = await open_incident(session, box=box, kind=kind, priority=priority, at=at)
    values: dict[str, Any] = {
        "event_id": event.event_id, "box_id": box.id, "kind": kind, "silent": silent,
        "priority": priority, "status": "new", "lat": box.lat, "lon": box.lon,
        "zone_id": box.zone_id, "incident_id": incident.id if incident is not None else None,
        "device_time": event.device_time, "raised_at": at, "escalations": 0,
        "related": found.related(),
    }
    conn = await session.connection()
    alarm_id = (await conn.execute(_INSERT_ALARM, values)).scalar_one()
    await link_back(session, alarm_id, found.nearby)
    if incident is not None:
        if not opened and priority < incident.priority:
            # A press after a door alarm makes the whole incident urgent.
            await set_priority(session, incident.id, priority)
        rows = [timeline_row(
            incident.id, "opened" if opened else "alarm_attached", at=at, alarm_id=alarm_id,
            alarm_kind=kind, event_id=event.event_id, box_id=box.id, box_code=box.code,
        )]
        if found.found:
            rows.append(timeline_row(incident.id, "correlated", at=at, alarm_id=alarm_id,
                                     **found.related()))
        await record_timeline(session, rows)
    # Not added to the session: only the view is built from it.
    alarm = Alarm(id=alarm_id, **values)
    return [Push("alarm.new", alarm_view(alarm, box, found.cameras))]


async def _press_to_cancel(
    session: AsyncSession, *, box: SosBox, event: EventLike, at: datetime
) -> Alarm | None:
    payload: dict[str, Any] = event.payload or {}
    cancels = payload.get("cancels")
    if isinstance(cancels, str) and cancels:
        alarm = await session.scalar(select(Alarm).where(Alarm.event_id == cancels))
        # Only the box's own press: a body naming another box's event is ignored.
        return alarm if alarm is not None and alarm.box_id == box.id else None
    found: Alarm | None = await session.scalar(
        select(Alarm)
        .where(
            Alarm.box_id == box.id,
            Alarm.kind == "sos",
            Alarm.status.in_(OPEN_STATUSES),
            Alarm.raised_at <= at,
        )
        .order_by(Alarm.raised_at.desc(), Alarm.id.desc())
        .limit(1)
    )
    return found


async def _cancel(
    session: AsyncSession, *, box: SosBox, event: EventLike, at: datetime
) -> list[Effect]:
    alarm = await _press_to_cancel(session, box=box, event=event, at=at)
    if alarm is None or alarm.status not in OPEN_STATUSES:
        log.info("box %s cancelled, but no open SOS alarm matches event %s", box.code,
                 event.event_id)
        return []
    alarm.status = "cancelled"
    alarm.cancelled_at = at
    await clear_escalation_alert(session, alarm_id=alarm.id, at=at)
    if alarm.incident_id is not None:
        add_event(
            session, alarm.incident_id, "alarm_cancelled", at=at, alarm_id=alarm.id,
            event_id=event.event_id, by="box",
            seconds_after_raise=round((at - alarm.raised_at).total_seconds(), 3),
        )
    await session.flush()
    (view,) = await alarm_views(session, [alarm])
    return [Push("alarm.cancelled", view)]


async def clear_escalation_alert(
    session: AsyncSession, *, alarm_id: int, at: datetime, by: int | None = None
) -> None:
    """Clear the supervisors' "unanswered alarm" alert once the alarm is no longer new."""
    rows = await session.scalars(
        select(Alert).where(
            Alert.kind == ESCALATION_ALERT,
            Alert.entity_type == "alarm",
            Alert.entity_id == str(alarm_id),
            Alert.cleared_at.is_(None),
        )
    )
    for alert in rows:
        alert.cleared_at = at
        if by is not None:
            alert.acknowledged_by, alert.acknowledged_at = by, at


def seconds_between(start: datetime, end: datetime) -> float:
    """Seconds from ``start`` to ``end`` (rounded to the millisecond)."""
    return round((end - start) / timedelta(seconds=1), 3)
