"""The box's GPIO wiring through gpiozero, on gpiozero's own simulated pins (``MockFactory``):
the real Button / OutputDevice logic (pull-ups, bounce, callbacks from gpiozero's thread), with
the Raspberry Pi's pins driven by the test instead of a finger. Not yet run on a real Pi."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gpiozero
import pytest
from gpiozero.pins.mock import MockFactory

from safezone.box.agent import BoxAgent
from safezone.box.config import GpioPins
from safezone.box.devices import GpioInputs, Outputs
from tests.calls.conftest import agent_config, until

PINS = GpioPins(button=17, cancel=27, tamper=22, door=23, mains=24, light=5, strobe=6, siren=13)


@pytest.fixture
def pins() -> Iterator[Any]:
    previous = gpiozero.Device.pin_factory
    factory = MockFactory()
    gpiozero.Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        gpiozero.Device.pin_factory = previous


def kinds(agent: BoxAgent) -> list[tuple[str, dict[str, Any]]]:
    return [(p.kind, json.loads(p.payload)) for p in agent.outbox.pending()]


async def test_buttons_and_switches_become_events(pins: Any, tmp_path: Path) -> None:
    agent = BoxAgent(agent_config("SOS-GPIO", "s", broker="mqtt://127.0.0.1:1", topic_root="t",
                                  tmp=tmp_path, gpio=PINS.model_dump()), console=lambda _: None)
    inputs = GpioInputs(PINS, agent.on_input)
    try:
        # The mains signal is active high (pulled down): it comes on.
        pins.pin(24).drive_high()
        await until(lambda: [k for k, _ in kinds(agent)] == ["power_restored"], what="mains")
        # The SOS button pulls its pin to ground; pressing and releasing is one press.
        pins.pin(17).drive_low()
        await asyncio.sleep(0.1)
        pins.pin(17).drive_high()
        await until(lambda: len(kinds(agent)) == 2, what="press")
        pins.pin(22).drive_low()  # the enclosure is opened: tamper
        pins.pin(23).drive_low()  # the service door
        await asyncio.sleep(0.1)
        pins.pin(23).drive_high()
        pins.pin(27).drive_low()  # cancel
        await until(lambda: len(kinds(agent)) == 6, what="tamper, door open/closed, cancel")
        pins.pin(24).drive_low()  # mains lost: reported after the agent's jitter
        await until(lambda: len(kinds(agent)) == 7, what="power_lost")
        events = kinds(agent)
        assert [k for k, _ in events] == ["power_restored", "sos_pressed", "tamper", "door_open",
                                          "door_open", "sos_cancelled", "power_lost"]
        assert [body["open"] for k, body in events if k == "door_open"] == [True, False]
        assert agent.sensors.mains is False
    finally:
        inputs.close()
        agent.outputs.close()
        agent.store.close()


def test_outputs_drive_their_pins(pins: Any) -> None:
    lines: list[str] = []
    outputs = Outputs("SOS-GPIO", console=lines.append, pins=PINS)
    try:
        assert outputs.hardware == ["light", "siren", "strobe"]
        outputs.set("light", True)
        outputs.set("strobe", True)
        assert (pins.pin(5).state, pins.pin(6).state, pins.pin(13).state) == (1, 1, 0)
        outputs.set("strobe", False)
        assert pins.pin(6).state == 0 and outputs.state["light"] is True
        assert lines[-1] == "[SOS-GPIO] STROBE OFF"
    finally:
        outputs.close()
