"""The server in the middle of a call: console WebSocket ⇄ this service ⇄ MQTT ⇄ the box.

1. The operator presses Answer: ``POST /api/v1/alarms/{id}/call`` creates the call record
   (:meth:`CallService.request`) and returns its id and the STUN/TURN servers.
2. The console opens ``WS /api/v1/calls/{id}/signal`` (:meth:`CallService.attach`; any app
   process will do, the call lives in the database) and sends its ``offer``; the service checks
   it and sends ``call_offer`` (with the ICE servers) to the box's ``cmd`` topic.
3. The box's ``call_answer`` comes back through the device link (``BoxLink.on_call_signal``) and
   goes to that console; trickled ``ice`` candidates are passed on both ways.
4. The console reports ``connected`` (recorded: timeline ``call_started``), and later ``hangup``;
   the box may hang up too (``call_end``). Either way the call is recorded as ended (timeline
   ``call_ended`` with its length), the other side is told, and the consoles hear ``call.ended``.

Time limits: the box must answer within ``call_answer_timeout_s`` of the offer; the call must
connect within ``call_setup_timeout_s`` of the request; it ends after ``call_max_duration_s``.
A console whose socket closes ends its call (``operator_left``). Signals that do not belong
(an unknown call, a box answering for another box's call, an answer nobody asked for) are
counted in :attr:`CallService.stats` and logged, and change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from safezone.alarms.effects import RESPONDERS
from safezone.audit.service import SYSTEM, Actor
from safezone.auth.service import Principal
from safezone.calls import service, turn
from safezone.calls.sdp import BadSignal, check_candidate, check_sdp
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.incidents.models import Call
from safezone.problems import Problem
from safezone.settings import Settings
from safezone.sos.models import SosBox
from safezone.sos.protocol import CallSignal

log = logging.getLogger(__name__)
KEEPALIVE_S = 10.0
STALE_S = 45.0  # several missed keepalives: the carrying process is gone
CONSOLE_REASONS = frozenset({"operator_hangup", "connection_failed"})


class CallRefused(Exception):
    """A console may not attach to this call: WebSocket close code and reason."""

    def __init__(self, close_code: int, code: str) -> None:
        super().__init__(code)
        self.close_code = close_code
        self.code = code


@dataclass(eq=False)
class CallSession:
    """One call carried by this process: the console's outbox, the state, the timers."""

    call_id: str
    box_code: str
    operator: Actor
    outbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    # attached → offered → answered → connected
    state: str = "attached"
    timers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    ended: bool = False


class CallService:
    """Carries calls for this app process (``app.state.calls``)."""

    def __init__(self, *, db: Database, settings: Settings, state: Any = None) -> None:
        self.db = db
        self.settings = settings
        self.state = state
        self.sessions: dict[str, CallSession] = {}
        self.stats: Counter[str] = Counter()
        self._unsubscribe: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen for the boxes' call signals; keep our calls alive, end others' stale ones."""
        link = self._link()
        if link is not None:
            self._unsubscribe = link.on_call_signal(self.on_box_signal)
        self._task = asyncio.create_task(self._keepalive(), name="calls-keepalive")

    async def stop(self) -> None:
        """Hang up the calls this process carries (the boxes are told) and stop listening."""
        for call_id in list(self.sessions):
            with contextlib.suppress(Exception):
                await self.end(call_id, "server_stopping", actor=SYSTEM, tell_box=True)
        if self._unsubscribe is not None:
            with contextlib.suppress(ValueError):
                self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def ice_servers(self, who: str) -> list[dict[str, Any]]:
        """The STUN/TURN servers for ``who`` (an operator or a box), as ``RTCIceServer``
        dictionaries: the configured ones, and the TURN server with credentials of its own."""
        servers = [s.model_dump(exclude_none=True) for s in self.settings.webrtc_ice_servers]
        secret = self.settings.resolved_turn_secret
        if secret is not None:
            valid_s = (self.settings.call_setup_timeout_s + self.settings.call_max_duration_s
                       + turn.MARGIN_S)
            username, credential = turn.turn_credentials(secret, who, valid_s)
            servers.append({"urls": list(self.settings.webrtc_turn_urls), "username": username,
                            "credential": credential})
        return servers

    def _link(self) -> Any:
        return getattr(self.state, "box_link", None)

    # --- console side ---------------------------------------------------------------------------

    async def request(self, *, alarm_id: int, who: Principal) -> dict[str, Any]:
        """Record a new call to the alarm's box (the console then attaches and offers)."""
        link = self._link()
        if link is None or not link.connected.is_set():
            raise Problem(503, "call_link_down")
        now = utcnow()
        try:
            async with self.db.write() as session:
                call, _box, lost = await service.create_call(
                    session, call_id=str(uuid.uuid4()), alarm_id=alarm_id, actor=who.actor,
                    now=now, stale_before=now - timedelta(seconds=STALE_S))
                view = await service.call_view(session, call)
                lost_views = await service.call_views(session, lost)
        except IntegrityError:
            # Another process inserted a call for this box between our check and our insert.
            raise Problem(409, "call_box_busy", box=await self._alarm_box(alarm_id),
                          operator="?") from None
        for ended in lost_views:
            self._push("call.ended", ended)
        self._push("call.requested", view)
        return view

    async def _alarm_box(self, alarm_id: int) -> str:
        async with self.db.session() as session:
            code = await session.scalar(
                select(SosBox.code).join(Call, Call.box_id == SosBox.id)
                .where(Call.alarm_id == alarm_id, service.ACTIVE))
        return code or "?"

    async def attach(self, call_id: str, who: Principal) -> CallSession:
        """Take the console's signalling socket for a requested call (its operator only)."""
        if call_id in self.sessions:
            raise CallRefused(4409, "call_taken")
        async with self.db.session() as db_session:
            call = await db_session.get(Call, call_id)
            box = await db_session.get(SosBox, call.box_id) if call and call.box_id else None
        if call is None or box is None:
            raise CallRefused(4404, "call_not_found")
        if call.ended_at is not None:
            raise CallRefused(4409, "call_ended")
        if call.operator_id != who.user_id:
            raise CallRefused(4403, "call_not_yours")
        if call_id in self.sessions:  # attached while we read
            raise CallRefused(4409, "call_taken")
        session = CallSession(call_id, box.code, who.actor)
        self.sessions[call_id] = session
        left = self.settings.call_setup_timeout_s - (utcnow() - call.requested_at).total_seconds()
        self._timer(session, "setup", left, "setup_timeout", unless=("connected",))
        return session

    async def on_console(self, session: CallSession, message: dict[str, Any]) -> None:
        """One message from the console; :class:`BadSignal` for one the call cannot take."""
        kind = message.get("type")
        if kind == "offer":
            if session.state != "attached":
                raise BadSignal("call_signal_out_of_order", "offer")
            sdp = check_sdp(message.get("sdp"))
            session.state = "offered"
            sent = await self._to_box(session.box_code, {
                "type": "call_offer", "call_id": session.call_id, "sdp": sdp,
                "ice_servers": self.ice_servers(session.box_code)})
            if not sent:
                await self.end(session.call_id, "link_down", actor=session.operator,
                               tell_box=False)
                return
            self._timer(session, "answer", self.settings.call_answer_timeout_s, "no_answer",
                        unless=("answered", "connected"))
        elif kind == "ice":
            if session.state == "attached":
                raise BadSignal("call_signal_out_of_order", "ice")
            candidate = check_candidate(message.get("candidate"))
            await self._to_box(session.box_code, {
                "type": "call_ice", "call_id": session.call_id, "candidate": candidate})
        elif kind == "connected":
            if session.state != "answered":
                raise BadSignal("call_signal_out_of_order", "connected")
            await self._connected(session)
        elif kind == "hangup":
            # The console hangs up itself when its media connection fails: say so.
            reason = message.get("reason")
            reason = reason if reason in CONSOLE_REASONS else "operator_hangup"
            await self.end(session.call_id, reason, actor=session.operator, tell_box=True)
        elif kind == "ping":
            session.outbox.put_nowait({"type": "pong"})
        else:
            raise BadSignal("call_unknown_message", str(kind)[:40])

    async def _connected(self, session: CallSession) -> None:
        session.state = "connected"
        async with self.db.write() as db_session:
            call = await service.mark_connected(db_session, call_id=session.call_id,
                                                actor=session.operator, now=utcnow())
            view = await service.call_view(db_session, call) if call is not None else None
        if view is not None:
            self._push("call.started", view)
            session.outbox.put_nowait({"type": "connected", "call": view})
        self._timer(session, "max", self.settings.call_max_duration_s, "max_duration")

    # --- box side -------------------------------------------------------------------------------

    async def on_box_signal(self, box_code: str, signal: CallSignal) -> None:
        """A message a box published on its ``call`` topic (via the device link)."""
        session = self.sessions.get(signal.call_id)
        if session is None:
            await self._stray(box_code, signal)
            return
        if session.box_code != box_code:
            self._refuse("wrong_box", box_code, signal)
            return
        if signal.type == "call_answer":
            if session.state != "offered":
                self._refuse("unexpected_answer", box_code, signal)
                return
            try:
                sdp = check_sdp(signal.sdp)
            except BadSignal as exc:
                self._refuse("bad_answer", box_code, signal, exc.reason)
                await self.end(signal.call_id, "bad_answer", actor=SYSTEM, tell_box=True)
                return
            session.state = "answered"
            session.outbox.put_nowait({"type": "answer", "sdp": sdp})
        elif signal.type == "call_ice":
            try:
                candidate = check_candidate(signal.candidate)
            except BadSignal as exc:
                self._refuse("bad_candidate", box_code, signal, exc.reason)
                return
            session.outbox.put_nowait({"type": "ice", "candidate": candidate})
        elif signal.type == "call_end":
            await self.end(signal.call_id, f"box:{signal.reason or 'hangup'}",
                           actor=Actor(None, f"box {box_code}"), tell_box=False)
        else:
            self._refuse("unexpected_offer", box_code, signal)

    async def _stray(self, box_code: str, signal: CallSignal) -> None:
        """A signal for a call this process does not carry."""
        async with self.db.session() as session:
            call = await session.get(Call, signal.call_id[:36])
            code = await session.scalar(select(SosBox.code).where(SosBox.id == call.box_id)) \
                if call is not None and call.box_id is not None else None
        if call is None:
            self._refuse("unknown_call", box_code, signal)
        elif code != box_code:
            self._refuse("wrong_box", box_code, signal)
        elif call.ended_at is not None:
            self.stats["late"] += 1  # e.g. the box's hang-up after ours: nothing to do
        elif signal.type == "call_end":
            # Carried by a process that died, or by another one: the record still ends.
            await self.end(signal.call_id, f"box:{signal.reason or 'hangup'}",
                           actor=Actor(None, f"box {box_code}"), tell_box=False)
        else:
            self.stats["elsewhere"] += 1  # another app process carries this call

    def _refuse(self, reason: str, box_code: str, signal: CallSignal, detail: str = "") -> None:
        self.stats[reason] += 1
        log.warning("call signal refused (%s): %s from box %s for call %s %s", reason,
                    signal.type, box_code, signal.call_id, detail)

    # --- ending ---------------------------------------------------------------------------------

    async def end(
        self, call_id: str, reason: str, *, actor: Actor, tell_box: bool
    ) -> dict[str, Any] | None:
        """End the call (once): record it, tell the box and the console, push ``call.ended``."""
        session = self.sessions.pop(call_id, None)
        if session is not None:
            session.ended = True
            current = asyncio.current_task()
            for task in session.timers.values():
                if task is not current:
                    task.cancel()
        async with self.db.write() as db_session:
            try:
                call = await service.end_call(db_session, call_id=call_id, reason=reason,
                                              actor=actor, now=utcnow())
            except Problem:
                return None
            ended_now = call is not None
            view = await service.call_view(
                db_session, call or await service.get_call(db_session, call_id))
        if tell_box and ended_now and view["box_code"]:
            await self._to_box(view["box_code"], {"type": "call_end", "call_id": call_id,
                                                  "reason": reason[:200]})
        if session is not None:
            session.outbox.put_nowait({"type": "ended", "reason": view["end_reason"],
                                       "duration_s": view["duration_s"], "call": view})
        if ended_now:
            self._push("call.ended", view)
        return view

    def _timer(self, session: CallSession, name: str, after_s: float, reason: str,
               unless: tuple[str, ...] = ()) -> None:
        async def fire() -> None:
            await asyncio.sleep(max(0.0, after_s))
            if not session.ended and session.state not in unless:
                await self.end(session.call_id, reason, actor=SYSTEM, tell_box=True)

        old = session.timers.pop(name, None)
        if old is not None:
            old.cancel()
        session.timers[name] = asyncio.create_task(fire(), name=f"call-{name}")

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - the keepalive must never die
                log.exception("calls: keepalive failed; retrying")

    async def sweep(self) -> None:
        """Refresh this process's calls and end the ones nobody carries any more."""
        now = utcnow()
        before = now - timedelta(seconds=STALE_S)
        async with self.db.session() as session:
            stale = await session.scalar(select(Call.id).where(
                service.ACTIVE, Call.alive_at < before).limit(1))
        if not self.sessions and stale is None:
            return
        async with self.db.write() as session:
            await service.touch_calls(session, call_ids=list(self.sessions), now=now)
            lost = await service.end_stale_calls(session, before=before, now=now)
            views = await service.call_views(session, lost)
            # Ours, but ended by another process (a hang-up through its REST route).
            gone = list(await session.scalars(select(Call.id).where(
                Call.id.in_(list(self.sessions)), Call.ended_at.is_not(None))))
        for view in views:
            self._push("call.ended", view)
        for call_id in gone:
            await self.end(call_id, "ended_elsewhere", actor=SYSTEM, tell_box=False)

    # --- helpers --------------------------------------------------------------------------------

    async def _to_box(self, box_code: str, command: dict[str, Any]) -> bool:
        link = self._link()
        if link is None:
            return False
        try:
            await link.send_command(box_code, command)
        except Exception as exc:  # noqa: BLE001 - link down: the caller decides what it means
            log.warning("call: %s to box %s not sent: %s", command.get("type"), box_code, exc)
            return False
        return True

    def _push(self, type: str, view: dict[str, Any]) -> None:
        hub = getattr(self.state, "live_hub", None)
        if hub is not None:
            hub.publish(type, view, roles=RESPONDERS)
