"""``/api/v1/alarms``: list, read, acknowledge, resolve, and the acknowledgement figures.

Changes commit first and then push to the consoles and command the box (``run_effects``).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from safezone.alarms import service, stats
from safezone.alarms.effects import LIVE_ROLES, RESPONDERS, run_effects_on
from safezone.alarms.schemas import AckStatsOut, AlarmOut, ResolveIn
from safezone.auth.access import Access
from safezone.auth.service import Principal
from safezone.db.base import utcnow
from safezone.deps import DatabaseDep, ReadSession
from safezone.problems import Problem
from safezone.schemas import ListOut, PageDep

router = APIRouter(prefix="/alarms", tags=["alarms"])
Reader = Annotated[Principal, Depends(Access(LIVE_ROLES))]
Responder = Annotated[Principal, Depends(Access(RESPONDERS))]


@router.get("", response_model=ListOut[AlarmOut], summary="Alarms (open ones first by default)")
async def list_alarms(
    session: ReadSession,
    _: Reader,
    page: PageDep,
    state: Annotated[
        Literal["open", "all", "new", "acknowledged", "resolved", "cancelled"],
        Query(description="open = new or acknowledged."),
    ] = "open",
    kind: Annotated[str | None, Query(max_length=30)] = None,
    box_id: int | None = None,
    incident_id: int | None = None,
    since: Annotated[datetime | None, Query(description="Raised at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Raised before (ISO 8601).")] = None,
) -> dict[str, Any]:
    """Open alarms come most urgent first; other states newest first."""
    for value in (since, until):
        if value is not None and value.tzinfo is None:
            raise Problem(422, "naive_datetime")
    data, count = await service.list_alarms(
        session, state=state, kind=kind, box_id=box_id, incident_id=incident_id,
        since=since, until=until, limit=page.limit, offset=page.offset,
    )
    return {"data": data, "count": count, "limit": page.limit, "offset": page.offset}


@router.get("/stats", response_model=AckStatsOut, summary="How fast alarms are acknowledged")
async def alarm_stats(
    session: ReadSession,
    _: Responder,
    start: Annotated[
        datetime | None, Query(alias="from", description="Raised at or after; default 30 days ago.")
    ] = None,
    end: Annotated[
        datetime | None, Query(alias="to", description="Raised before; default now.")
    ] = None,
    kind: Annotated[str, Query(max_length=30)] = "sos",
) -> dict[str, Any]:
    """Shares acknowledged within 10 / 15 / 20 s, median and p90 time to acknowledge."""
    end = end or utcnow()
    start = start or end - timedelta(days=30)
    if start.tzinfo is None or end.tzinfo is None:
        raise Problem(422, "naive_datetime")
    if start >= end:
        raise Problem(422, "bad_period")
    return asdict(await stats.ack_stats(session, start=start, end=end, kind=kind))


@router.get("/{alarm_id}", response_model=AlarmOut, summary="One alarm")
async def get_alarm(alarm_id: int, session: ReadSession, _: Reader) -> dict[str, Any]:
    """The alarm with its box and cameras."""
    return await service.alarm_detail(session, alarm_id)


@router.post(
    "/{alarm_id}/acknowledge", response_model=AlarmOut, summary="Take the alarm (help is coming)"
)
async def acknowledge(
    alarm_id: int, request: Request, db: DatabaseDep, who: Responder
) -> dict[str, Any]:
    """Record who took it and when; the box is told that help is coming."""
    async with db.write() as session:
        view, effects = await service.acknowledge(session, alarm_id=alarm_id, who=who)
    await run_effects_on(request.app.state, effects)
    return view


@router.post("/{alarm_id}/resolve", response_model=AlarmOut, summary="Close the alarm")
async def resolve(
    alarm_id: int, request: Request, db: DatabaseDep, who: Responder,
    body: ResolveIn | None = None,
) -> dict[str, Any]:
    """The alarm needs nothing more (its incident stays open until closed)."""
    async with db.write() as session:
        view, effects = await service.resolve(
            session, alarm_id=alarm_id, who=who, note=body.note if body else None
        )
    await run_effects_on(request.app.state, effects)
    return view
