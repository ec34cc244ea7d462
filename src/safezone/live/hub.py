"""In-process pub/sub of JSON messages to connected consoles.

Every message has an ``id`` (unique across processes), a ``type`` (``alarm.new``,
``alarm.acknowledged`` ...), a ``time`` (UTC, RFC 3339) and a ``payload``. A message may be
meant for some roles only (``roles``; ``None`` = every subscriber). It is encoded to JSON once,
when published, however many consoles receive it.

As in Home Assistant, ``subscribe`` returns the function that unsubscribes. Listeners are
plain callables run synchronously inside ``publish``; they must not block (the console
WebSocket's listener only appends to that connection's bounded outbox). ``publish`` may be
called from another thread (the camera monitor and the live-view upstreams run in threads):
delivery is then handed to the hub's event loop, so listeners always run on that loop.

The hub is in-process. Several app processes behind a proxy each have their own hub; a
message published in one reaches only the consoles connected to it. A console never relies on
the stream alone: on (re)connect it gets the current open alarms, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from safezone.auth.roles import Role
from safezone.db.base import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveMessage:
    """One message for the consoles; ``text`` is its JSON encoding (made once)."""

    id: str
    type: str
    time: datetime
    payload: dict[str, Any]
    roles: frozenset[Role] | None = None
    text: str = field(default="", repr=False)

    def for_role(self, role: Role | None) -> bool:
        """Whether a subscriber of ``role`` gets this message."""
        return self.roles is None or (role is not None and role in self.roles)


def make_message(
    type: str, payload: dict[str, Any], *, roles: frozenset[Role] | None = None
) -> LiveMessage:
    """A new message with a fresh id and the current time, already encoded."""
    message_id = uuid.uuid4().hex
    now = utcnow()
    body = {"id": message_id, "type": type, "time": now, "payload": payload}
    text = orjson.dumps(body, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS).decode()
    return LiveMessage(message_id, type, now, payload, roles, text)


Listener = Callable[[LiveMessage], None]


@dataclass(eq=False, slots=True)
class _Subscription:
    listener: Listener
    role: Role | None


class LiveHub:
    """Publishes messages to every subscribed console (filtered by role)."""

    def __init__(self) -> None:
        self._subscriptions: list[_Subscription] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self.published = 0

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, listener: Listener, *, role: Role | None = None) -> Callable[[], None]:
        """Call ``listener`` with every message meant for ``role``; returns the unsubscribe.

        ``role`` None receives only messages meant for everyone.
        """
        self._bind_loop()
        subscription = _Subscription(listener, role)
        self._subscriptions.append(subscription)

        def unsubscribe() -> None:
            # Idempotent: a connection's cleanup may run twice (error path, then finally).
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

        return unsubscribe

    def publish(
        self, type: str, payload: dict[str, Any], *, roles: frozenset[Role] | None = None
    ) -> LiveMessage:
        """Send a message to the subscribers; returns it (with its id)."""
        message = make_message(type, payload, roles=roles)
        self.publish_message(message)
        return message

    def publish_message(self, message: LiveMessage) -> None:
        """Deliver an already-made message (thread-safe)."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            try:
                loop.call_soon_threadsafe(self._deliver, message)
            except RuntimeError:
                log.warning("live hub: event loop closed; message %s dropped", message.type)
            return
        self._deliver(message)

    def _bind_loop(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._loop is not loop:
            self._loop = loop
            self._loop_thread = threading.get_ident()

    def _deliver(self, message: LiveMessage) -> None:
        self.published += 1
        # A copy: a listener may unsubscribe (its connection closing) while we iterate.
        for subscription in tuple(self._subscriptions):
            if not message.for_role(subscription.role):
                continue
            try:
                subscription.listener(message)
            except Exception:  # noqa: BLE001 - one bad listener must not starve the rest
                log.exception("live hub listener failed on %s", message.type)
