"""Call records: who called which box for which alarm, when it connected, how it ended.

A call's life in the database: requested (``requested_at``) → connected (``connected_at``,
timeline ``call_started``) → ended (``ended_at``, ``duration_s`` from connected to ended,
``end_reason``, timeline ``call_ended``). Every step is audited. One call per box may be in
progress: a partial unique index on ``calls(box_id) WHERE ended_at IS NULL`` makes this hold
across app processes. ``alive_at`` is refreshed by the process that carries the call; a call
whose process stopped refreshing it is ended as ``lost``, so a crash never leaves a box
unreachable.

Functions run inside the caller's write transaction (``db.write()``), take the session
keyword-only, and never push or send anything themselves (see ``safezone.calls.signalling``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.models import Alarm
from safezone.audit.service import Actor, record
from safezone.auth.models import User
from safezone.incidents.models import Call
from safezone.incidents.service import add_event
from safezone.problems import Problem
from safezone.sos.models import SosBox

ACTIVE = Call.ended_at.is_(None)


def call_state(call: Call) -> str:
    """requested | connected | ended."""
    if call.ended_at is not None:
        return "ended"
    return "connected" if call.connected_at is not None else "requested"


async def call_views(session: AsyncSession, calls: list[Call]) -> list[dict[str, Any]]:
    """The calls as the API shows them (with the box code and the operator's name)."""
    box_ids = {c.box_id for c in calls if c.box_id is not None}
    user_ids = {c.operator_id for c in calls if c.operator_id is not None}
    codes: dict[int, str] = {}
    names: dict[int, str] = {}
    if box_ids:
        rows = await session.execute(select(SosBox.id, SosBox.code).where(SosBox.id.in_(box_ids)))
        codes = {box_id: code for box_id, code in rows}
    if user_ids:
        rows = await session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))
        names = {user_id: name for user_id, name in rows}
    return [
        {
            "id": c.id,
            "state": call_state(c),
            "alarm_id": c.alarm_id,
            "incident_id": c.incident_id,
            "box_id": c.box_id,
            "box_code": codes.get(c.box_id) if c.box_id is not None else None,
            "operator_id": c.operator_id,
            "operator": names.get(c.operator_id) if c.operator_id is not None else None,
            "requested_at": c.requested_at,
            "connected_at": c.connected_at,
            "ended_at": c.ended_at,
            "duration_s": c.duration_s,
            "end_reason": c.end_reason,
        }
        for c in calls
    ]


async def call_view(session: AsyncSession, call: Call) -> dict[str, Any]:
    (view,) = await call_views(session, [call])
    return view


async def get_call(session: AsyncSession, call_id: str, *, lock: bool = False) -> Call:
    """The call, or a 404 problem (``lock``: hold its row until the transaction ends)."""
    query = select(Call).where(Call.id == call_id).execution_options(populate_existing=True)
    call = await session.scalar(query.with_for_update() if lock else query)
    if call is None:
        raise Problem(404, "call_not_found", id=call_id)
    return call


async def list_calls(
    session: AsyncSession,
    *,
    state: str = "all",
    alarm_id: int | None = None,
    incident_id: int | None = None,
    box_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Calls, newest first, and how many match."""
    query = select(Call)
    if state == "active":
        query = query.where(ACTIVE)
    elif state == "ended":
        query = query.where(Call.ended_at.is_not(None))
    for column, value in ((Call.alarm_id, alarm_id), (Call.incident_id, incident_id),
                          (Call.box_id, box_id)):
        if value is not None:
            query = query.where(column == value)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(Call.requested_at.desc(), Call.id).limit(limit).offset(offset))
    return await call_views(session, list(rows)), int(total)


async def create_call(
    session: AsyncSession, *, call_id: str, alarm_id: int, actor: Actor, now: datetime,
    stale_before: datetime,
) -> tuple[Call, SosBox, list[Call]]:
    """A new requested call to the alarm's box; also returns the box's stale calls it ended.

    Raises problems: the alarm is unknown (404), it has no box, the box is disabled or offline
    (409), or the box is in another call (409 ``call_box_busy``). The caller must also treat an
    ``IntegrityError`` at commit as ``call_box_busy`` (another process won the race).
    """
    alarm = await session.get(Alarm, alarm_id)
    if alarm is None:
        raise Problem(404, "alarm_not_found", id=alarm_id)
    box = await session.get(SosBox, alarm.box_id) if alarm.box_id is not None else None
    if box is None:
        raise Problem(409, "call_no_box", id=alarm_id)
    if not box.enabled:
        raise Problem(409, "call_box_disabled", box=box.code)
    if box.status == "offline":
        # Its last will or its silence says it is gone: say so now, not after the answer timeout.
        raise Problem(409, "call_box_offline", box=box.code)
    lost = await end_stale_calls(session, before=stale_before, now=now, box_id=box.id)
    busy = await session.scalar(select(Call).where(Call.box_id == box.id, ACTIVE))
    if busy is not None:
        view = await call_view(session, busy)
        raise Problem(409, "call_box_busy", box=box.code, operator=view["operator"] or "?")
    call = Call(id=call_id, incident_id=alarm.incident_id, alarm_id=alarm.id, box_id=box.id,
                operator_id=actor.id, requested_at=now, alive_at=now)
    session.add(call)
    await session.flush()
    await record(session, actor=actor, action="call.request", entity_type="call",
                 entity_id=call.id, details={"alarm_id": alarm.id, "box": box.code})
    return call, box, lost


async def mark_connected(
    session: AsyncSession, *, call_id: str, actor: Actor, now: datetime
) -> Call | None:
    """Record that media flows; None when the call has ended (or connected) already."""
    call = await get_call(session, call_id, lock=True)
    if call.ended_at is not None or call.connected_at is not None:
        return None
    call.connected_at = now
    call.alive_at = now
    if call.incident_id is not None:
        add_event(session, call.incident_id, "call_started", actor=actor, at=now,
                  call_id=call.id, alarm_id=call.alarm_id,
                  seconds_to_connect=round((now - call.requested_at).total_seconds(), 3))
    await record(session, actor=actor, action="call.connect", entity_type="call",
                 entity_id=call.id, details={"alarm_id": call.alarm_id})
    await session.flush()
    return call


async def end_call(
    session: AsyncSession, *, call_id: str, reason: str, actor: Actor, now: datetime
) -> Call | None:
    """End the call: duration, reason, timeline, audit. None if it had ended already."""
    call = await get_call(session, call_id, lock=True)
    if call.ended_at is not None:
        return None
    _finish(session, call, reason=reason, actor=actor, now=now)
    await record(session, actor=actor, action="call.end", entity_type="call",
                 entity_id=call.id, details={"reason": call.end_reason,
                                             "duration_s": call.duration_s})
    await session.flush()
    return call


def _finish(session: AsyncSession, call: Call, *, reason: str, actor: Actor,
            now: datetime) -> None:
    call.ended_at = now
    call.end_reason = reason[:100]
    if call.connected_at is not None:
        call.duration_s = round(max(0.0, (now - call.connected_at).total_seconds()), 3)
    if call.incident_id is not None:
        add_event(session, call.incident_id, "call_ended", actor=actor, at=now,
                  call_id=call.id, alarm_id=call.alarm_id, reason=call.end_reason,
                  duration_s=call.duration_s, connected=call.connected_at is not None)


async def end_stale_calls(
    session: AsyncSession, *, before: datetime, now: datetime, box_id: int | None = None
) -> list[Call]:
    """End calls whose carrying process has not refreshed them since ``before`` (``lost``)."""
    query = select(Call).where(ACTIVE, func.coalesce(Call.alive_at, Call.requested_at) < before)
    if box_id is not None:
        query = query.where(Call.box_id == box_id)
    calls = list(await session.scalars(query.with_for_update()))
    system = Actor(None, "system")
    for call in calls:
        # Its last sign of life is the best estimate of when it ended.
        last = max(call.alive_at or call.requested_at, call.connected_at or call.requested_at)
        _finish(session, call, reason="lost", actor=system, now=min(now, last))
        await record(session, actor=system, action="call.end", entity_type="call",
                     entity_id=call.id, details={"reason": "lost",
                                                 "duration_s": call.duration_s})
    await session.flush()
    return calls


async def touch_calls(session: AsyncSession, *, call_ids: list[str], now: datetime) -> None:
    """Mark calls as still carried by this process."""
    if not call_ids:
        return
    for call in await session.scalars(select(Call).where(Call.id.in_(call_ids), ACTIVE)):
        call.alive_at = now
    await session.flush()
