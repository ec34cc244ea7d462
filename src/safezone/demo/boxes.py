"""The demo's SOS boxes: every seeded box gets a secret and a simulated agent.

The agents are the real reference agent (:class:`~safezone.box.agent.BoxAgent`, through
:class:`~safezone.sim.boxes.BoxFleet`): durable outbox, MQTT to the demo's embedded broker,
heartbeats, commands, and WebRTC calls (the agent's default, ``BoxConfig.calls``). They run
on their own event loop in a thread of the demo process, so they start and stop with it and no
process can be left behind. One loopback HTTP endpoint presses their buttons::

    curl -X POST 'http://127.0.0.1:8765/press?box=SOS-SADET'

A press goes into the box's outbox and out over MQTT, exactly as a button on a real box.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import select

from safezone.audit.service import Actor
from safezone.box.http import serve_fleet_http
from safezone.db.engine import Database
from safezone.settings import Settings
from safezone.sim.boxes import BoxFleet, SimBox
from safezone.sos.models import SosBox
from safezone.sos.provision import default_broker_url, provision_box

log = logging.getLogger(__name__)
MQTT_PORT = 1883
PRESS_PORT = 8765  # the reference agent's own default press port


def port_free(host: str, port: int) -> bool:
    """Whether a listener could bind ``host:port`` now (as asyncio does: SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _ephemeral_ports() -> tuple[int, int]:
    """The kernel's range for outgoing connections' source ports (Linux; else its default)."""
    with contextlib.suppress(OSError, ValueError):
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    return 32768, 60999


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now, for another process to listen on.

    Chosen below the kernel's ephemeral range: a port the OS hands out for ``bind(0)`` is
    released again before the other process binds it, and in that gap any outgoing connection
    (to PostgreSQL, to the broker) may take it as its source port.
    """
    low, high = _ephemeral_ports()
    floor = 10000 if low > 12000 else 1024
    rnd = random.SystemRandom()
    for _ in range(200):
        port = rnd.randrange(floor, low) if low > floor else rnd.randrange(high + 1, 65536)
        if port_free(host, port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        chosen: int = probe.getsockname()[1]
        return chosen


def preferred_port(host: str, port: int) -> int:
    """``port`` if it is free, else any free one: the demo must start even where a Mosquitto
    (or another demo) already holds the standard port."""
    return port if port_free(host, port) else free_port(host)


async def provision_demo_boxes(db: Database, settings: Settings) -> list[SimBox]:
    """A fresh secret for every enabled SOS box in the database (the demo's seeded ones)."""
    boxes = []
    async with db.write() as session:
        codes = list(await session.scalars(
            select(SosBox.code).where(SosBox.enabled.is_(True)).order_by(SosBox.code)
        ))
        for code in codes:
            _box, secret = await provision_box(
                session, code=code, actor=Actor(None, "demo"), settings=settings
            )
            boxes.append(SimBox(code, secret))
    return boxes


class DemoBoxes:
    """The simulated agents and their press endpoint, on a loop in a thread of their own."""

    def __init__(
        self,
        boxes: Sequence[SimBox],
        *,
        settings: Settings,
        outbox: Path,
        press_port: int,
        console: Callable[[str], None],
    ) -> None:
        self.boxes = list(boxes)
        self.settings = settings
        self.outbox = outbox
        self.press_port = press_port
        self.console = console
        self.broker_url = default_broker_url(settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="demo-boxes", daemon=True)

    @property
    def press_url(self) -> str:
        """The press endpoint's base URL."""
        return f"http://127.0.0.1:{self.press_port}"

    def start(self, within_s: float = 30.0) -> None:
        """Start the agents (they connect once the broker is up) and the press endpoint."""
        self._thread.start()
        if not self._ready.wait(within_s):
            raise RuntimeError("the simulated SOS boxes did not start")
        if self._error is not None:
            raise RuntimeError("the simulated SOS boxes did not start") from self._error

    def stop(self, within_s: float = 20.0) -> None:
        """Stop every agent (clean disconnect) and the endpoint; wait for the thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(within_s)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # noqa: BLE001 - reported to start(); the demo goes on
            self._error = exc
            log.exception("simulated SOS boxes failed")
        finally:
            self._ready.set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        fleet = BoxFleet(
            self.boxes,
            broker_url=self.broker_url,
            topic_root=self.settings.mqtt_topic_root,
            outbox=self.outbox,
            heartbeat_s=self.settings.box_heartbeat_s,
            client_prefix="demo-",
            # The broker starts with the server, a moment after the agents: retry quickly.
            reconnect_max_s=2.0,
            console=self.console,
        )
        server = await serve_fleet_http({a.code: a for a in fleet.agents}, self.press_port)
        try:
            await fleet.start()
            self._ready.set()
            await self._stop.wait()
        finally:
            server.close()
            await fleet.stop()
