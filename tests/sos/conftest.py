"""Fixtures for the device-link tests: the app with its link against the embedded broker or
against Mosquitto, provisioned boxes, and running box agents."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from safezone.app import create_app
from safezone.audit.service import Actor
from safezone.box.agent import BoxAgent
from safezone.box.config import BoxConfig
from safezone.db.engine import Database
from safezone.settings import Settings
from safezone.sos.models import SosBox
from safezone.sos.provision import provision_box


@pytest.fixture(params=["embedded", "mosquitto"])
def broker_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def link_settings(settings: Settings, *, topic_root: str, mqtt_url: str | None,
                  **extra: Any) -> Settings:
    """The test settings with a device link suited to tests (quick flushes and checks)."""
    return settings.model_copy(
        update={
            "mqtt_topic_root": topic_root,
            "mqtt_url": mqtt_url,
            "mqtt_port": 0,
            "box_health_flush_s": 0.1,
            **extra,
        }
    )


@pytest.fixture
def sos_settings(
    settings: Settings, broker_kind: str, topic_root: str, mosquitto_url: str
) -> Settings:
    return link_settings(
        settings,
        topic_root=topic_root,
        mqtt_url=mosquitto_url if broker_kind == "mosquitto" else None,
    )


@pytest.fixture
async def link_app(sos_settings: Settings) -> AsyncIterator[Any]:
    """The app with its device link connected."""
    application = create_app(sos_settings, migrate=False)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        await asyncio.wait_for(application.state.box_link.connected.wait(), 15)
        yield application


def broker_url(app: Any) -> str:
    """Where boxes connect for this app's link."""
    link = app.state.box_link
    if link.broker is not None:
        return f"mqtt://127.0.0.1:{link.broker.port}"
    return str(link.settings.mqtt_url)


async def add_box(db: Database, settings: Settings, code: str, **columns: Any) -> str:
    """Create and provision a box; returns its secret."""
    async with db.write() as session:
        session.add(SosBox(code=code, name_th=f"ตู้ {code}", lat=6.425, lon=101.823, **columns))
        await session.flush()
        _box, secret = await provision_box(
            session, code=code, actor=Actor(None, "test"), settings=settings
        )
    return secret


def box_config(app: Any, code: str, secret: str, tmp: Path, **extra: Any) -> BoxConfig:
    settings = app.state.box_link.settings
    values: dict[str, Any] = {
        "box_code": code,
        "secret": secret,
        "broker_url": broker_url(app),
        "topic_root": settings.mqtt_topic_root,
        "heartbeat_s": 30.0,
        "outbox_path": tmp / f"{code}.db",
        "outbox_sync": "normal",
        "client_id": f"{settings.mqtt_topic_root}-{code}",
        "http_port": None,
        "resend_initial_s": 0.5,
        "resend_max_s": 2.0,
        "reconnect_initial_s": 0.2,
        "reconnect_max_s": 1.0,
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


async def until(check: Callable[[], Awaitable[bool] | bool], within: float = 10.0) -> None:
    """Poll ``check`` until true; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.02)


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where))
                   or 0)
