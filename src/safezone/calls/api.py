"""Call routes: start a call from an alarm, read call records, hang up, and the signalling socket.

``WS /api/v1/calls/{call_id}/signal`` (JSON text frames; the console that requested the call):

* server → console: ``ready`` {call_id, ice_servers, answer_timeout_s} first; then ``answer``
  {sdp}, ``ice`` {candidate}, ``connected`` {call}, ``ended`` {reason, duration_s, call} (the
  socket then closes with 1000), ``error`` {code, reason, title, detail} for a message the call
  could not take (the call goes on), ``pong``;
* console → server: ``offer`` {sdp}, ``ice`` {candidate | null}, ``connected``, ``hangup``,
  ``ping``.

Refusals close the socket: 4401/4403 (``WebSocketAccess``: not signed in, wrong role or site),
4403 ``call_not_yours``, 4404 ``call_not_found``, 4409 ``call_ended`` / ``call_taken``.
Closing the socket during a call hangs up (``operator_left``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect

from safezone.alarms.effects import RESPONDERS, SUPERVISORS
from safezone.auth.access import Access
from safezone.auth.service import Principal
from safezone.auth.ws_access import WebSocketAccess
from safezone.calls import service
from safezone.calls.schemas import CallEndIn, CallOut, CallStartOut
from safezone.calls.sdp import BadSignal
from safezone.calls.signalling import CallRefused, CallService, CallSession
from safezone.deps import DatabaseDep, ReadSession
from safezone.i18n import translate
from safezone.problems import Problem, request_language
from safezone.schemas import ListOut, PageDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["calls"])
Responder = Annotated[Principal, Depends(Access(RESPONDERS))]
Caller = Annotated[Principal, Depends(WebSocketAccess(RESPONDERS))]


def _calls(state: Any) -> CallService:
    calls: CallService | None = getattr(state, "calls", None)
    if calls is None:
        raise Problem(503, "call_link_down")
    return calls


def _encode(message: dict[str, Any]) -> str:
    return orjson.dumps(message, option=orjson.OPT_UTC_Z).decode()


@router.post("/alarms/{alarm_id}/call", status_code=201, response_model=CallStartOut,
             summary="Call the alarm's box (two-way audio, box video)")
async def start_call(alarm_id: int, request: Request, who: Responder) -> dict[str, Any]:
    """Create the call; the console then opens ``signal_url`` and sends its offer."""
    calls = _calls(request.app.state)
    view = await calls.request(alarm_id=alarm_id, who=who)
    settings = calls.settings
    return {
        "call": view,
        "signal_url": f"/api/v1/calls/{view['id']}/signal",
        "ice_servers": calls.ice_servers(f"op{who.user_id}"),
        "answer_timeout_s": settings.call_answer_timeout_s,
        "setup_timeout_s": settings.call_setup_timeout_s,
    }


@router.get("/calls", response_model=ListOut[CallOut], summary="Call records")
async def list_calls(
    session: ReadSession,
    _: Responder,
    page: PageDep,
    state: Annotated[Literal["all", "active", "ended"], Query()] = "all",
    alarm_id: int | None = None,
    incident_id: int | None = None,
    box_id: int | None = None,
) -> dict[str, Any]:
    """Newest first."""
    data, count = await service.list_calls(
        session, state=state, alarm_id=alarm_id, incident_id=incident_id, box_id=box_id,
        limit=page.limit, offset=page.offset)
    return {"data": data, "count": count, "limit": page.limit, "offset": page.offset}


@router.get("/calls/{call_id}", response_model=CallOut, summary="One call record")
async def get_call(call_id: str, session: ReadSession, _: Responder) -> dict[str, Any]:
    """The call: state, times, duration and how it ended."""
    return await service.call_view(session, await service.get_call(session, call_id))


@router.post("/calls/{call_id}/end", response_model=CallOut, summary="Hang up")
async def end_call(
    call_id: str, request: Request, db: DatabaseDep, who: Responder,
    body: CallEndIn | None = None,
) -> dict[str, Any]:
    """End the call (its operator, or a supervisor or admin); ending an ended call is a no-op.

    The console uses this when its page goes away; the box is told to hang up.
    """
    async with db.session() as session:
        call = await service.get_call(session, call_id)
    if call.operator_id != who.user_id and who.role not in SUPERVISORS:
        raise Problem(403, "call_not_yours")
    reason = (body.reason if body and body.reason else None) or "operator_hangup"
    view = await _calls(request.app.state).end(call_id, reason, actor=who.actor, tell_box=True)
    if view is None:
        raise Problem(404, "call_not_found", id=call_id)
    return view


async def _send_loop(websocket: WebSocket, session: CallSession) -> None:
    while True:
        message = await session.outbox.get()
        await websocket.send_text(_encode(message))
        if message["type"] == "ended":
            await websocket.close(1000, "ended")
            return


async def _receive_loop(
    websocket: WebSocket, calls: CallService, session: CallSession, lang: str
) -> None:
    while True:
        raw = await websocket.receive_text()
        try:
            message: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            message = None
        try:
            if not isinstance(message, dict):
                raise BadSignal("call_unknown_message", "not_json")
            await calls.on_console(session, message)
        except BadSignal as exc:
            session.outbox.put_nowait({
                "type": "error", "code": exc.code, "reason": exc.reason,
                "title": translate(f"problem.{exc.code}.title", lang),
                "detail": translate(f"problem.{exc.code}", lang, reason=exc.reason),
            })


@router.websocket("/calls/{call_id}/signal", name="call_signal")
async def call_signal(websocket: WebSocket, call_id: str, who: Caller) -> None:
    """The call's signalling between the console and the box (see the module docstring)."""
    calls: CallService = websocket.app.state.calls
    lang = request_language(Request({**websocket.scope, "type": "http"}))
    try:
        session = await calls.attach(call_id, who)
    except CallRefused as exc:
        await websocket.close(exc.close_code, exc.code)
        return
    tasks: list[asyncio.Task[None]] = []
    try:
        await websocket.send_text(_encode({
            "type": "ready", "call_id": call_id, "box_code": session.box_code,
            "ice_servers": calls.ice_servers(f"op{who.user_id}"),
            "answer_timeout_s": calls.settings.call_answer_timeout_s,
        }))
        tasks = [asyncio.create_task(_send_loop(websocket, session)),
                 asyncio.create_task(_receive_loop(websocket, calls, session, lang))]
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect | RuntimeError):
                log.warning("call %s signalling ended: %r", call_id, error)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the console went away mid-send
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not session.ended:
            await calls.end(call_id, "operator_left", actor=who.actor, tell_box=True)
