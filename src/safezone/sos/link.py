"""The device link: SOS boxes ⇄ MQTT ⇄ the alarm pipeline.

One MQTT client subscribes to every box's ``event``, ``heartbeat``, ``status`` and ``call``
topics. Each message is validated (``safezone.sos.protocol``); a refused one is counted with its
reason and logged, and the consumer goes on. Events are stored in arrival order
(``safezone.sos.ingest``)::

    one write transaction:  box known and enabled? → insert BoxEvent (unique event_id)
                            → alarms.pipeline.on_box_event(...) → effects
    commit → run the effects (console pushes, box commands) → publish ack {event_id}

so an event is acknowledged only once it is committed, and a resend (the box never heard the
ack) finds the BoxEvent and is simply acknowledged again: each press becomes one alarm, however
often it arrives. Heartbeats and statuses go to :class:`~safezone.sos.health.BoxHealth`, which
writes them in batches. With no external broker configured, the link first starts the embedded
one (``safezone.sos.broker``).

Incoming messages are handled inside the MQTT client's receive callback (through the queue
class aiomqtt lets us choose), so a heartbeat costs one parse and a dict update: no task, no
queue hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt

from safezone.alarms.camera_index import CameraIndex
from safezone.alarms.effects import Effect, run_effects
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.settings import Settings
from safezone.sos.broker import BrokerGate, EmbeddedBroker
from safezone.sos.health import BoxHealth
from safezone.sos.ingest import store_events
from safezone.sos.protocol import (
    COMMANDS,
    Ack,
    BoxEventMessage,
    CallSignal,
    Heartbeat,
    Rejection,
    Status,
    parse_topic,
    parse_upstream,
    topic_for,
)
from safezone.sos.selftest import run_self_tests
from safezone.sos.stats import LinkStats

log = logging.getLogger(__name__)
# How long stop() waits for the link's tasks and the embedded broker.
STOP_TIMEOUT_S = 5.0

CallHandler = Callable[[str, CallSignal], Awaitable[None]]
# Committed event ids remembered in memory, so that a resend storm after an outage is
# acknowledged without touching the database.
_RECENT_EVENTS = 100_000
_BATCH = 50


# Nagle's algorithm off on our end of the broker connections (paho leaves it on; asyncio turns
# it off for its own TCP connections). With it on, our small writes (the PUBACK of every QoS 1
# message, acks, commands) could wait for the broker's delayed TCP ACK, up to 40 ms on Linux,
# and presses arriving meanwhile waited with them: against Mosquitto with 2,000 boxes
# heartbeating, press p99 was 35-50 ms with Nagle on and about 15 ms with it off, in
# back-to-back runs (``bench/sos_latency.py``).
_SOCKET_OPTIONS = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


async def _until_closed(client: aiomqtt.Client) -> None:
    async for _ in client.messages:
        pass


class LinkUnavailable(RuntimeError):
    """The link is not connected to the broker, so a command cannot be sent now."""


def _intake(handler: Callable[[aiomqtt.Message], None]) -> type[asyncio.Queue[aiomqtt.Message]]:
    class Intake(asyncio.Queue[aiomqtt.Message]):
        def put_nowait(self, item: aiomqtt.Message) -> None:
            handler(item)

    return Intake


class BoxLink:
    """Connects to the broker, consumes box messages, acknowledges and sends commands."""

    def __init__(self, *, db: Database, settings: Settings, state: Any = None) -> None:
        self.db = db
        self.settings = settings
        self.root = settings.mqtt_topic_root
        # The app's state: its ``live_hub`` (the consoles' hub) gets the pipeline's pushes.
        self.state = state
        self.stats = LinkStats()
        self.health = BoxHealth(
            db=db, settings=settings, stats=self.stats, run_effects=self._run_effects
        )
        # Which cameras see a box, answered from memory on the press path.
        self.cameras = CameraIndex(db)
        self.broker: EmbeddedBroker | None = None
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        # One queue per worker; a box's events always go to the same one (kept in order).
        workers = settings.device_link_workers or 1
        self._queues: list[asyncio.Queue[tuple[str, BoxEventMessage]]] = [
            asyncio.Queue() for _ in range(workers)
        ]
        self._in_flight: set[str] = set()
        self._recent: OrderedDict[str, str] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[Any]] = set()
        self._call_handlers: list[CallHandler] = []

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the embedded broker (unless external) and the background tasks."""
        if self.settings.mqtt_url is None:
            gate = BrokerGate(
                db=self.db, root=self.root, server_username=self.settings.mqtt_server_username
            )
            self.broker = EmbeddedBroker(
                gate=gate, host=self.settings.mqtt_bind, port=self.settings.mqtt_port
            )
            try:
                await self.broker.start()
            except Exception:  # noqa: BLE001 - the console must run even if MQTT cannot
                log.exception("embedded MQTT broker could not start; retrying in background")
        for name, job in (
            ("device-link", self._supervise()),
            *((f"device-link-events-{i}", self._event_worker(q)) for i, q in
              enumerate(self._queues)),
            ("box-health-flush", self.health.run_flusher()),
            ("box-health-monitor", self.health.run_monitor()),
            ("box-self-tests", run_self_tests(self)),
            ("camera-index", self.cameras.run()),
        ):
            self._tasks.append(asyncio.create_task(job, name=name))

    async def stop(self) -> None:
        """Stop consuming, write pending health, stop the embedded broker."""
        for task in self._tasks:
            task.cancel()
        # A safety net, not a known wait: leaving a session sends DISCONNECT and aiomqtt waits,
        # without a limit, until paho has written it, which a socket that cannot be written
        # would never allow. Measured stops (tests/sos/test_chaos.py: broker frozen with
        # commands in flight, broker killed, broker frozen before the link connected; the
        # embedded broker right after start) take 0-5 ms, 2 s with commands in flight.
        _, stuck = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
        for task in stuck:
            log.warning("device link: task %s did not stop within %ss", task.get_name(),
                        STOP_TIMEOUT_S)
        self._tasks.clear()
        if self._inflight:
            # Acks and commands still in flight get two seconds in all, not each: with the
            # broker gone, hundreds of them waited one after another.
            _, late = await asyncio.wait(set(self._inflight), timeout=2)
            for task in late:
                task.cancel()
        with contextlib.suppress(Exception):
            await self.health.flush()
        if self.broker is not None:
            try:
                await asyncio.wait_for(self.broker.stop(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("device link: embedded broker did not stop within %ss",
                            STOP_TIMEOUT_S)

    def _endpoint(self) -> tuple[str, int, str | None, str | None, bool]:
        if self.settings.mqtt_url:
            url = urlsplit(self.settings.mqtt_url)
            if url.scheme not in ("mqtt", "mqtts", "tcp"):
                raise ValueError(f"unsupported MQTT URL scheme {url.scheme!r}")
            tls = url.scheme == "mqtts"
            user = unquote(url.username) if url.username else None
            password = unquote(url.password) if url.password else None
            return url.hostname or "127.0.0.1", url.port or (8883 if tls else 1883), user, \
                password, tls
        assert self.broker is not None  # noqa: S101 - set in start() when no URL
        host = self.broker.host
        host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 - a bind address
        gate = self.broker.gate
        return host, self.broker.port, gate.server_username, gate.server_password, False

    async def _supervise(self) -> None:
        delay = 0.5
        while True:
            try:
                if self.broker is not None and self.broker._broker is None:  # noqa: SLF001
                    await self.broker.start()
                await self._session()
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect whatever went wrong
                log.warning("device link: broker connection lost (%s); retrying", exc)
            finally:
                self._client = None
                self.connected.clear()
            self.stats.received["reconnects"] += 1
            # Exponential back-off with full jitter, so a fleet of servers does not stampede.
            await asyncio.sleep(random.uniform(0.5, delay))  # noqa: S311 - not cryptographic
            delay = min(delay * 2, 30.0)

    async def _session(self) -> None:
        """Two connections to the broker: one for what an operator waits on (events, call
        signalling), one for telemetry (heartbeats, statuses).

        On one connection the broker streams heartbeats to us and we answer none of them, so
        our kernel delays its TCP ACKs (up to 40 ms), and a broker with Nagle's algorithm on
        (Mosquitto unless ``set_tcp_nodelay true``) holds the next small packet, an SOS press
        among them, until the ACK for the last heartbeat comes. The event connection carries
        nothing between events, so nothing is ever held on it, whatever the broker's settings.
        Either connection dropping ends the session; both come back together.
        """
        host, port, user, password, tls = self._endpoint()

        def client(lane: str) -> aiomqtt.Client:
            made = aiomqtt.Client(
                host,
                port,
                username=user,
                password=password,
                identifier=f"safezone-server-{lane}-{uuid.uuid4().hex[:12]}",
                queue_type=_intake(self._on_message),
                clean_session=True,
                keepalive=30,
                max_inflight_messages=200,
                tls_params=aiomqtt.TLSParameters() if tls else None,
                socket_options=_SOCKET_OPTIONS,
            )
            # Hundreds of acks may be in flight after an outage; expected, not a warning.
            made.pending_calls_threshold = 10_000
            return made

        events, telemetry = client("events"), client("telemetry")
        async with events, telemetry:
            await events.subscribe(
                [(topic_for(self.root, "+", "event"), 1), (topic_for(self.root, "+", "call"), 1)]
            )
            await telemetry.subscribe(
                [
                    (topic_for(self.root, "+", "heartbeat"), 0),
                    (topic_for(self.root, "+", "status"), 1),
                ]
            )
            self._client = events
            self.connected.set()
            log.info("device link: connected to %s:%s", host, port)
            # Messages never reach aiomqtt's queues (the intake takes them), so these only
            # wait for a disconnect, which they raise as MqttError.
            waits = [asyncio.create_task(_until_closed(c)) for c in (events, telemetry)]
            try:
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
            for task in done:
                task.result()

    # --- intake (runs inside the MQTT client's receive callback: must not block or raise) -----

    def _on_message(self, message: aiomqtt.Message) -> None:
        try:
            self._take(message)
        except Exception:  # noqa: BLE001 - never let one message break the client
            self.stats.reject("internal", "handler failed", topic=str(message.topic))
            log.exception("device link: message handler failed")

    def _take(self, message: aiomqtt.Message) -> None:
        topic_name = message.topic.value
        topic = parse_topic(self.root, topic_name)
        if topic is None:
            self.stats.received["other"] += 1
            self.stats.reject("bad_topic", "not a box upstream topic", topic=topic_name)
            return
        self.stats.received[topic.leaf] += 1
        payload = message.payload
        if not isinstance(payload, bytes | bytearray):
            payload = str(payload).encode()
        parsed = parse_upstream(topic, bytes(payload))
        if isinstance(parsed, Rejection):
            self.stats.reject(parsed.reason, parsed.detail, topic=topic_name)
            return
        now = utcnow()
        if isinstance(parsed, Heartbeat):
            self.health.note_heartbeat(topic.code, parsed, now)
        elif isinstance(parsed, Status):
            self.health.note_status(topic.code, parsed, now)
        elif isinstance(parsed, CallSignal):
            for handler in list(self._call_handlers):
                self._spawn(handler(topic.code, parsed))
        else:
            self._queue_event(topic.code, parsed)

    def _queue_event(self, code: str, event: BoxEventMessage) -> None:
        event_id = event.event_id.lower()
        if self._recent.get(event_id) == code:
            # Committed already: the box missed our ack. Ack again; nothing else to do.
            self.stats.events["duplicates"] += 1
            self._spawn(self._ack(code, event.event_id))
        elif event_id in self._in_flight:
            # The same event is waiting or being stored: its ack follows the commit.
            self.stats.events["duplicates_in_flight"] += 1
        else:
            self._in_flight.add(event_id)
            self._queues[hash(code) % len(self._queues)].put_nowait((code, event))

    def _remember(self, event_id: str, code: str) -> None:
        self._recent[event_id] = code
        if len(self._recent) > _RECENT_EVENTS:
            self._recent.popitem(last=False)

    # --- events ---------------------------------------------------------------------------------

    async def _event_worker(self, queue: asyncio.Queue[tuple[str, BoxEventMessage]]) -> None:
        while True:
            batch = [await queue.get()]
            # Whatever else is already waiting goes into the same transaction (never waits).
            while len(batch) < _BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self.handle_events(batch)
            except Exception:  # noqa: BLE001 - not acked: the boxes resend and we retry
                self.stats.events["failed"] += len(batch)
                log.exception("device link: a batch of %d events failed", len(batch))
            finally:
                for _code, event in batch:
                    self._in_flight.discard(event.event_id.lower())

    async def handle_event(self, code: str, event: BoxEventMessage) -> None:
        """Store ``event`` once (with what it means), then acknowledge it to the box."""
        await self.handle_events([(code, event)])

    async def handle_events(self, batch: list[tuple[str, BoxEventMessage]]) -> None:
        """Store a batch in one transaction; after the commit run the effects, then ack."""
        stored = await store_events(self.db, settings=self.settings, stats=self.stats,
                                    batch=batch, cameras=self.cameras)
        for code, event_id in stored.acks:
            self._remember(event_id.lower(), code)
        if stored.effects:
            await self._run_effects(stored.effects)
        for code, event_id in stored.acks:
            self._spawn(self._ack(code, event_id))

    async def _ack(self, code: str, event_id: str) -> None:
        try:
            await self._publish(topic_for(self.root, code, "ack"), Ack(event_id=event_id).encode())
            self.stats.events["acks_sent"] += 1
        except Exception as exc:  # noqa: BLE001 - the box resends; we ack again then
            self.stats.events["ack_failures"] += 1
            log.warning("device link: ack of %s to %s failed: %s", event_id, code, exc)

    # --- downstream -----------------------------------------------------------------------------

    async def send_command(self, box_code: str, command: dict[str, Any]) -> None:
        """Send a command to one box (QoS 1).

        ``command`` names its ``type`` (``help_coming``, ``strobe`` {on}, ``play_message``
        {text | message_id}, ``self_test``, ``call_offer`` / ``call_answer`` / ``call_ice`` /
        ``call_end`` {call_id, sdp, candidate, reason}); ``cmd`` is accepted for ``type``.
        ``cmd_id`` and ``time`` are filled in. Raises ``ValueError`` for an invalid command and
        :class:`LinkUnavailable` when the broker is not reachable now.
        """
        body = {k: v for k, v in command.items() if k != "cmd"}
        body.setdefault("type", command.get("cmd"))
        body.setdefault("cmd_id", str(uuid.uuid4()))
        body.setdefault("time", utcnow())
        try:
            payload = COMMANDS.validate_python(body).encode()
        except Exception as exc:
            raise ValueError(f"invalid box command: {exc}") from None
        await self._publish(topic_for(self.root, box_code, "cmd"), payload)
        self.stats.commands[str(body["type"])] += 1

    def on_call_signal(self, handler: CallHandler) -> Callable[[], None]:
        """Call ``handler(box_code, signal)`` for each call message from a box; returns the
        function that unsubscribes (the call service registers here)."""
        self._call_handlers.append(handler)
        return lambda: self._call_handlers.remove(handler)

    async def _publish(self, topic: str, payload: bytes) -> None:
        client = self._client
        if client is None:
            raise LinkUnavailable("device link is not connected to the MQTT broker")
        await client.publish(topic, payload, qos=1, timeout=10)

    # --- helpers --------------------------------------------------------------------------------

    async def _run_effects(self, effects: list[Effect]) -> None:
        await run_effects(effects, live_hub=getattr(self.state, "live_hub", None), box_link=self)

    def _spawn(self, job: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(job)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    def snapshot(self) -> dict[str, Any]:
        """Counters and connection state for the admins' stats endpoint."""
        data = self.stats.snapshot()
        data["connected"] = self.connected.is_set()
        data["events"]["queued"] = sum(q.qsize() for q in self._queues)
        data["heartbeats"]["pending_boxes"] = len(self.health.pending)
        if self.broker is not None:
            gate = self.broker.gate
            data["broker"] = {
                "mode": "embedded",
                "host": self.broker.host,
                "port": self.broker.port,
                "denied_logins": gate.denied_logins,
                "denied_topics": gate.denied_topics,
            }
        else:
            url = urlsplit(self.settings.mqtt_url or "")
            data["broker"] = {"mode": "external", "host": url.hostname, "port": url.port}
        return data
