"""What the box can switch and sense.

Outputs (the "help is coming" light, strobe, siren) go to GPIO when ``gpiozero`` is installed
(the ``gpio`` extra) and pins are configured, and always to the console sink, so a simulated
box shows what a real one would do. Readings come from the hardware where Linux exposes it
(``/sys/class/thermal``, ``/proc/net/wireless``, ``/sys/class/power_supply``) and are simulated
otherwise; a simulated reading is said to be one in the self-test.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safezone.box.config import GpioPins

log = logging.getLogger(__name__)
console_log = logging.getLogger("safezone.box.console")

ConsoleSink = Callable[[str], None]


def default_console(line: str) -> None:
    """Where a box without a screen says what it does: the log (journald on a device)."""
    console_log.warning("%s", line)


def _gpiozero() -> Any:
    try:
        import gpiozero  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    return gpiozero


@dataclass
class Outputs:
    """The box's light, strobe and siren; their state is kept for status and self-tests."""

    code: str
    console: ConsoleSink = default_console
    pins: GpioPins | None = None
    state: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(
        ("light", "strobe", "siren"), False))
    _devices: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        gpio = _gpiozero() if self.pins else None
        if self.pins and gpio is None:
            log.warning("gpio pins configured but gpiozero is not installed: console only")
        if gpio is not None and self.pins is not None:
            for name in ("light", "strobe", "siren"):
                pin = getattr(self.pins, name)
                if pin is not None:
                    self._devices[name] = gpio.OutputDevice(pin)

    @property
    def hardware(self) -> list[str]:
        """The outputs driven through GPIO."""
        return sorted(self._devices)

    def set(self, name: str, on: bool) -> None:
        """Switch an output and say so on the console."""
        self.state[name] = on
        device = self._devices.get(name)
        if device is not None:
            device.on() if on else device.off()
        self.console(f"[{self.code}] {name.upper()} {'ON' if on else 'OFF'}")

    def close(self) -> None:
        for device in self._devices.values():
            device.close()


@dataclass
class Readings:
    battery_pct: float | None
    mains: bool
    temperature_c: float | None
    signal_dbm: float | None
    simulated: list[str]


class Sensors:
    """Battery, mains, temperature and signal: real where readable, simulated otherwise."""

    def __init__(self, *, rng: random.Random | None = None, sys_root: Path = Path("/")) -> None:
        self.rng = rng or random.Random()  # noqa: S311 - simulation, not security
        self.root = sys_root
        self.mains = True
        self._battery = 100.0

    def _read(self, relative: str) -> str | None:
        try:
            return (self.root / relative).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None

    def _temperature(self) -> float | None:
        raw = self._read("sys/class/thermal/thermal_zone0/temp")
        try:
            return round(int(raw) / 1000, 1) if raw else None
        except ValueError:
            return None

    def _signal(self) -> float | None:
        raw = self._read("proc/net/wireless")
        for line in (raw or "").splitlines()[2:]:
            parts = line.split()
            try:
                return float(parts[3].rstrip("."))
            except (IndexError, ValueError):
                continue
        return None

    def _battery_real(self) -> float | None:
        raw = self._read("sys/class/power_supply/BAT0/capacity")
        try:
            return float(raw) if raw else None
        except ValueError:
            return None

    def read(self, elapsed_s: float = 0.0) -> Readings:
        """Current readings; a simulated battery drains while mains is off."""
        simulated = []
        battery = self._battery_real()
        if battery is None:
            simulated.append("battery")
            # About 8 hours on battery; charges back at the same rate.
            rate = -100 / (8 * 3600) if not self.mains else 100 / (8 * 3600)
            self._battery = min(100.0, max(0.0, self._battery + rate * elapsed_s))
            battery = round(self._battery, 1)
        temperature = self._temperature()
        if temperature is None:
            simulated.append("temperature")
            temperature = round(31 + self.rng.uniform(-2, 2), 1)
        signal = self._signal()
        if signal is None:
            simulated.append("signal")
            signal = round(-62 + self.rng.uniform(-6, 6), 0)
        return Readings(battery, self.mains, temperature, signal, simulated)


class GpioInputs:
    """SOS/cancel buttons, tamper and door switches, mains signal on GPIO (gpiozero)."""

    def __init__(self, pins: GpioPins, on_input: Callable[[str, bool], None]) -> None:
        gpio = _gpiozero()
        if gpio is None:
            raise RuntimeError("GPIO input needs the gpio extra: pip install 'safezone[gpio]'")
        loop = asyncio.get_running_loop()
        self._devices: list[Any] = []

        def hook(name: str, device: Any, active: bool) -> Callable[[], None]:
            # gpiozero calls back from its own thread: hand over to the event loop.
            def callback() -> None:
                loop.call_soon_threadsafe(on_input, name, active)

            return callback

        for name in ("button", "cancel", "tamper", "door", "mains"):
            pin = getattr(pins, name)
            if pin is None:
                continue
            device = gpio.Button(pin, pull_up=name != "mains", bounce_time=0.05)
            device.when_pressed = hook(name, device, True)
            device.when_released = hook(name, device, False)
            self._devices.append(device)

    def close(self) -> None:
        for device in self._devices:
            device.close()
