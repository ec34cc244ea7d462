"""Many SOS boxes in one process: real ``BoxAgent`` instances (each its own MQTT connection,
own credentials and topics) sharing one event loop and one durable outbox file (a box column
tells their events apart). Used by ``safezone sim boxes``, the demo, the chaos tests and the
benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from safezone.audit.service import Actor
from safezone.box.agent import BoxAgent
from safezone.box.config import BoxConfig
from safezone.box.devices import ConsoleSink
from safezone.box.outbox import OutboxStore
from safezone.db.engine import Database
from safezone.settings import Settings
from safezone.sos.models import SosBox
from safezone.sos.provision import provision_box

log = logging.getLogger(__name__)
# Town centre of Mueang Narathiwat (the demo's zone): simulated boxes stand around it.
CENTRE = (101.823, 6.425)


@dataclass(frozen=True)
class SimBox:
    code: str
    secret: str


async def provision_sim_boxes(
    db: Database,
    settings: Settings,
    *,
    count: int,
    prefix: str = "SIM",
    centre: tuple[float, float] = CENTRE,
    radius_m: float = 1500.0,
) -> list[SimBox]:
    """Create ``prefix-0001``… (synthetic) where missing and give each a fresh secret."""
    rng = random.Random(count)  # noqa: S311 - placement only
    boxes = []
    async with db.write() as session:
        codes = [f"{prefix}-{i:04d}" for i in range(1, count + 1)]
        existing = set(await session.scalars(select(SosBox.code).where(SosBox.code.in_(codes))))
        for i, code in enumerate(codes, start=1):
            if code not in existing:
                # Evenly spread in a disc (sqrt for uniform area density).
                r, a = radius_m * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
                session.add(SosBox(
                    code=code, name_th=f"ตู้ SOS จำลอง {i}", name_en=f"Simulated SOS box {i}",
                    lat=centre[1] + r * math.sin(a) / 110_574,
                    lon=centre[0] + r * math.cos(a) / (111_320 * math.cos(math.radians(centre[1]))),
                    synthetic=True,
                ))
        await session.flush()
        for code in codes:
            _box, secret = await provision_box(
                session, code=code, actor=Actor(None, "sim"), settings=settings
            )
            boxes.append(SimBox(code, secret))
    return boxes


def read_provisioning(path: Path) -> list[SimBox]:
    """Boxes from a JSON file: a list of configs as ``safezone box provision --format json``."""
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return [SimBox(item["box_code"], item["secret"]) for item in data]


def _quiet(line: str) -> None:
    log.debug("%s", line)


class BoxFleet:
    """N agents, one loop, one outbox file."""

    def __init__(
        self,
        boxes: Sequence[SimBox],
        *,
        broker_url: str,
        topic_root: str,
        outbox: Path,
        heartbeat_s: float = 30.0,
        client_prefix: str = "sim-",
        resend_initial_s: float = 2.0,
        resend_max_s: float = 30.0,
        reconnect_max_s: float = 10.0,
        power_report_jitter_s: float = 30.0,
        seed: int | None = None,
        console: ConsoleSink = _quiet,
    ) -> None:
        self.store = OutboxStore(outbox, sync="normal")
        self.rng = random.Random(seed)  # noqa: S311 - simulation
        self.agents = [
            BoxAgent(
                BoxConfig(
                    box_code=box.code,
                    secret=box.secret,
                    broker_url=broker_url,
                    topic_root=topic_root,
                    heartbeat_s=heartbeat_s,
                    outbox_sync="normal",
                    client_id=f"{client_prefix}{box.code}",
                    resend_initial_s=resend_initial_s,
                    resend_max_s=resend_max_s,
                    reconnect_initial_s=0.2,
                    reconnect_max_s=reconnect_max_s,
                    power_report_jitter_s=power_report_jitter_s,
                    http_port=None,
                ),
                store=self.store,
                # Quiet by default (a load test's thousand boxes); the demo prints its few.
                console=console,
                rng=random.Random(self.rng.random()),  # noqa: S311
            )
            for box in boxes
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self.presses = 0

    async def start(self) -> None:
        """Start every agent (they connect in the background)."""
        self._tasks = [asyncio.create_task(a.run(), name=f"sim-{a.code}") for a in self.agents]

    def connected(self) -> int:
        return sum(1 for a in self.agents if a.connected.is_set())

    async def wait_connected(self, within_s: float = 30.0) -> None:
        """Until every agent is connected (TimeoutError otherwise)."""
        async with asyncio.timeout(within_s):
            for agent in self.agents:
                await agent.connected.wait()

    def press(self, index: int | None = None) -> str:
        """Press one box's button (a random one when ``index`` is None)."""
        agent = self.agents[self.rng.randrange(len(self.agents)) if index is None else index]
        self.presses += 1
        return agent.press()

    def pending(self) -> int:
        """Events of all boxes still waiting for an ack."""
        row = self.store.db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(row[0])

    def acked(self) -> int:
        return sum(a.acked for a in self.agents)

    async def wait_drained(self, within_s: float) -> bool:
        """Until every outbox is empty; False if ``within_s`` passes first."""
        deadline = time.monotonic() + within_s
        while self.pending():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def press_at_rate(self, rate: float, duration: float) -> None:
        """Random presses across the fleet, a Poisson process of ``rate`` per second."""
        end = time.monotonic() + duration
        while rate > 0 and time.monotonic() < end:
            await asyncio.sleep(self.rng.expovariate(rate))
            self.press()

    async def stop(self) -> None:
        """Stop every agent (clean disconnect: they publish ``offline``)."""
        for agent in self.agents:
            agent.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 15)
        for task in self._tasks:
            task.cancel()
        self.store.close()
