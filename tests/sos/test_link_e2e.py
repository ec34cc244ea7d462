"""End to end through a real broker (the embedded amqtt and Mosquitto): box agent → MQTT → link
→ database → ack → agent."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from sqlalchemy import select

from safezone.alarms.models import Alarm
from safezone.box.agent import BoxAgent
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.sos.models import BoxEvent, SosBox
from tests.sos.conftest import add_box, box_config, broker_url, count, running, until


def _event(code: str, *, seq: int = 1, kind: str = "sos_pressed", **fields: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "box_id": code, "seq": seq,
            "time": utcnow().isoformat(), "kind": kind, **fields}


def raw_client(app: Any, code: str, secret: str) -> aiomqtt.Client:
    host_port = broker_url(app).removeprefix("mqtt://")
    host, port = host_port.split(":")
    return aiomqtt.Client(host, int(port), username=code, password=secret,
                          identifier=f"raw-{uuid.uuid4().hex[:10]}")


def topic(app: Any, code: str, leaf: str) -> str:
    return f"{app.state.box_link.root}/box/{code}/{leaf}"


async def test_press_is_committed_once_then_acknowledged(
    link_app: Any, db: Database, tmp_path: Path
) -> None:
    settings = link_app.state.box_link.settings
    secret = await add_box(db, settings, "SOS-E1")
    agent = BoxAgent(box_config(link_app, "SOS-E1", secret, tmp_path))
    async with running(agent):
        event_id = agent.press()
        assert agent.outbox.count() == 1  # durable before it is sent
        await until(lambda: agent.outbox.count() == 0)
    assert agent.acked == 1
    assert await count(db, BoxEvent, BoxEvent.event_id == event_id) == 1
    async with db.session() as session:
        alarm = await session.scalar(select(Alarm).where(Alarm.event_id == event_id))
        box = await session.scalar(select(SosBox).where(SosBox.code == "SOS-E1"))
    assert alarm is not None and alarm.kind == "sos" and alarm.box_id == box.id
    assert box.last_seq == 1 and box.status in ("online", "offline")


async def test_a_resent_event_is_acknowledged_again_but_stored_once(
    link_app: Any, db: Database
) -> None:
    settings = link_app.state.box_link.settings
    secret = await add_box(db, settings, "SOS-E2")
    event = _event("SOS-E2")
    acks: list[str] = []
    async with raw_client(link_app, "SOS-E2", secret) as client:
        await client.subscribe(topic(link_app, "SOS-E2", "ack"), qos=1)
        messages = aiter(client.messages)
        for _ in range(3):  # the first copy, then two resends after lost acks
            await client.publish(topic(link_app, "SOS-E2", "event"), json.dumps(event), qos=1)
            message = await asyncio.wait_for(anext(messages), 15)
            acks.append(json.loads(message.payload)["event_id"])  # type: ignore[arg-type]
    assert acks == [event["event_id"]] * 3
    assert await count(db, BoxEvent, BoxEvent.event_id == event["event_id"]) == 1
    assert await count(db, Alarm, Alarm.event_id == event["event_id"]) == 1
    assert link_app.state.box_link.stats.events["duplicates"] == 2


async def test_foreign_and_invalid_messages_are_counted_and_the_consumer_goes_on(
    link_app: Any, db: Database, broker_kind: str
) -> None:
    link = link_app.state.box_link
    secret = await add_box(db, link.settings, "SOS-E3")
    disabled_secret = await add_box(db, link.settings, "SOS-E3X")
    async with raw_client(link_app, "SOS-E3", secret) as client, \
            raw_client(link_app, "SOS-E3X", disabled_secret) as disabled:
        async with db.write() as session:
            box = await session.scalar(select(SosBox).where(SosBox.code == "SOS-E3X"))
            box.enabled = False
        await client.publish(topic(link_app, "SOS-E3", "event"), b"{not json", qos=1)
        await client.publish(topic(link_app, "SOS-E3", "event"),
                             json.dumps(_event("SOS-OTHER")), qos=1)
        await client.publish(topic(link_app, "SOS-E3", "event"),
                             json.dumps({**_event("SOS-E3"), "v": 2}), qos=1)
        await client.publish(topic(link_app, "SOS-E3", "heartbeat"),
                             json.dumps({"box_id": "SOS-E3", "time": "yesterday"}), qos=1)
        await disabled.publish(topic(link_app, "SOS-E3X", "event"),
                               json.dumps(_event("SOS-E3X")), qos=1)
        good = _event("SOS-E3", seq=2)
        await client.publish(topic(link_app, "SOS-E3", "event"), json.dumps(good), qos=1)
        await until(lambda: link.stats.events["accepted"] == 1)
    if broker_kind == "mosquitto":
        # The shared Mosquitto admits anyone: the link itself must drop unknown boxes.
        port = int(broker_url(link_app).rsplit(":", 1)[1])
        async with aiomqtt.Client("127.0.0.1", port) as anon:
            await anon.publish(topic(link_app, "SOS-NOBODY", "event"),
                               json.dumps(_event("SOS-NOBODY")), qos=1)
        await until(lambda: link.stats.rejected["unknown_box"] == 1)
    rejected = link.stats.rejected
    assert rejected["not_json"] == 1
    assert rejected["box_mismatch"] == 1
    assert rejected["unsupported_version"] == 1
    await until(lambda: link.stats.rejected["disabled_box"] == 1)
    assert rejected["invalid"] == 1  # the heartbeat with a bad time
    assert await count(db, BoxEvent) == 1
    assert await count(db, BoxEvent, BoxEvent.event_id == good["event_id"]) == 1


async def test_heartbeats_are_coalesced_into_box_health(
    link_app: Any, db: Database, tmp_path: Path
) -> None:
    link = link_app.state.box_link
    secret = await add_box(db, link.settings, "SOS-E4")
    agent = BoxAgent(box_config(link_app, "SOS-E4", secret, tmp_path, heartbeat_s=0.05))
    async with running(agent):
        await until(lambda: link.stats.received["heartbeat"] >= 12)
        await link.health.flush()
    async with db.session() as session:
        box = await session.scalar(select(SosBox).where(SosBox.code == "SOS-E4"))
    assert box.last_heartbeat_at is not None
    assert box.battery_pct is not None and box.temperature_c is not None
    assert box.firmware and box.firmware.startswith("safezone-box/")
    # Several heartbeats per flush: far fewer row writes than heartbeats.
    assert link.stats.heartbeats["rows_written"] < link.stats.received["heartbeat"]


async def test_commands_reach_the_box_and_a_self_test_result_is_stored(
    link_app: Any, db: Database, tmp_path: Path
) -> None:
    from safezone.box.audio import audio_devices

    link = link_app.state.box_link
    secret = await add_box(db, link.settings, "SOS-E5")
    # With audio required, the self-test fails honestly on a machine without a sound card.
    agent = BoxAgent(box_config(link_app, "SOS-E5", secret, tmp_path, audio_required=True))
    async with running(agent):
        await link.send_command("SOS-E5", {"type": "help_coming", "text": "ตำรวจกำลังไป"})
        await link.send_command("SOS-E5", {"type": "strobe", "on": True})
        await link.send_command("SOS-E5", {"type": "play_message", "text": "กรุณารอสักครู่"})
        await link.send_command("SOS-E5", {"type": "self_test"})
        with pytest.raises(ValueError, match="invalid box command"):
            await link.send_command("SOS-E5", {"type": "strobe"})  # no "on"
        await until(lambda: agent.outputs.state["light"] and agent.outputs.state["strobe"])
        await until(lambda: agent.outbox.count() == 0 and len(agent.commands) == 4)
        await until(lambda: link.stats.events["self_test"] == 1)
    async with db.session() as session:
        box = await session.scalar(select(SosBox).where(SosBox.code == "SOS-E5"))
    assert box.last_self_test_at is not None
    assert box.self_test_ok is bool(audio_devices())
    if not audio_devices():
        assert box.self_test_detail == "failed: audio"
