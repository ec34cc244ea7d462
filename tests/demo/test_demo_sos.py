"""`safezone demo` with its SOS boxes, as a newcomer runs it: a real process whose embedded
broker starts even with Mosquitto on 1883, whose simulated box agents connect to it, and whose
documented press (curl to the boxes' local endpoint: agent → outbox → MQTT) reaches an operator
console's WebSocket within a second; the operator acknowledges and the box lights "help is
coming"; stopping the demo leaves nothing behind.

Like test_demo_run, the demo runs on its own SQLite, so the PostgreSQL run skips this module.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect
from websockets.asyncio.client import ClientConnection, connect

from safezone.demo.boxes import port_free
from tests.conftest import BACKEND
from tests.fixtures.browser import MEDIA_ARGS, chromium
from tests.fixtures.demo import PASSWORD, alive, children, running_demo

pytestmark = pytest.mark.skipif(
    BACKEND != "sqlite", reason="the demo always runs on its own SQLite (covered by that run)"
)
BOX = "SOS-SADET"
WARM_UP_BOX = "SOS-BUS"
PRESS_RE = re.compile(r"curl -X POST '(http://127\.0\.0\.1:\d+)/press\?box=SOS-SADET'")
BROKER_RE = re.compile(r"MQTT broker \(embedded\): mqtt://127\.0\.0\.1:(\d+)")


@dataclass
class Demo:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    press_url: str
    broker_port: int
    port_1883_taken: bool

    def output(self) -> str:
        return self.log.read_text(errors="replace")


async def _box_status(demo: Demo, code: str) -> dict[str, Any]:
    """The agent's own state (``GET /status`` of the boxes' local endpoint)."""
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{demo.press_url}/status", params={"box": code})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _until(check: Any, what: str, timeout_s: float, demo: Demo) -> None:
    """Poll the coroutine function ``check`` until it is truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert demo.proc.poll() is None, f"the demo exited:\n{demo.output()}"
        assert time.monotonic() < deadline, f"{what} not within {timeout_s} s:\n{demo.output()}"
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    port_1883_taken = not port_free("127.0.0.1", 1883)
    # No SAFEZONE_MQTT_PORT: the demo picks 1883, or (Mosquitto holds it here and in CI) a free
    # port, and says which in its banner.
    with running_demo(tmp_path_factory.mktemp("demo-sos")) as (proc, url, log):
        text = log.read_text()
        press, broker = PRESS_RE.search(text), BROKER_RE.search(text)
        assert press and broker, f"the banner does not say how to press a box:\n{text}"
        yield Demo(proc, url, log, press.group(1), int(broker.group(1)), port_1883_taken)


async def _next(ws: ClientConnection, type_: str, code: str, timeout_s: float) -> dict[str, Any]:
    """The next console message of ``type_`` about box ``code`` (others are skipped)."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {type_} for {code} within {timeout_s} s"
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        box = (message.get("payload") or {}).get("box") or {}
        if message["type"] == type_ and box.get("code") == code:
            return message


async def _press(press_url: str, code: str) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.post(f"{press_url}/press", params={"box": code})
    assert response.status_code == 202, response.text
    event_id: str = response.json()["event_id"]
    return event_id


async def test_a_pressed_demo_box_reaches_the_console_within_a_second_and_is_acknowledged(
    demo: Demo,
) -> None:
    # Mosquitto holds 1883 on this machine and in CI: the demo started its broker elsewhere.
    if demo.port_1883_taken:
        assert demo.broker_port != 1883
    # The agents are the demo's, connected to its broker.
    async def connected() -> bool:
        return all([(await _box_status(demo, c))["connected"] for c in (BOX, WARM_UP_BOX)])

    async def light(code: str) -> bool:
        return bool((await _box_status(demo, code))["outputs"]["light"])

    await _until(connected, "the demo boxes connected", 20, demo)
    async with httpx.AsyncClient(base_url=demo.url, timeout=10) as api:
        token = await api.post("/api/v1/auth/token",
                               data={"username": "operator", "password": PASSWORD})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    ws_url = demo.url.replace("http://", "ws://") + "/api/v1/live"
    async with connect(ws_url, additional_headers=headers) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["type"] == "hello"
        # Warm-up (first press through every code path, lazy imports): not the promise.
        warm_id = await _press(demo.press_url, WARM_UP_BOX)
        warm = await _next(ws, "alarm.new", WARM_UP_BOX, 10)
        assert warm["payload"]["event_id"] == warm_id
        # The promise: a press shows on the console within a second.
        started = time.monotonic()
        event_id = await _press(demo.press_url, BOX)
        new = await _next(ws, "alarm.new", BOX, 5)
        elapsed = time.monotonic() - started
        alarm = new["payload"]
        assert alarm["event_id"] == event_id
        assert alarm["kind"] == "sos" and alarm["status"] == "new"
        assert elapsed < 1.0, f"press → console took {elapsed:.3f} s"
        assert not await light(BOX)

        async with httpx.AsyncClient(base_url=demo.url, headers=headers, timeout=10) as api:
            acked = await api.post(f"/api/v1/alarms/{alarm['id']}/acknowledge")
        assert acked.status_code == 200, acked.text
        assert acked.json()["status"] == "acknowledged"
        await _next(ws, "alarm.acknowledged", BOX, 5)
    # The box obeyed help_coming: its light is on and it said so on the demo's console.
    await _until(lambda: light(BOX), "the help-is-coming light", 5, demo)

    async def said_so() -> bool:
        return f"[{BOX}] HELP IS COMING" in demo.output()

    await _until(said_so, "the box's message", 5, demo)
    assert not await light(WARM_UP_BOX)
    # The server acknowledged both presses: nothing is left in the boxes' outbox.
    assert (await _box_status(demo, BOX))["pending"] == 0


async def _alarm_of(demo: Demo, headers: dict[str, str], event_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=demo.url, headers=headers, timeout=10) as api:
        deadline = time.monotonic() + 10
        while True:
            response = await api.get("/api/v1/alarms", params={"limit": 50})
            assert response.status_code == 200, response.text
            for alarm in response.json()["data"]:
                if alarm["event_id"] == event_id:
                    return dict(alarm)
            assert time.monotonic() < deadline, f"no alarm for {event_id}"
            await asyncio.sleep(0.1)


async def test_the_operator_answers_a_demo_box_and_sees_and_hears_it(
    demo: Demo, call_network: str, artifacts: Path
) -> None:
    """Answer in the demo's console: a WebRTC call with the demo's own box agent (aiortc, its
    test-pattern camera and tone), signalled through the demo's server and embedded broker.
    ``call_network``: a non-loopback address for ICE (aioice leaves 127.0.0.1 out)."""
    async with httpx.AsyncClient(base_url=demo.url, timeout=10) as api:
        token = await api.post("/api/v1/auth/token",
                               data={"username": "operator", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    async with chromium(*MEDIA_ARGS) as browser:
        context = await browser.new_context(viewport={"width": 1400, "height": 900},
                                            locale="th-TH")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{demo.url}/login?next=/console")
        await page.fill("#username", "operator")
        await page.fill("#password", PASSWORD)
        await page.click("form.login-form button[type=submit]")
        await page.wait_for_url(f"{demo.url}/console")
        await page.wait_for_function(
            "() => window.safezoneConsole && safezoneConsole.ready && safezoneConsole.connected")
        alarm = await _alarm_of(demo, headers, await _press(demo.press_url, BOX))
        await page.locator(f"[data-testid=queue-item][data-alarm-id='{alarm['id']}']").click()
        answer = page.get_by_test_id("answer-button")
        await expect(answer).to_be_enabled(timeout=10_000)
        await answer.click()
        dock = page.get_by_test_id("call-dock")
        await expect(dock).to_have_attribute("data-state", "connected", timeout=20_000)

        async def flowing() -> bool:
            stats = await page.evaluate("() => window.safezoneCall.stats()")
            return bool(stats["videoFramesDecoded"] > 20 and stats["videoFramesPainted"] > 10
                        and stats["audioPackets"] > 50)

        await _until(flowing, "the box's video and audio in the browser", 20, demo)
        await page.screenshot(path=str(artifacts / "demo-call-connected.png"))
        await page.get_by_test_id("hangup-button").click()
        await expect(dock).to_have_attribute("data-state", "ended", timeout=10_000)
        await context.close()
        assert errors == []

    async def box_says(line: str) -> bool:
        return line in demo.output()

    # The box's side, as the demo prints it: the call came, connected and ended.
    for line in (f"[{BOX}] CALL from the command centre", f"[{BOX}] CALL connected",
                 f"[{BOX}] CALL ended (operator_hangup)"):
        await _until(lambda line=line: box_says(line), line, 10, demo)


def test_stopping_the_demo_stops_its_boxes_and_broker(demo: Demo) -> None:
    # Last in this module: it ends the shared demo process.
    kids = children(demo.proc.pid)
    demo.proc.send_signal(signal.SIGTERM)
    assert demo.proc.wait(30) == 0, demo.output()
    assert "demo stopped" in demo.output()
    deadline = time.monotonic() + 5
    while any(alive(p) for p in kids):
        assert time.monotonic() < deadline, "a child process outlived the demo"
        time.sleep(0.1)
    for port in (int(demo.press_url.rsplit(":", 1)[1]), demo.broker_port):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
