"""Helpers for the call tests: a real server (uvicorn) whose device link talks to the embedded
broker or to Mosquitto, provisioned boxes and real agents. The network a call can use is the
shared ``call_network`` fixture (``tests/fixtures/network.py``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from safezone.audit.service import Actor
from safezone.box.agent import BoxAgent
from safezone.box.config import BoxConfig
from safezone.db.engine import Database
from safezone.settings import Settings
from safezone.sos.provision import provision_box
from tests.conftest import LiveServer


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
