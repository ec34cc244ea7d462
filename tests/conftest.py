"""Shared fixtures. The whole suite runs once per backend: SAFEZONE_TEST_BACKEND=sqlite (default)
or postgresql (a fresh database is created on the local server for the run and dropped after)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from playwright.async_api import Browser
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from safezone.app import UVICORN_OPTIONS, create_app
from safezone.audit.service import Actor
from safezone.auth.roles import Role
from safezone.auth.service import create_user
from safezone.db.engine import Database
from safezone.db.migrate import upgrade
from safezone.db.models import Base
from safezone.orgs.models import Organisation, OrganisationKind
from safezone.settings import Settings
from tests.fixtures.browser import chromium
from tests.fixtures.mqtt import Mosquitto, system_mosquitto_url
from tests.fixtures.network import local_call_address

BACKEND = os.environ.get("SAFEZONE_TEST_BACKEND", "sqlite")
PG_ADMIN_URL = os.environ.get(
    "SAFEZONE_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "correct-horse-battery"
ARTIFACTS = Path(
    os.environ.get("SAFEZONE_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")
)


def pytest_report_header() -> str:
    return f"safezone database backend: {BACKEND}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = ARTIFACTS / BACKEND
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if BACKEND == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'safezone.db'}"
        return
    if BACKEND != "postgresql":
        raise RuntimeError(f"unknown SAFEZONE_TEST_BACKEND {BACKEND!r}")
    name = f"safezone_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await upgrade(database)
    yield database
    await database.dispose()


@pytest.fixture(autouse=True)
async def _clean(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Empty every table after each test that used the database."""
    yield
    if "db" not in request.fixturenames:
        return
    database: Database = request.getfixturevalue("db")
    async with database.write() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(table.delete())


@pytest.fixture
def settings(tmp_path: Path, database_url: str, db: Database) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        login_max_failures=5,
        # The camera monitor probes and rewrites the status of every linked camera in the
        # background; tests that want it turn it on (tests/cameras/test_health_monitor.py).
        camera_monitor_enabled=False,
        # The app's embedded MQTT broker takes any free port (1883 may be Mosquitto's).
        mqtt_port=0,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings, migrate=False)
    # Generous start-up timeout: the first start migrates, and CI machines are busy.
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def partner_org(db: Database) -> int:
    async with db.write() as session:
        org = Organisation(
            name_th="ร้านทดสอบ", name_en="Test Shop", kind=OrganisationKind.private_business
        )
        session.add(org)
        await session.flush()
        return org.id


UserFactory = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def make_user(db: Database, client: httpx.AsyncClient, partner_org: int) -> UserFactory:
    """Create a user of a role and log in with the token endpoint; returns id and headers."""
    counter = iter(range(1, 10_000))

    async def make(
        role: Role = Role.admin, *, username: str | None = None, organisation_id: int | None = None
    ) -> dict[str, Any]:
        name = username or f"{role.value}{next(counter)}"
        org = (
            organisation_id
            if organisation_id is not None
            else (partner_org if role == Role.partner else None)
        )
        async with db.write() as session:
            user = await create_user(
                session,
                actor=Actor(None, "test"),
                username=name,
                password=PASSWORD,
                role=role,
                organisation_id=org,
            )
        resp = await client.post(
            "/api/v1/auth/token", data={"username": name, "password": PASSWORD}
        )
        assert resp.status_code == 200, resp.text
        token = resp.json()["access_token"]
        return {
            "id": user.id,
            "username": name,
            "organisation_id": org,
            "headers": {"Authorization": f"Bearer {token}"},
        }

    return make


class LiveServer:
    """A real uvicorn server in a thread with its own event loop.

    Its socket is bound here and handed to uvicorn: a port picked first and bound later can be
    taken in between by any outgoing connection's source port.
    """

    def __init__(self, settings: Settings) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings, migrate=False),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            **UVICORN_OPTIONS,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.socket])), daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(settings) as server:
        yield server


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


@pytest.fixture(scope="session")
def call_network() -> str:
    """A local non-loopback IPv4 address for WebRTC's ICE (``tests/fixtures/network.py``)."""
    return local_call_address()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium, one per test module (``tests/fixtures/browser.py``)."""
    async with chromium() as launched:
        yield launched
