"""``WS /api/v1/live``: the console's stream of alarms and alerts.

Protocol (server → console, JSON text frames, each ``{"id", "type", "time", "payload"}``):

* ``hello`` first, with the current open alarms (``payload.alarms``, most urgent first) and
  open alerts (``payload.alerts``), so a console that connects or reconnects misses nothing:
  it subscribes *before* reading the snapshot, so a message published meanwhile is sent after
  the snapshot (the console treats messages about an alarm it has as updates);
* then ``alarm.new`` / ``alarm.acknowledged`` / ``alarm.escalated`` / ``alarm.cancelled`` /
  ``alarm.resolved`` (payload: the alarm, as ``GET /api/v1/alarms/{id}``), ``alert.new`` /
  ``alert.updated`` / ``alert.cleared``, ``incident.note`` / ``incident.closed``, and, for
  supervisors and admins only, ``supervisor.notify``.

Console → server: ``{"type": "ping"}`` is answered with ``pong``; anything else with an
``error`` message. Authentication is the session cookie (Origin checked) or a bearer token;
staff roles only (``WebSocketAccess``). A console too slow to take its messages (its outbox
over ``OUTBOX_LIMIT``) is closed with 1013 and resynchronises from ``hello`` on reconnect,
so it never holds the others back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect
from sqlalchemy import select

from safezone.alarms.effects import LIVE_ROLES
from safezone.alarms.power import alert_view
from safezone.alarms.views import open_alarms
from safezone.alerts.models import Alert
from safezone.auth.service import Principal
from safezone.auth.ws_access import WebSocketAccess
from safezone.db.engine import Database
from safezone.live.hub import LiveHub, LiveMessage, make_message

log = logging.getLogger(__name__)
router = APIRouter(tags=["live"])
Console = Annotated[Principal, Depends(WebSocketAccess(LIVE_ROLES))]
OUTBOX_LIMIT = 2000
CLOSE_TRY_AGAIN = 1013
MAX_ALERTS = 200


class Outbox:
    """One console's pending messages: appended by the hub, drained by the sender."""

    def __init__(self, limit: int = OUTBOX_LIMIT) -> None:
        self.limit = limit
        self.pending: deque[LiveMessage] = deque()
        self.ready = asyncio.Event()
        self.overflowed = False

    def put(self, message: LiveMessage) -> None:
        if len(self.pending) >= self.limit:
            self.overflowed = True
        else:
            self.pending.append(message)
        self.ready.set()


async def snapshot(db: Database, who: Principal) -> LiveMessage:
    """The ``hello`` message: who is connected, and what is open now."""
    async with db.session() as session:
        alarms = await open_alarms(session)
        alerts = await session.scalars(
            select(Alert)
            .where(Alert.cleared_at.is_(None))
            .order_by(Alert.raised_at.desc(), Alert.id.desc())
            .limit(MAX_ALERTS)
        )
        alert_views = [alert_view(a) for a in alerts]
    return make_message(
        "hello",
        {
            "user": {"id": who.user_id, "name": who.display_name, "role": who.role.value},
            "alarms": alarms,
            "alerts": alert_views,
        },
    )


async def _send_loop(websocket: WebSocket, outbox: Outbox) -> str:
    while True:
        await outbox.ready.wait()
        outbox.ready.clear()
        if outbox.overflowed:
            await websocket.close(CLOSE_TRY_AGAIN, "lagging")
            return "lagging"
        while outbox.pending:
            await websocket.send_text(outbox.pending.popleft().text)


async def _receive_loop(websocket: WebSocket, outbox: Outbox) -> str:
    while True:
        raw = await websocket.receive_text()
        try:
            message: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            outbox.put(make_message("pong", {"echo": message.get("echo")}))
        else:
            outbox.put(make_message("error", {"code": "unknown_message", "type": kind}))


@router.websocket("/live", name="console_live")
async def console_live(websocket: WebSocket, who: Console) -> None:
    """The console's live stream (see the module docstring for the protocol)."""
    hub: LiveHub = websocket.app.state.live_hub
    db: Database = websocket.app.state.db
    outbox = Outbox()
    # Subscribe before the snapshot: whatever happens in between is queued, not lost.
    unsubscribe = hub.subscribe(outbox.put, role=who.role)
    tasks: list[asyncio.Task[str]] = []
    try:
        await websocket.send_text((await snapshot(db, who)).text)
        tasks = [
            asyncio.create_task(_send_loop(websocket, outbox)),
            asyncio.create_task(_receive_loop(websocket, outbox)),
        ]
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and (exc := task.exception()) is not None and not isinstance(
                exc, WebSocketDisconnect | RuntimeError
            ):
                log.warning("console stream for %s ended: %r", who.username, exc)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the console went away mid-send
    finally:
        unsubscribe()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
