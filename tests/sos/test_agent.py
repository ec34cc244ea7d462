"""The reference box agent: durable outbox across restarts, the local press endpoint and CLI,
jittered power-loss reports, the generated tone, call signalling, and the simulator CLI."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from safezone.box import audio
from safezone.box.agent import BoxAgent
from safezone.box.cli import app as box_cli
from safezone.box.http import serve_http
from safezone.box.outbox import OutboxStore
from safezone.db.engine import Database
from safezone.sos.models import BoxEvent, SosBox
from safezone.sos.protocol import CallSignal
from tests.fixtures.mqtt import free_port
from tests.sos.conftest import add_box, box_config, count, running, until


async def test_the_outbox_survives_a_restart_and_seq_stays_monotonic(
    link_app: Any, db: Database, tmp_path: Path
) -> None:
    secret = await add_box(db, link_app.state.box_link.settings, "SOS-A1")
    # First run: the broker is unreachable (a closed port), so presses stay in the outbox.
    offline = box_config(link_app, "SOS-A1", secret, tmp_path,
                         broker_url=f"mqtt://127.0.0.1:{free_port()}")
    agent = BoxAgent(offline)
    task = asyncio.create_task(agent.run())
    first, second = agent.press(), agent.press()
    await asyncio.sleep(0.3)
    agent.stop()
    await asyncio.wait_for(task, 10)
    assert [p.seq for p in OutboxStore(offline.resolved_outbox).box("SOS-A1").pending()] == [1, 2]
    # Second run, same outbox file: both go out and are acknowledged; numbering goes on.
    agent = BoxAgent(box_config(link_app, "SOS-A1", secret, tmp_path))
    async with running(agent):
        await until(lambda: agent.outbox.count() == 0)
        third = agent.press()
        await until(lambda: agent.outbox.count() == 0)
    async with db.session() as session:
        rows = (await session.execute(
            select(BoxEvent.event_id, BoxEvent.seq).order_by(BoxEvent.seq))).all()
    assert [(r.event_id, r.seq) for r in rows] == [(first, 1), (second, 2), (third, 3)]


async def test_local_http_endpoint_presses_the_button(
    link_app: Any, db: Database, tmp_path: Path
) -> None:
    secret = await add_box(db, link_app.state.box_link.settings, "SOS-A2")
    agent = BoxAgent(box_config(link_app, "SOS-A2", secret, tmp_path))
    server = await serve_http(agent, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with running(agent), httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            response = await http.post("/press")
            assert response.status_code == 202
            event_id = response.json()["event_id"]
            await until(lambda: agent.outbox.count() == 0)
            status = (await http.get("/status")).json()
            assert status["connected"] is True and status["acked"] == 1
            assert (await http.post("/explode")).status_code == 404
    finally:
        server.close()
    assert await count(db, BoxEvent, BoxEvent.event_id == event_id) == 1


async def test_cli_press_without_a_running_agent_goes_to_the_outbox(tmp_path: Path) -> None:
    config = tmp_path / "box.toml"
    config.write_text(
        'box_code = "SOS-A3"\nsecret = "s3cret"\n'
        f'http_port = {free_port()}\ndata_dir = "{tmp_path}"\noutbox_sync = "normal"\n'
    )
    result = await asyncio.to_thread(CliRunner().invoke, box_cli,
                                     ["press", "--config", str(config)])
    assert result.exit_code == 0, result.output
    listed = await asyncio.to_thread(CliRunner().invoke, box_cli,
                                     ["pending", "--config", str(config)])
    assert "sos_pressed" in listed.stdout and result.stdout.strip() in listed.stdout


async def test_power_loss_reports_wait_a_random_delay(
    link_app: Any, db: Database, tmp_path: Path
) -> None:
    secret = await add_box(db, link_app.state.box_link.settings, "SOS-A4")
    agent = BoxAgent(box_config(link_app, "SOS-A4", secret, tmp_path,
                                power_report_jitter_s=1.5))
    async with running(agent):
        started = time.monotonic()
        agent.power(mains=False)
        (pending,) = agent.outbox.pending()
        delay = json.loads(pending.payload)["report_delay_s"]
        assert 0 <= delay <= 1.5
        await until(lambda: agent.outbox.count() == 0)
        assert time.monotonic() - started >= delay - 0.05
    async with db.session() as session:
        box = await session.scalar(select(SosBox).where(SosBox.code == "SOS-A4"))
    assert box.mains_ok is False


def test_the_attention_tone_is_a_real_wav_at_the_right_pitch() -> None:
    samples = audio.tone(freqs=(880.0,), seconds=0.5)
    with av.open(io.BytesIO(audio.wav_bytes(samples)), format="wav") as container:
        decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    assert np.array_equal(decoded, samples)
    spectrum = np.abs(np.fft.rfft(decoded.astype(float)))
    peak_hz = np.argmax(spectrum) * audio.RATE / len(decoded)
    assert abs(peak_hz - 880) < 5


async def test_a_call_offer_to_an_agent_without_call_media_is_declined(
    link_app: Any, db: Database, tmp_path: Path
) -> None:
    link = link_app.state.box_link
    secret = await add_box(db, link.settings, "SOS-A5")
    signals: list[tuple[str, CallSignal]] = []

    async def on_signal(code: str, signal: CallSignal) -> None:
        signals.append((code, signal))

    unsubscribe = link.on_call_signal(on_signal)
    agent = BoxAgent(box_config(link_app, "SOS-A5", secret, tmp_path, calls=False))
    try:
        async with running(agent):
            await link.send_command("SOS-A5", {"type": "call_offer", "call_id": "c-1",
                                               "sdp": "v=0\r\n"})
            await until(lambda: len(signals) == 1)
    finally:
        unsubscribe()
    code, signal = signals[0]
    assert code == "SOS-A5" and signal.type == "call_end" and signal.call_id == "c-1"
    assert signal.reason == "no call media"


@pytest.fixture
def sos_settings(settings: Any, topic_root: str) -> Any:
    return settings.model_copy(update={"mqtt_topic_root": topic_root, "mqtt_url": None,
                                       "mqtt_port": 0, "box_health_flush_s": 0.1})


async def test_sim_boxes_command_provisions_and_runs_a_fleet(
    link_app: Any, db: Database, tmp_path: Path
) -> None:
    from tests.sos.conftest import broker_url

    settings = link_app.state.box_link.settings
    env = {**os.environ, "SAFEZONE_DATABASE_URL": settings.resolved_database_url,
           "SAFEZONE_DATA_DIR": str(tmp_path),
           "SAFEZONE_MQTT_TOPIC_ROOT": settings.mqtt_topic_root}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "safezone", "sim", "boxes", "--count", "3", "--press-rate", "3",
        "--heartbeat", "0.5", "--duration", "2.5", "--broker-url", broker_url(link_app),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode == 0, output
    assert "3 boxes started" in output and " 0 pending" in output, output
    async with db.session() as session:
        boxes = (await session.scalars(select(SosBox).where(SosBox.code.like("SIM-%")))).all()
        presses = await count(db, BoxEvent, BoxEvent.kind == "sos_pressed")
    assert len(boxes) == 3 and all(b.synthetic and b.secret_hash for b in boxes)
    assert presses >= 1
    assert any(b.last_heartbeat_at is not None for b in boxes)
