"""The demo's simulated cameras: start the RTSP simulator, link the municipal cameras to it,
and watch them with health-monitor intervals short enough to see states change in a demo.

Without Debian's GStreamer RTSP server the demo still runs; its cameras then stay
``registered`` (no stream to link), and the console says what to install.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Final

from safezone.sim.cameras import CameraSimulator, demo_plan
from safezone.sim.rtsp import INSTALL_HINT, RtspUnavailable

# Demo-friendly health monitor settings (the production defaults are gentler on real
# networks: a probe every 30 s, a picture every 5 min). A picture every 20 s finds the frozen
# camera within a minute; 6 decodes at once (mostly waiting for a key frame, not CPU) give every
# camera its first state and snapshot within seconds of the start. Any of them set in the
# environment (SAFEZONE_CAMERA_...) wins.
MONITOR_SETTINGS: Final[dict[str, Any]] = {
    "camera_monitor_enabled": True,
    "camera_probe_interval_s": 10.0,
    "camera_frame_check_interval_s": 15.0,
    "camera_frame_checks_in_flight": 6,
    "camera_offline_alert_s": 30.0,
}

Echo = Callable[[str], None]


def monitor_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The demo's monitor settings that the environment does not set itself."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in MONITOR_SETTINGS.items() if f"SAFEZONE_{k.upper()}" not in env}


def _unavailable(echo: Echo, problem: RtspUnavailable) -> None:
    echo(f"  cameras: no simulation ({problem}).")
    echo("    The municipal cameras stay 'registered' (a pin, no stream): no live states,")
    echo("    snapshots or video.")
    if problem.not_installed:
        echo(f"    Install Debian's GStreamer RTSP server: {INSTALL_HINT}")
        echo("    (or run `make demo`, which installs it), then start the demo again.")


def start_cameras(echo: Echo) -> CameraSimulator | None:
    """Start the simulator without waiting for it (it loads while the demo seeds); None, with
    a note, when it cannot run here."""
    try:
        # Its own session: the terminal's Ctrl-C reaches only the demo, which stops it after
        # its own clean shutdown.
        return CameraSimulator(demo_plan(), wait=False, new_session=True)
    except RtspUnavailable as exc:
        _unavailable(echo, exc)
        return None


def ready_cameras(simulator: CameraSimulator | None, echo: Echo) -> CameraSimulator | None:
    """Wait until the simulator listens; None, with a note, when it failed to start."""
    if simulator is None:
        return None
    try:
        simulator.wait_ready()
    except RtspUnavailable as exc:
        _unavailable(echo, exc)
        return None
    return simulator


def describe(simulator: CameraSimulator, echo: Echo) -> None:
    """What the console prints about the simulated cameras."""
    plan = simulator.plan
    echo(f"  cameras: {len(plan.codes)} linked municipal cameras simulated at"
         f" {simulator.stream_base}/… (pid {simulator.pid}); deliberate faults:")
    by_fault: dict[str, list[str]] = {}
    for code, fault in sorted(plan.faults.items()):
        by_fault.setdefault(fault, []).append(code)
    for kind, codes in by_fault.items():
        echo(f"    {kind:<12} {', '.join(codes)}")
