"""The box agent: outbox → MQTT → server, commands back.

* A press (GPIO, keyboard, the local HTTP endpoint, the CLI, or code) is first written to the
  durable outbox, then published; it is resent with exponential back-off and jitter until the
  server's ``ack`` for its ``event_id`` arrives, across reconnects and agent restarts.
* The connection comes back with exponential back-off and full jitter, so a thousand boxes
  after a broker restart do not all knock at the same instant.
* ``status`` is retained: ``online`` on connect, ``offline`` as the last will (and on a clean
  stop). A heartbeat goes out every ``heartbeat_s``.
* Power-loss reports wait a random 0..``power_report_jitter_s`` seconds (stored with the event,
  so the delay survives a restart) so a town-wide cut reaches the centre spread out.
* Commands: ``help_coming`` lights the light, ``strobe``, ``play_message`` (console + tone),
  ``self_test``; ``call_*`` go to :attr:`BoxAgent.call_handler` (see :class:`CallHandler`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import aiomqtt

from safezone.box import audio
from safezone.box.config import BoxConfig
from safezone.box.devices import ConsoleSink, Outputs, Sensors, default_console
from safezone.box.outbox import Outbox, OutboxStore
from safezone.box.selftest import run_checks
from safezone.sos.protocol import (
    EVENTS,
    Ack,
    CallCommand,
    CallSignal,
    Command,
    Heartbeat,
    HelpComing,
    PlayMessage,
    Rejection,
    RunSelfTest,
    Status,
    Strobe,
    parse_ack,
    parse_command,
    topic_for,
)

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class CallHandler(Protocol):
    """Extension point for two-way calls (camera, microphone, speaker over WebRTC).

    The agent hands every ``call_*`` command to ``on_command``; the handler answers through
    :meth:`BoxAgent.send_call_signal`. The default handler declines calls.
    """

    async def on_command(self, agent: BoxAgent, command: CallCommand) -> None: ...


class DeclineCalls:
    """The default: this agent has no call media, so an offer is answered with ``call_end``."""

    async def on_command(self, agent: BoxAgent, command: CallCommand) -> None:
        if command.type == "call_offer":
            agent.console(f"[{agent.code}] call offered, but this agent has no call media")
            await agent.send_call_signal("call_end", command.call_id, reason="no call media")


def backoff(attempt: int, initial: float, cap: float, rng: random.Random) -> float:
    """Exponential back-off with jitter: between half and all of min(cap, initial·2^attempt)."""
    ceiling = min(cap, initial * (2 ** min(attempt, 30)))
    return rng.uniform(ceiling / 2, ceiling)


class BoxAgent:
    """One box. ``run()`` until ``stop()``; ``press()`` and friends from anywhere on the loop."""

    def __init__(
        self,
        config: BoxConfig,
        *,
        store: OutboxStore | None = None,
        console: ConsoleSink = default_console,
        sensors: Sensors | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.code = config.box_code
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._own_store = store is None
        self.store = store or OutboxStore(config.resolved_outbox, sync=config.outbox_sync)
        self.outbox: Outbox = self.store.box(self.code)
        self.console = console
        self.outputs = Outputs(self.code, console=console, pins=config.gpio)
        self.sensors = sensors or Sensors(rng=self.rng)
        self.call_handler: CallHandler = DeclineCalls()
        if config.calls:
            # Imported here: aiortc is only needed by boxes that take calls.
            from safezone.box.call import WebRtcCalls

            self.call_handler = WebRtcCalls.from_config(config)
        self.connected = asyncio.Event()
        self.acked = 0
        self.commands: list[Command] = []
        self._client: aiomqtt.Client | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._started = time.monotonic()
        self._last_reading = time.monotonic()
        self._tasks: set[asyncio.Task[Any]] = set()

    def _topic(self, leaf: str) -> str:
        return topic_for(self.config.topic_root, self.code, leaf)

    # --- events -------------------------------------------------------------------------------

    def record(self, kind: str, *, delay_s: float = 0.0, **fields: Any) -> str:
        """Write an event to the outbox (durably) and wake the sender; returns its event_id."""
        at = utcnow()

        def build(seq: int) -> tuple[str, str, bytes]:
            event_id = str(uuid.uuid4())
            body = {"event_id": event_id, "box_id": self.code, "seq": seq, "time": at,
                    "kind": kind, **fields}
            return event_id, kind, EVENTS.validate_python(body).encode()

        not_before = time.time() + delay_s if delay_s > 0 else None
        event_id, _seq = self.outbox.add(build, not_before=not_before)
        self._wake.set()
        return event_id

    def press(self, button: str = "main") -> str:
        """The SOS button."""
        self.console(f"[{self.code}] SOS pressed")
        return self.record("sos_pressed", button=button)

    def cancel(self, cancels: str | None = None) -> str:
        """The cancel button (cancels the latest press unless one is named)."""
        return self.record("sos_cancelled", cancels=cancels, reason="cancelled at the box")

    def tamper(self, sensor: str = "enclosure") -> str:
        return self.record("tamper", sensor=sensor)

    def door(self, open: bool) -> str:
        return self.record("door_open", open=open)

    def power(self, mains: bool) -> str:
        """Mains lost (reported after a random delay) or restored (reported at once)."""
        self.sensors.mains = mains
        reading = self.sensors.read()
        if mains:
            return self.record("power_restored")
        delay = self.rng.uniform(0, self.config.power_report_jitter_s)
        return self.record("power_lost", delay_s=delay, battery_pct=reading.battery_pct,
                           report_delay_s=round(delay, 3))

    def on_input(self, name: str, active: bool) -> None:
        """A GPIO input changed (see ``devices.GpioInputs``)."""
        if name == "button" and active:
            self.press()
        elif name == "cancel" and active:
            self.cancel()
        elif name == "tamper" and active:
            self.tamper()
        elif name == "door":
            self.door(active)
        elif name == "mains":
            self.power(active)

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, send and obey until ``stop()``."""
        sender = asyncio.create_task(self._sender(), name=f"{self.code}-sender")
        try:
            await self._connection_loop()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            await self._close_calls()
            for task in list(self._tasks):
                task.cancel()
            self.outputs.close()
            if self._own_store:
                self.store.close()

    def stop(self) -> None:
        self._stopping.set()

    async def _connection_loop(self) -> None:
        attempt = 0
        host, port, tls = self.config.broker()
        while not self._stopping.is_set():
            will = aiomqtt.Will(
                self._topic("status"),
                Status(box_id=self.code, state="offline").encode(),
                qos=1,
                retain=True,
            )
            client = aiomqtt.Client(
                host, port,
                username=self.code,
                password=self.config.secret.get_secret_value(),
                identifier=self.config.resolved_client_id,
                will=will,
                clean_session=not self.config.persistent_session,
                keepalive=30,
                timeout=10,
                tls_params=aiomqtt.TLSParameters() if tls else None,
            )
            try:
                async with client:
                    attempt = 0
                    await self._session(client)
            except aiomqtt.MqttError as exc:
                if not self._stopping.is_set():
                    log.info("%s: broker connection failed or lost: %s", self.code, exc)
            finally:
                self._client = None
                self.connected.clear()
            if self._stopping.is_set():
                break
            delay = backoff(attempt, self.config.reconnect_initial_s,
                            self.config.reconnect_max_s, self.rng)
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _session(self, client: aiomqtt.Client) -> None:
        await client.subscribe([(self._topic("ack"), 1), (self._topic("cmd"), 1)])
        await client.publish(
            self._topic("status"),
            Status(box_id=self.code, state="online", time=utcnow(),
                   firmware=self.config.firmware).encode(),
            qos=1, retain=True,
        )
        self._client = client
        # Acks may have been lost with the connection: resend everything now.
        self.outbox.all_due_now(time.time())
        self.connected.set()
        self._wake.set()
        beat = asyncio.create_task(self._heartbeats(client), name=f"{self.code}-heartbeat")
        stop = asyncio.create_task(self._stopping.wait())
        try:
            receive = asyncio.create_task(self._receive(client))
            done, _ = await asyncio.wait({receive, stop}, return_when=asyncio.FIRST_COMPLETED)
            if receive in done:
                receive.result()  # raises MqttError on a lost connection
            else:
                receive.cancel()
                await self._close_calls()  # while connected, so the server hears the hang-up
                # A clean goodbye: the will is only sent on an unclean one.
                await client.publish(self._topic("status"),
                                     Status(box_id=self.code, state="offline",
                                            time=utcnow()).encode(), qos=1, retain=True)
        finally:
            beat.cancel()
            stop.cancel()

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            if message.topic.matches(self._topic("ack")):
                self._on_ack(parse_ack(payload))
            elif message.topic.matches(self._topic("cmd")):
                command = parse_command(payload)
                if isinstance(command, Rejection):
                    log.warning("%s: bad command refused (%s): %s", self.code, command.reason,
                                command.detail)
                    continue
                self._spawn(self._obey(command))

    def _on_ack(self, ack: Ack | Rejection) -> None:
        if isinstance(ack, Rejection):
            log.warning("%s: bad ack refused: %s", self.code, ack.detail)
            return
        if self.outbox.acknowledged(ack.event_id):
            self.acked += 1

    # --- sending ------------------------------------------------------------------------------

    async def _sender(self) -> None:
        while True:
            await self.connected.wait()
            client = self._client
            now = time.time()
            for item in self.outbox.due(now) if client is not None else []:
                try:
                    assert client is not None  # noqa: S101 - checked above
                    await client.publish(self._topic("event"), item.payload, qos=1)
                except aiomqtt.MqttError:
                    break  # the connection loop reconnects; everything stays in the outbox
                wait = backoff(item.attempts, self.config.resend_initial_s,
                               self.config.resend_max_s, self.rng)
                self.outbox.sent(item.event_id, time.time() + wait)
            next_at = self.outbox.next_due()
            timeout = 5.0 if next_at is None else min(5.0, max(0.0, next_at - time.time()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _heartbeats(self, client: aiomqtt.Client) -> None:
        first = True
        while True:
            now = time.monotonic()
            reading = self.sensors.read(now - self._last_reading)
            self._last_reading = now
            beat = Heartbeat(
                box_id=self.code, time=utcnow(), battery_pct=reading.battery_pct,
                mains=reading.mains, temperature_c=reading.temperature_c,
                signal_dbm=reading.signal_dbm, firmware=self.config.firmware,
                uptime_s=round(now - self._started, 1), outbox=self.outbox.count(),
            )
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(self._topic("heartbeat"), beat.encode(), qos=0)
            # After the first beat, a random phase: a fleet started together spreads out.
            period = self.config.heartbeat_s
            await asyncio.sleep(self.rng.uniform(0, period) if first else period)
            first = False

    async def _close_calls(self) -> None:
        close = getattr(self.call_handler, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close(self)

    async def send_call_signal(self, type: str, call_id: str, **fields: Any) -> None:
        """Publish call signalling (``call_answer``, ``call_ice``, ``call_end``) upstream."""
        client = self._client
        if client is None:
            raise aiomqtt.MqttError("not connected")
        signal = CallSignal.model_validate(
            {"box_id": self.code, "type": type, "call_id": call_id, **fields}
        )
        await client.publish(self._topic("call"), signal.encode(), qos=1)

    # --- commands -----------------------------------------------------------------------------

    async def _obey(self, command: Command) -> None:
        self.commands.append(command)
        if isinstance(command, HelpComing):
            self.outputs.set("light", True)
            self.console(f"[{self.code}] HELP IS COMING" + (f": {command.text}"
                                                            if command.text else ""))
        elif isinstance(command, Strobe):
            self.outputs.set("strobe", command.on)
        elif isinstance(command, PlayMessage):
            self.console(f"[{self.code}] MESSAGE: {command.text or command.message_id}")
            await asyncio.to_thread(audio.play, audio.tone(), device=self.config.speaker)
        elif isinstance(command, RunSelfTest):
            await self.self_test(command.cmd_id)
        elif isinstance(command, CallCommand):
            await self.call_handler.on_command(self, command)

    async def self_test(self, request_id: str | None = None) -> str:
        """Run the checks and report a ``self_test`` event (through the outbox)."""
        checks = await run_checks(self)
        ok = all(check.ok for check in checks.values())
        self.console(f"[{self.code}] self-test {'passed' if ok else 'FAILED'}")
        fields: dict[str, Any] = {"ok": ok, "checks": {k: v.model_dump(exclude_none=True)
                                                      for k, v in checks.items()}}
        if request_id:
            fields["request_id"] = request_id
        return self.record("self_test", **fields)

    def _spawn(self, job: Any) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
