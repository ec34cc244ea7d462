"""The embedded MQTT broker (amqtt) with per-box authentication and topic access control.

A box logs in with its code as the user name and its secret as the password; the broker checks
the secret against ``SosBox.secret_hash`` (SHA-256) on every connect, so provisioning from the
CLI (another process) takes effect at once. The server's own client logs in with a credential
generated at start-up that never leaves the process. A box may publish only to its own upstream
topics, subscribe only to its own downstream topics, and set a last will only on its own
``status`` topic; nobody is anonymous.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from amqtt.broker import Broker  # type: ignore[import-untyped]
from amqtt.contexts import Action, BaseContext  # type: ignore[import-untyped]
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin  # type: ignore[import-untyped]
from amqtt.session import Session  # type: ignore[import-untyped]
from sqlalchemy import select

from safezone.db.engine import Database
from safezone.sos.models import SosBox
from safezone.sos.protocol import BOX_CODE_RE, DOWNSTREAM_LEAVES, UPSTREAM_LEAVES

log = logging.getLogger(__name__)


def hash_secret(secret: str) -> str:
    """The stored form of a box secret: SHA-256 hex (the secret itself is 256 random bits)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class BrokerGate:
    """Who may log in and which topics each client may use."""

    def __init__(self, *, db: Database, root: str, server_username: str) -> None:
        self.db = db
        self.root = root
        self.server_username = server_username
        self.server_password = secrets.token_urlsafe(32)
        self.denied_logins = 0
        self.denied_topics = 0

    async def check_login(self, session: Session) -> bool:
        """True when the session's user and password are the server's or a provisioned box's."""
        username, password = session.username, session.password or ""
        if not username:
            return self._deny_login("anonymous client", session)
        if username == self.server_username:
            ok = hmac.compare_digest(password.encode(), self.server_password.encode())
            return True if ok else self._deny_login("wrong server credential", session)
        if not BOX_CODE_RE.match(username):
            return self._deny_login("user name is not a box code", session)
        if session.will_flag and session.will_topic != self._topic(username, "status"):
            return self._deny_login("last will outside the box's status topic", session)
        async with self.db.session() as db_session:
            row = (
                await db_session.execute(
                    select(SosBox.secret_hash, SosBox.enabled).where(SosBox.code == username)
                )
            ).first()
        if row is None or row.secret_hash is None:
            return self._deny_login("unknown or unprovisioned box", session)
        if not row.enabled:
            return self._deny_login("box disabled", session)
        if not hmac.compare_digest(hash_secret(password), row.secret_hash):
            return self._deny_login("wrong secret", session)
        return True

    def _deny_login(self, why: str, session: Session) -> bool:
        self.denied_logins += 1
        log.warning("broker: login refused for %r: %s", session.username, why)
        return False

    def _topic(self, code: str, leaf: str) -> str:
        return f"{self.root}/box/{code}/{leaf}"

    def allowed(self, username: str | None, topic: str, action: Action) -> bool:
        """Whether ``username`` may publish to, subscribe to or receive ``topic``."""
        ok = self._allowed(username, topic, action)
        if not ok:
            self.denied_topics += 1
            log.warning("broker: %s on %r refused for %r", action.value, topic, username)
        return ok

    def _allowed(self, username: str | None, topic: str, action: Action) -> bool:
        if not username:
            return False
        if username == self.server_username:
            return topic.startswith(f"{self.root}/box/")
        own = f"{self.root}/box/{username}/"
        if not topic.startswith(own):
            return False
        leaf = topic[len(own) :]
        if action == Action.PUBLISH:
            return leaf in UPSTREAM_LEAVES
        if action == Action.SUBSCRIBE:
            return leaf in DOWNSTREAM_LEAVES or leaf in ("#", "+")
        return "/" not in leaf  # RECEIVE: anything directly under its own topics


class BoxAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]
    """amqtt authentication hook backed by :class:`BrokerGate`."""

    @dataclass
    class Config:
        gate: Any = None

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self.gate: BrokerGate = self.config.gate

    async def authenticate(self, *, session: Session) -> bool | None:
        try:
            return await self.gate.check_login(session)
        except Exception:  # noqa: BLE001 - a failing check refuses, never crashes the broker
            log.exception("broker: login check failed")
            return False


class BoxTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """amqtt topic-filtering hook backed by :class:`BrokerGate`."""

    @dataclass
    class Config:
        gate: Any = None

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self.gate: BrokerGate = self.config.gate

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool | None:
        if session is None or topic is None or action is None:
            return False
        return self.gate.allowed(session.username, topic, action)


class _SnapshotDict(dict[str, Any]):
    """amqtt 0.12 walks its subscription table with ``await`` inside the loop; a box that
    subscribes meanwhile (each box adds its own topic filters) makes that walk fail with
    "dictionary changed size during iteration", dropping the message being broadcast or the
    connecting client. Walking over a snapshot fixes it (the table stays small: two filters a
    box)."""

    def __iter__(self) -> Any:
        return iter(list(super().keys()))

    def keys(self) -> Any:
        return list(super().keys())

    def values(self) -> Any:
        return [list(v) if isinstance(v, list) else v for v in super().values()]

    def items(self) -> Any:
        return [(k, list(v) if isinstance(v, list) else v) for k, v in super().items()]


@dataclass
class EmbeddedBroker:
    """An amqtt broker bound to ``host:port`` (port 0 picks a free one)."""

    gate: BrokerGate
    host: str
    port: int
    _broker: Broker | None = field(default=None, init=False)

    async def start(self) -> None:
        """Listen; afterwards ``port`` is the port actually bound."""
        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            # No $SYS, event or packet logging plugins: they cost time on every message.
            "plugins": {
                f"{__name__}.BoxAuthPlugin": {"gate": self.gate},
                f"{__name__}.BoxTopicPlugin": {"gate": self.gate},
            },
        }
        # amqtt and its state machine log every connection at INFO: thousands of lines when a
        # fleet reconnects. Our own log says what matters (refused logins and topics).
        for noisy in ("amqtt", "transitions"):
            if logging.getLogger(noisy).getEffectiveLevel() < logging.WARNING:
                logging.getLogger(noisy).setLevel(logging.WARNING)
        broker = Broker(config, loop=asyncio.get_running_loop())
        broker._subscriptions = _SnapshotDict()  # noqa: SLF001 - see _SnapshotDict
        await broker.start()
        self._broker = broker
        server = broker._servers["default"].instance  # noqa: SLF001 - amqtt exposes no getter
        sockets = getattr(server, "sockets", None) or ()
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("embedded MQTT broker listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        if self._broker is not None:
            broker, self._broker = self._broker, None
            await broker.shutdown()
