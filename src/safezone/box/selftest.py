"""The box's self-test: each check says what it looked at; none pretends.

A reading that is simulated (no sensor on this machine) passes but says "simulated", so the
health page never mistakes a simulator for tested hardware.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from safezone.box import audio
from safezone.sos.protocol import CheckResult

if TYPE_CHECKING:
    from safezone.box.agent import BoxAgent

LOW_BATTERY = 20.0
TEMPERATURE_RANGE = (-10.0, 70.0)


def _camera_opens(source: str, timeout_s: float = 5.0) -> str | None:
    """None if one frame decodes from ``source``; otherwise why not."""
    import av

    options = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32",
               "timeout": str(int(timeout_s * 1_000_000))}
    try:
        fmt = "v4l2" if source.startswith("/dev/") else None
        with av.open(source, format=fmt, options=options, timeout=timeout_s) as container:
            for _frame in container.decode(video=0):
                return None
        return "no video frame"
    except (av.FFmpegError, OSError) as exc:
        return str(exc)[:150]


async def _audio_check(agent: BoxAgent) -> CheckResult:
    """The configured microphone and speaker really open (ALSA); else the sound cards present."""
    microphone, speaker = agent.config.microphone, agent.config.speaker
    if microphone or speaker:
        problems: list[str] = []
        opened: list[str] = []
        for name, device, works in (("microphone", microphone, audio.microphone_works),
                                    ("speaker", speaker, audio.speaker_works)):
            if not device:
                continue
            why = await asyncio.to_thread(works, device)
            if why:
                problems.append(f"{name} {device}: {why}")
            else:
                opened.append(f"{name} {device}")
        return CheckResult(ok=not problems, detail="; ".join(problems or opened)[:200])
    devices = audio.audio_devices()
    return CheckResult(
        ok=bool(devices) or not agent.config.audio_required,
        detail=", ".join(devices) if devices else "no audio device",
    )


async def run_checks(agent: BoxAgent) -> dict[str, CheckResult]:
    """Run every check (the camera one in a thread: opening it may block)."""
    checks: dict[str, CheckResult] = {}
    try:
        pending = agent.outbox.count()
        row = agent.store.db.execute("PRAGMA quick_check").fetchone()
        ok = bool(row and row[0] == "ok")
        checks["outbox"] = CheckResult(ok=ok, detail=f"{pending} pending, integrity {row[0]}")
    except Exception as exc:  # noqa: BLE001 - a failing check is a result
        checks["outbox"] = CheckResult(ok=False, detail=str(exc)[:150])
    checks["broker"] = CheckResult(ok=agent.connected.is_set(), detail="connected"
                                   if agent.connected.is_set() else "not connected")
    wired = agent.outputs.hardware
    checks["outputs"] = CheckResult(
        ok=True, detail=("gpio: " + ", ".join(wired)) if wired else "console only (no gpio)"
    )
    reading = agent.sensors.read()
    simulated = set(reading.simulated)
    battery = reading.battery_pct
    checks["battery"] = CheckResult(
        ok=battery is None or battery >= LOW_BATTERY,
        detail=f"{battery}%" + (" (simulated)" if "battery" in simulated else ""),
    )
    checks["mains"] = CheckResult(ok=reading.mains, detail="on" if reading.mains else "off")
    temp = reading.temperature_c
    low, high = TEMPERATURE_RANGE
    checks["temperature"] = CheckResult(
        ok=temp is None or low <= temp <= high,
        detail=f"{temp} °C" + (" (simulated)" if "temperature" in simulated else ""),
    )
    checks["audio"] = await _audio_check(agent)
    camera = agent.config.camera
    if camera:
        why = await asyncio.to_thread(_camera_opens, camera)
        checks["camera"] = CheckResult(ok=why is None, detail=why or f"frame from {camera}")
    else:
        checks["camera"] = CheckResult(ok=True, detail="none configured")
    return checks
