"""Fixtures for the call tests: a network a WebRTC call can use, a real server (uvicorn) whose
device link talks to the embedded broker or to Mosquitto, provisioned boxes and real agents.

WebRTC and loopback: aioice (the box's ICE) leaves 127.0.0.1 out of its host candidates, and
Chromium does too, so a call between two programs on one machine needs a non-loopback
interface address. Every address used is one of this machine's own: the call's packets never
leave it. Where the machine has no such address (a bare container), the tests create a dummy
interface ``sz0`` with 10.213.0.1/24 when they run as root (a dummy interface is local: traffic
to it goes nowhere else), and are skipped, saying why, otherwise. Chromium is started with
real IP candidates (``WebRtcHideLocalIpsWithMdns`` off), so no mDNS name is ever announced or
resolved: nothing is multicast.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from safezone.audit.service import Actor
from safezone.box.agent import BoxAgent
from safezone.box.config import BoxConfig
from safezone.db.engine import Database
from safezone.settings import Settings
from safezone.sos.provision import provision_box
from tests.conftest import LiveServer
from tests.fixtures.mqtt import Mosquitto, system_mosquitto_url

DUMMY_LINK, DUMMY_ADDRESS = "sz0", "10.213.0.1"


def host_addresses() -> list[str]:
    """The IPv4 addresses aioice would offer as host candidates (loopback left out)."""
    from aioice.ice import get_host_addresses

    return [a for a in get_host_addresses(use_ipv4=True, use_ipv6=False)
            if not a.startswith("127.")]


@pytest.fixture(scope="session")
def call_network() -> str:
    """A local non-loopback IPv4 address for ICE (see the module docstring)."""
    addresses = host_addresses()
    if addresses:
        return addresses[0]
    ip = shutil.which("ip")
    if os.geteuid() != 0 or ip is None:
        pytest.skip("WebRTC calls need a non-loopback IPv4 address (aioice leaves 127.0.0.1 "
                    "out); run as root to let the tests add a dummy interface, or add one")
    # Left in place afterwards: a parallel test run may be using it.
    for args in (["link", "add", DUMMY_LINK, "type", "dummy"],
                 ["addr", "add", f"{DUMMY_ADDRESS}/24", "dev", DUMMY_LINK],
                 ["link", "set", DUMMY_LINK, "up"]):
        subprocess.run([ip, *args], check=False, capture_output=True)
    if DUMMY_ADDRESS not in host_addresses():
        pytest.skip(f"could not set up the dummy interface {DUMMY_LINK}")
    return DUMMY_ADDRESS


@pytest.fixture(scope="session")
def mosquitto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shared Mosquitto at 127.0.0.1:1883, or (where none runs) a private anonymous one."""
    url = system_mosquitto_url()
    if url is not None:
        yield url
        return
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"), anonymous=True).start()
    try:
        yield broker.url
    finally:
        broker.stop()


@pytest.fixture
def topic_root() -> str:
    # Unique per test: parallel runs against the shared Mosquitto never see each other.
    return f"sztest-{uuid.uuid4().hex[:12]}/v1"


def call_settings(settings: Settings, *, topic_root: str, mqtt_url: str | None,
                  **extra: Any) -> Settings:
    """The test settings with a device link (and quick health writes) for call tests."""
    return settings.model_copy(update={
        "mqtt_topic_root": topic_root, "mqtt_url": mqtt_url, "mqtt_port": 0,
        "box_health_flush_s": 0.1, **extra,
    })


def server_state(server: LiveServer) -> Any:
    return server.server.config.app.state


async def link_ready(server: LiveServer, within: float = 15.0) -> str:
    """Wait for the server's device link; returns the broker URL boxes should use."""
    link = server_state(server).box_link
    deadline = time.monotonic() + within
    while not link.connected.is_set():
        assert time.monotonic() < deadline, "the server's device link did not connect"
        await asyncio.sleep(0.05)
    if link.broker is not None:
        return f"mqtt://127.0.0.1:{link.broker.port}"
    return str(link.settings.mqtt_url)


async def provision(db: Database, settings: Settings, code: str) -> str:
    """Provision an existing box; returns its secret."""
    async with db.write() as session:
        _box, secret = await provision_box(session, code=code, actor=Actor(None, "test"),
                                           settings=settings)
    return secret


def agent_config(code: str, secret: str, *, broker: str, topic_root: str, tmp: Path,
                 **extra: Any) -> BoxConfig:
    values: dict[str, Any] = {
        "box_code": code, "secret": secret, "broker_url": broker, "topic_root": topic_root,
        "outbox_path": tmp / f"{code}.db", "outbox_sync": "normal", "http_port": None,
        "client_id": f"{topic_root}-{code}", "resend_initial_s": 0.5,
        "reconnect_initial_s": 0.2, "reconnect_max_s": 1.0,
        "video_size": "320x240", "video_fps": 15.0,
    }
    values.update(extra)
    return BoxConfig.model_validate(values)


@asynccontextmanager
async def running(agent: BoxAgent) -> AsyncIterator[BoxAgent]:
    """Run an agent for the duration of the block (connected on entry)."""
    task = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.connected.wait(), 15)
        yield agent
    finally:
        agent.stop()
        await asyncio.wait_for(task, 15)


async def until(check: Any, within: float = 10.0, what: str = "condition") -> None:
    """Poll ``check`` (sync or async) until true; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {within} s")
        await asyncio.sleep(0.05)
