"""Chaos: a burst of 1,000 presses from 100 simulated boxes while the server process is killed
with SIGKILL (or the broker is restarted) mid-burst → exactly 1,000 stored presses and 1,000
alarms, none twice. The server is a real ``python -m safezone serve`` subprocess on the test
database; the boxes are real agents with a durable outbox. And a frozen broker (SIGSTOP) does
not hold up the link's shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from safezone.alarms.models import Alarm
from safezone.db.engine import Database
from safezone.settings import Settings
from safezone.sim.boxes import BoxFleet, provision_sim_boxes
from safezone.sim.processes import stop_process
from safezone.sos.link import BoxLink
from safezone.sos.models import BoxEvent, SosBox
from tests.fixtures.mqtt import Mosquitto, free_port, mosquitto_binary, port_open
from tests.sos.conftest import link_settings

BOXES, PRESSES = 100, 1000


class ServerProcess:
    """``python -m safezone serve`` with its own environment; killable."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, **env, "SAFEZONE_PORT": str(self.port)}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "safezone", "serve"], env=self.env, stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(  # noqa: S310 - loopback test server
                    f"http://127.0.0.1:{self.port}/healthz", timeout=1
                ) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" + self.log.read_text()[-3000:])
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace_s=15)


async def _burst(
    db: Database,
    settings: Settings,
    tmp_path: Path,
    topic_root: str,
    *,
    server_env: dict[str, str],
    broker_url: str,
    disrupt: Callable[[ServerProcess], Awaitable[None]],
) -> None:
    prefix = f"CH{random.randrange(10**6):06d}"  # noqa: S311
    settings = settings.model_copy(update={"mqtt_topic_root": topic_root})
    boxes = await provision_sim_boxes(db, settings, count=BOXES, prefix=prefix)
    server = ServerProcess(
        {
            "SAFEZONE_DATABASE_URL": settings.resolved_database_url,
            "SAFEZONE_DATA_DIR": str(tmp_path / "server"),
            "SAFEZONE_MQTT_TOPIC_ROOT": topic_root,
            "SAFEZONE_CAMERA_MONITOR_ENABLED": "false",
            "SAFEZONE_LOG_LEVEL": "warning",
            **server_env,
        },
        tmp_path / "server.log",
    )
    await asyncio.to_thread(server.start)
    fleet = BoxFleet(
        boxes, broker_url=broker_url, topic_root=topic_root, outbox=tmp_path / "outbox.db",
        heartbeat_s=30, client_prefix=f"{topic_root}-", resend_initial_s=1.0,
        resend_max_s=6.0, reconnect_max_s=2.0, seed=7,
    )
    event_ids: list[str] = []
    try:
        await fleet.start()
        await fleet.wait_connected(30)
        order = [i % BOXES for i in range(PRESSES)]
        random.Random(1).shuffle(order)
        for n, index in enumerate(order):
            event_ids.append(fleet.press(index))
            if n % 50 == 49:
                await asyncio.sleep(0.1)  # the burst lasts ~2 s
            if n == PRESSES * 2 // 5:
                await disrupt(server)
        assert await fleet.wait_drained(50), (
            f"{fleet.pending()} presses never acknowledged; server log:\n"
            + (tmp_path / "server.log").read_text()[-3000:]
        )
    finally:
        await fleet.stop()
        await asyncio.to_thread(server.stop)
    assert len(set(event_ids)) == PRESSES
    async with db.session() as session:
        ids = select(SosBox.id).where(SosBox.code.startswith(prefix))
        stored = (await session.scalars(
            select(BoxEvent.event_id).where(BoxEvent.kind == "sos_pressed",
                                            BoxEvent.box_id.in_(ids)))).all()
        alarms = (await session.scalars(
            select(Alarm.event_id).where(Alarm.kind == "sos", Alarm.box_id.in_(ids)))).all()
        per_box = (await session.execute(
            select(func.count()).select_from(BoxEvent).where(BoxEvent.box_id.in_(ids))
            .group_by(BoxEvent.box_id))).scalars().all()
    assert len(stored) == PRESSES and set(stored) == set(event_ids)
    assert len(alarms) == PRESSES and set(alarms) == set(event_ids)
    assert len(per_box) == BOXES and set(per_box) == {PRESSES // BOXES}


async def _kill_and_restart(server: ServerProcess) -> None:
    await asyncio.to_thread(server.kill)
    await asyncio.to_thread(server.start)


async def test_server_killed_mid_burst_with_mosquitto(
    db: Database, settings: Settings, tmp_path: Path, topic_root: str, mosquitto_url: str
) -> None:
    await _burst(db, settings, tmp_path, topic_root, server_env={"SAFEZONE_MQTT_URL":
                 mosquitto_url}, broker_url=mosquitto_url, disrupt=_kill_and_restart)


async def test_server_with_embedded_broker_killed_mid_burst(
    db: Database, settings: Settings, tmp_path: Path, topic_root: str
) -> None:
    port = free_port()
    await _burst(db, settings, tmp_path, topic_root, server_env={"SAFEZONE_MQTT_PORT":
                 str(port)}, broker_url=f"mqtt://127.0.0.1:{port}", disrupt=_kill_and_restart)


@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto not installed")
async def test_broker_restarted_mid_burst(
    db: Database, settings: Settings, tmp_path: Path, topic_root: str
) -> None:
    # Our own Mosquitto: the shared one is never restarted.
    broker = Mosquitto(tmp_path / "mosquitto", anonymous=True).start()

    async def restart_broker(_server: Any) -> None:
        await asyncio.to_thread(broker.restart)
        assert port_open("127.0.0.1", broker.port)

    try:
        await _burst(db, settings, tmp_path, topic_root,
                     server_env={"SAFEZONE_MQTT_URL": broker.url}, broker_url=broker.url,
                     disrupt=restart_broker)
    finally:
        broker.stop()


@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto not installed")
async def test_the_link_stops_promptly_when_the_broker_is_frozen(
    db: Database, settings: Settings, tmp_path: Path, topic_root: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broker that stops answering (SIGSTOP: connections open, nothing read or written) must
    not hold up the server's shutdown; and the link's broker connections (made by one
    factory) run without Nagle."""
    broker = Mosquitto(tmp_path / "mosquitto", anonymous=True).start()
    assert broker.proc is not None
    link = BoxLink(db=db, settings=link_settings(settings, topic_root=topic_root,
                                                 mqtt_url=broker.url))
    frozen = False
    try:
        await link.start()
        await asyncio.wait_for(link.connected.wait(), 10)
        sockets = [link._client._client.socket()] if link._client else []  # noqa: SLF001
        assert sockets and all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                               for s in sockets)
        os.kill(broker.proc.pid, signal.SIGSTOP)
        frozen = True
        callers = [asyncio.create_task(link.send_command("SOS-ANY", {"type": "self_test"}))
                   for _ in range(20)]
        await asyncio.sleep(0.3)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="safezone.sos.link"):
            await link.stop()
        assert time.monotonic() - started < 3.0
        assert "did not stop" not in caplog.text
        for caller in callers:
            caller.cancel()
        await asyncio.gather(*callers, return_exceptions=True)
    finally:
        if frozen:
            os.kill(broker.proc.pid, signal.SIGCONT)
        broker.stop(kill=True)
