"""Escalation of unanswered alarms, driven from the database.

An alarm that nobody has acknowledged ``alarm_ack_timeout_s`` after it was raised (or after
its last escalation) is escalated: every console is alerted again (``alarm.escalated``), the
supervisors get a push of their own (``supervisor.notify``) and an ``alarm_unacknowledged``
alert row (kept for the record and for the supervisor's alert list), and the incident timeline
notes it. It repeats every timeout until someone acknowledges, up to
``alarm_escalation_max`` times. Only alarms that make a sound are escalated (not silent
tamper alarms, not low-priority door alarms).

Everything it needs is in the ``alarms`` table (status, ``raised_at``, ``escalated_at``,
``escalations``), so an alarm left unanswered across a restart is escalated on schedule by
the next process. Each escalation is a conditional update on the escalation count, so two
processes (or a slow previous tick) can never escalate the same alarm twice for one timeout.

Real outside channels (SMS, LINE, phone) are out of scope: supervisors are reached on their
consoles and in the alert list.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.effects import SUPERVISORS, Effect, Push, run_effects_on
from safezone.alarms.models import Alarm
from safezone.alarms.pipeline import ESCALATION_ALERT, seconds_between
from safezone.alarms.views import alarm_views
from safezone.alerts.models import Alert
from safezone.db.base import UTCDateTime, utcnow
from safezone.db.engine import Database
from safezone.incidents.service import add_event
from safezone.settings import Settings

log = logging.getLogger(__name__)
# Priority 1 (SOS) and 2 are escalated; silent alarms never are.
ESCALATE_MAX_PRIORITY = 2
# The loop wakes at least this often to notice alarms raised since it last looked.
POLL_S = 1.0


def _candidates(settings: Settings) -> Any:
    return select(Alarm).where(
        Alarm.status == "new",
        Alarm.silent.is_(False),
        Alarm.priority <= ESCALATE_MAX_PRIORITY,
        Alarm.escalations < settings.alarm_escalation_max,
    )


def due_at(alarm: Alarm, settings: Settings) -> datetime:
    """When the alarm is next escalated if nobody acknowledges it."""
    last = alarm.escalated_at or alarm.raised_at
    return last + timedelta(seconds=settings.alarm_ack_timeout_s)


async def next_due(session: AsyncSession, *, settings: Settings) -> datetime | None:
    """The earliest time any open alarm falls due (None: nothing waits).

    One aggregate row, however many alarms are open: this runs every second in the server's
    event loop, next to the device link.
    """
    last = func.min(func.coalesce(Alarm.escalated_at, Alarm.raised_at), type_=UTCDateTime())
    earliest: datetime | None = await session.scalar(
        _candidates(settings).with_only_columns(last)
    )
    if earliest is None:
        return None
    return earliest + timedelta(seconds=settings.alarm_ack_timeout_s)


async def escalate_due(
    session: AsyncSession, *, now: datetime, settings: Settings
) -> list[Effect]:
    """Escalate every alarm due at ``now``; returns the effects to run after the commit."""
    effects: list[Effect] = []
    for alarm in list(await session.scalars(_candidates(settings).order_by(Alarm.raised_at))):
        if due_at(alarm, settings) > now:
            continue
        count = alarm.escalations + 1
        result = await session.execute(
            update(Alarm)
            .where(
                Alarm.id == alarm.id,
                Alarm.status == "new",
                Alarm.escalations == alarm.escalations,
            )
            .values(escalations=count, escalated_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            continue  # acknowledged or escalated by someone else meanwhile
        await session.refresh(alarm)
        waited = seconds_between(alarm.raised_at, now)
        alert = await _supervisor_alert(session, alarm, count=count, waited=waited, now=now)
        if alarm.incident_id is not None:
            add_event(
                session, alarm.incident_id, "escalated", at=now, alarm_id=alarm.id,
                escalation=count, seconds_unanswered=waited,
            )
        await session.flush()
        (view,) = await alarm_views(session, [alarm])
        effects.append(Push("alarm.escalated", view))
        effects.append(
            Push(
                "supervisor.notify",
                {"reason": "alarm_unacknowledged", "alarm": view, "alert_id": alert.id,
                 "escalation": count, "seconds_unanswered": waited},
                roles=SUPERVISORS,
            )
        )
    return effects


async def _supervisor_alert(
    session: AsyncSession, alarm: Alarm, *, count: int, waited: float, now: datetime
) -> Alert:
    alert = await session.scalar(
        select(Alert).where(
            Alert.kind == ESCALATION_ALERT,
            Alert.entity_type == "alarm",
            Alert.entity_id == str(alarm.id),
            Alert.cleared_at.is_(None),
        )
    )
    if alert is None:
        alert = Alert(
            kind=ESCALATION_ALERT, severity="critical", entity_type="alarm",
            entity_id=str(alarm.id), raised_at=now, message_th="", message_en="", details={},
        )
        session.add(alert)
    alert.message_th = f"เหตุ {alarm.kind.upper()} #{alarm.id} ยังไม่มีผู้รับเรื่อง ({waited:.0f} วินาที)"
    alert.message_en = f"{alarm.kind.upper()} alarm #{alarm.id} unanswered for {waited:.0f} s"
    alert.details = {
        "alarm_id": alarm.id, "box_id": alarm.box_id, "incident_id": alarm.incident_id,
        "escalations": count, "seconds_unanswered": waited,
    }
    await session.flush()
    return alert


class EscalationService:
    """The background loop: escalate what is due, then sleep until the next alarm is due."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        state: Any,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.state = state
        self.clock = clock
        self.escalated = 0

    async def tick(self) -> float:
        """One pass; returns how long to sleep before the next."""
        now = self.clock()
        async with self.db.session() as session:
            due = await next_due(session, settings=self.settings)
        if due is not None and due <= now:
            # Write only when something is due: a write transaction every second would take
            # SQLite's write lock from the device link for nothing.
            async with self.db.write() as session:
                effects = await escalate_due(session, now=now, settings=self.settings)
            self.escalated += sum(1 for e in effects if isinstance(e, Push)
                                  and e.type == "alarm.escalated")
            await run_effects_on(self.state, effects)
            async with self.db.session() as session:
                due = await next_due(session, settings=self.settings)
        if due is None:
            return POLL_S
        return min(POLL_S, max(0.01, (due - self.clock()).total_seconds()))

    async def run(self) -> None:
        """Run until cancelled; a failing pass is logged and retried."""
        while True:
            try:
                pause = await self.tick()
            except Exception:  # noqa: BLE001 - escalation must outlive a database hiccup
                log.exception("alarm escalation pass failed; retrying")
                pause = POLL_S
            await asyncio.sleep(pause)
