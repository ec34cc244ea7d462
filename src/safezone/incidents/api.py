"""``/api/v1/incidents``: list, one with its timeline and alarms, notes, close."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from safezone.alarms.effects import LIVE_ROLES, RESPONDERS, Effect, Push, run_effects_on
from safezone.alarms.schemas import CloseIn, IncidentDetail, IncidentOut, NoteIn, TimelineEntry
from safezone.alarms.service import list_alarms
from safezone.alarms.views import alarm_views
from safezone.audit.service import record
from safezone.auth.access import Access
from safezone.auth.service import Principal
from safezone.deps import DatabaseDep, ReadSession
from safezone.incidents import service
from safezone.schemas import ListOut, PageDep

router = APIRouter(prefix="/incidents", tags=["incidents"])
Reader = Annotated[Principal, Depends(Access(LIVE_ROLES))]
Responder = Annotated[Principal, Depends(Access(RESPONDERS))]


def _incident(incident: Any) -> dict[str, Any]:
    return IncidentOut.model_validate(incident).model_dump()


@router.get("", response_model=ListOut[IncidentOut], summary="Incidents")
async def list_incidents(
    session: ReadSession,
    _: Reader,
    page: PageDep,
    state: Annotated[Literal["open", "closed", "all"], Query()] = "open",
    kind: Annotated[str | None, Query(max_length=30)] = None,
) -> dict[str, Any]:
    """Open incidents by default, most urgent and newest first."""
    rows, count = await service.list_incidents(
        session, state=state, kind=kind, limit=page.limit, offset=page.offset
    )
    return {"data": [_incident(r) for r in rows], "count": count, "limit": page.limit,
            "offset": page.offset}


async def _detail(session: Any, incident_id: int) -> dict[str, Any]:
    incident = await service.get_incident(session, incident_id)
    events = await service.timeline(session, incident_id)
    alarms, _count = await list_alarms(session, state="all", incident_id=incident_id, limit=1000)
    return {
        **_incident(incident),
        "timeline": [TimelineEntry.model_validate(e).model_dump() for e in events],
        "alarms": alarms,
    }


@router.get("/{incident_id}", response_model=IncidentDetail, summary="One incident, with timeline")
async def get_incident(incident_id: int, session: ReadSession, _: Reader) -> dict[str, Any]:
    """The incident, its timeline in order, and its alarms."""
    return await _detail(session, incident_id)


@router.post(
    "/{incident_id}/notes", response_model=TimelineEntry, status_code=201,
    summary="Add a note to the timeline",
)
async def add_note(
    incident_id: int, body: NoteIn, request: Request, db: DatabaseDep, who: Reader
) -> dict[str, Any]:
    """A note from a person (officers in the field included)."""
    async with db.write() as session:
        event = await service.add_note(
            session, incident_id=incident_id, text=body.text, actor=who.actor
        )
        await record(
            session, actor=who.actor, action="incident.note", entity_type="incident",
            entity_id=incident_id, details={"event_id": event.id},
        )
        entry = TimelineEntry.model_validate(event).model_dump()
    await run_effects_on(
        request.app.state, [Push("incident.note", {"incident_id": incident_id, "entry": entry})]
    )
    return entry


@router.post("/{incident_id}/close", response_model=IncidentDetail, summary="Close the incident")
async def close_incident(
    incident_id: int, request: Request, db: DatabaseDep, who: Responder,
    body: CloseIn | None = None,
) -> dict[str, Any]:
    """Closes it; its alarms still open are resolved with it."""
    async with db.write() as session:
        incident, alarms = await service.close_incident(
            session, incident_id=incident_id, actor=who.actor, note=body.note if body else None
        )
        await record(
            session, actor=who.actor, action="incident.close", entity_type="incident",
            entity_id=incident.id, details={"resolved_alarms": [a.id for a in alarms]},
        )
        effects: list[Effect] = [
            Push("alarm.resolved", view) for view in await alarm_views(session, alarms)
        ]
        effects.append(Push("incident.closed", _incident(incident)))
        detail = await _detail(session, incident_id)
    await run_effects_on(request.app.state, effects)
    return detail
