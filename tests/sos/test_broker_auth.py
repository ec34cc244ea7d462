"""Who may connect and which topics each box may use: the embedded broker's plugins, and a real
Mosquitto run with the password and ACL files that ``safezone box provision`` writes."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select
from typer.testing import CliRunner

from safezone.app import create_app
from safezone.box.agent import BoxAgent
from safezone.cli import app as cli
from safezone.db.engine import Database
from safezone.settings import Settings
from safezone.sos import mosquitto
from safezone.sos.broker import hash_secret
from safezone.sos.models import SosBox
from tests.fixtures.mqtt import Mosquitto, mosquitto_binary
from tests.sos.conftest import add_box, box_config, link_settings, running, until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _client(port: int, user: str | None, password: str | None) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", port, username=user, password=password,
                          identifier=f"t-{uuid.uuid4().hex[:10]}", timeout=5)


async def _refused(port: int, user: str | None, password: str | None) -> bool:
    try:
        async with _client(port, user, password):
            return False
    except aiomqtt.MqttError:
        return True


def _code(granted: Any) -> int:
    return int(getattr(granted, "value", granted))


async def _receives(client: aiomqtt.Client, within: float = 1.0) -> list[str]:
    got: list[str] = []

    async def collect() -> None:
        async for message in client.messages:
            got.append(message.topic.value)

    try:
        await asyncio.wait_for(collect(), within)
    except TimeoutError:
        pass
    return got


@pytest.fixture
def embedded_settings(settings: Settings, topic_root: str) -> Settings:
    return link_settings(settings, topic_root=topic_root, mqtt_url=None)


async def test_embedded_broker_checks_secrets_and_confines_boxes_to_their_topics(
    embedded_settings: Settings, db: Database
) -> None:
    application = create_app(embedded_settings, migrate=False)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        link = application.state.box_link
        await asyncio.wait_for(link.connected.wait(), 15)
        port, root = link.broker.port, link.root
        secret_a = await add_box(db, embedded_settings, "SOS-A1")
        secret_b = await add_box(db, embedded_settings, "SOS-B1")
        await add_box(db, embedded_settings, "SOS-OFF", enabled=False)

        assert await _refused(port, None, None)  # no anonymous clients
        assert await _refused(port, "SOS-A1", "wrong-secret")
        assert await _refused(port, "SOS-A1", secret_b)  # another box's secret
        assert await _refused(port, "SOS-NOBODY", secret_a)
        assert await _refused(port, "SOS-OFF", "anything")
        assert await _refused(port, link.settings.mqtt_server_username, "guess")

        async with _client(port, "SOS-A1", secret_a) as box_a, \
                _client(port, "SOS-B1", secret_b) as box_b:
            # A box cannot subscribe to another box's commands...
            granted = await box_a.subscribe(f"{root}/box/SOS-B1/cmd", qos=1)
            assert [_code(g) for g in granted] == [0x80]  # the broker's "failure"
            await box_b.subscribe(f"{root}/box/SOS-B1/cmd", qos=1)
            # ...nor publish as another box: the server never sees the forged event.
            before = link.stats.received["event"]
            forged = {"event_id": str(uuid.uuid4()), "box_id": "SOS-B1", "seq": 1,
                      "time": "2026-01-01T00:00:00Z", "kind": "sos_pressed"}
            await box_a.publish(f"{root}/box/SOS-B1/event", json.dumps(forged), qos=1)
            await box_a.publish(f"{root}/box/SOS-B1/cmd", b'{"type":"strobe"}', qos=1)
            await box_a.publish(f"{root}/box/SOS-A1/event", json.dumps(
                {**forged, "box_id": "SOS-A1", "event_id": str(uuid.uuid4())}), qos=1)
            await until(lambda: link.stats.events["accepted"] == 1)
            assert link.stats.received["event"] == before + 1  # only its own
            assert await _receives(box_b, 0.5) == []  # the forged command never arrived
        assert link.broker.gate.denied_logins >= 6
        assert link.broker.gate.denied_topics >= 3


async def test_a_will_outside_the_box_status_topic_is_refused(
    embedded_settings: Settings, db: Database
) -> None:
    application = create_app(embedded_settings, migrate=False)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        link = application.state.box_link
        await asyncio.wait_for(link.connected.wait(), 15)
        secret = await add_box(db, embedded_settings, "SOS-W1")
        will = aiomqtt.Will(f"{link.root}/box/SOS-OTHER/event", b"{}", qos=1)
        client = aiomqtt.Client("127.0.0.1", link.broker.port, username="SOS-W1",
                                password=secret, will=will, timeout=5)
        with pytest.raises(aiomqtt.MqttError):
            async with client:
                pass


@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto not installed")
async def test_mosquitto_admits_a_provisioned_box_with_the_files_we_write(
    settings: Settings, db: Database, tmp_path: Path, topic_root: str
) -> None:
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    env = {"SAFEZONE_DATABASE_URL": settings.resolved_database_url,
           "SAFEZONE_DATA_DIR": str(tmp_path), "SAFEZONE_MQTT_TOPIC_ROOT": topic_root}
    async with db.write() as session:
        for code in ("SOS-M1", "SOS-M2"):
            session.add(SosBox(code=code, name_th=code, lat=6.4, lon=101.8))
    runner = CliRunner()
    # The CLI runs its own event loop: call it from a worker thread.
    outs: dict[str, Any] = {}
    for code in ("SOS-M1", "SOS-M2"):
        result = await asyncio.to_thread(
            runner.invoke, cli,
            ["box", "provision", code, "--format", "json", "--mosquitto-passwd", str(passwd),
             "--mosquitto-acl", str(acl)],
            env={**os.environ, **env},
        )
        assert result.exit_code == 0, result.output
        outs[code] = json.loads(result.stdout)
    cred = await asyncio.to_thread(runner.invoke, cli, ["box", "server-credential",
                                   "--mosquitto-passwd", str(passwd)], env={**os.environ, **env})
    server_password = cred.stdout.strip().split(":")[2].split("@")[0]
    config = outs["SOS-M1"]
    assert config["box_code"] == "SOS-M1" and config["topic_root"] == topic_root
    assert (passwd.stat().st_mode & 0o777) == 0o600
    assert mosquitto.verify_mosquitto_hash(config["secret"],
                                           passwd.read_text().splitlines()[0].split(":", 1)[1])
    async with db.session() as session:
        hashes = dict((await session.execute(select(SosBox.code, SosBox.secret_hash))).all())
    assert hashes["SOS-M1"] == hash_secret(config["secret"])

    broker = Mosquitto(tmp_path / "mq", passwd=passwd, acl=acl).start()
    try:
        port = broker.port
        assert await _refused(port, None, None)
        assert await _refused(port, "SOS-M1", "wrong")
        assert await _refused(port, "SOS-M1", outs["SOS-M2"]["secret"])
        async with _client(port, "safezone-server", server_password) as server, \
                _client(port, "SOS-M1", config["secret"]) as box1, \
                _client(port, "SOS-M2", outs["SOS-M2"]["secret"]) as box2:
            await server.subscribe(f"{topic_root}/box/#", qos=1)
            await box2.subscribe(f"{topic_root}/box/SOS-M2/cmd", qos=1)
            # Mosquitto grants a subscription outside the ACL but delivers nothing through it.
            await box1.subscribe(f"{topic_root}/box/SOS-M2/cmd", qos=1)
            await box1.publish(f"{topic_root}/box/SOS-M2/event", b"forged", qos=1)
            await box1.publish(f"{topic_root}/box/SOS-M2/cmd", b"forged", qos=1)
            await box1.publish(f"{topic_root}/box/SOS-M1/event", b"mine", qos=1)
            assert await _receives(server, 0.7) == [f"{topic_root}/box/SOS-M1/event"]
            assert await _receives(box2, 0.3) == []
            await server.publish(f"{topic_root}/box/SOS-M2/cmd", b"for box 2", qos=1)
            assert await _receives(box2, 0.5) == [f"{topic_root}/box/SOS-M2/cmd"]
            assert await _receives(box1, 0.3) == []
        # The whole path with these files: the server's link logs in with its credential,
        # the box with its secret, and a press is stored and acknowledged.
        link_env = link_settings(
            settings, topic_root=topic_root,
            mqtt_url=f"mqtt://safezone-server:{server_password}@127.0.0.1:{port}",
        )
        application = create_app(link_env, migrate=False)
        async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
            await asyncio.wait_for(application.state.box_link.connected.wait(), 15)
            agent = BoxAgent(box_config(application, "SOS-M1", config["secret"], tmp_path))
            async with running(agent):
                agent.press()
                await until(lambda: agent.outbox.count() == 0)
            assert application.state.box_link.stats.events["accepted"] == 1
    finally:
        broker.stop()
