"""Simulated cameras for the demo: one real RTSP server (Debian's GStreamer) serving a path per
linked municipal camera, with a few deliberate faults so the console shows realistic states.

Every path sits on ONE port behind ONE shared, always-running encoder per picture
(``share_media``, ``keep_playing``), so ~200 cameras cost a handful of encoders. Faults,
chosen deterministically from the demo seed:

* ``offline``       the path is not served (404), as a camera whose link is down;
* ``unauthorized``  the path wants a password the demo registry does not hold (401);
* ``black``         a black picture (a capped lens or lost video: tamper ``black``);
* ``frozen``        a still picture without a clock (a hung encoder: tamper ``frozen``).

The tamper and password faults and some of the offline ones are inside the zone, where an
operator looks first.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from shapely.geometry import Point

from safezone.demo import data
from safezone.demo.geography import to_xy, zone_polygon_m
from safezone.sim.rtsp import INSTALL_HINT, RtspServerProcess, RtspUnavailable

Fault = Literal["offline", "unauthorized", "black", "frozen"]
PREFIX: Final = "/municipal"
# Healthy cameras show a moving ball or colour bars, both with a ticking wall clock (so two
# pictures a second apart always differ: never mistaken for a frozen one).
PICTURES: Final = ("ball", "smpte")
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
OFFLINE_IN_ZONE: Final = 2
OFFLINE_ELSEWHERE: Final = 4
# The password of the "unauthorized" camera: set on the camera, unknown to the registry.
LOCKED_USER: Final = "nvr-admin"
LOCKED_PASSWORD: Final = "changed-by-the-vendor"  # noqa: S105 - a simulated camera's password
# What each fault should look like in the console: (status, tamper).
EXPECTED: Final[dict[str, tuple[str, str | None]]] = {
    "offline": ("offline", None),
    "unauthorized": ("unauthorized", None),
    "black": ("degraded", "black"),
    "frozen": ("degraded", "frozen"),
}


@dataclass(frozen=True)
class CameraPlan:
    """What the simulator serves: the camera codes, their faults, the server's path list."""

    codes: tuple[str, ...]
    faults: dict[str, Fault] = field(default_factory=dict)
    prefix: str = PREFIX

    def path(self, code: str) -> str:
        """The stream path of a camera (the importer builds ``{stream_base}/{code}``)."""
        return f"{self.prefix}/{code.lower()}"

    def expected(self, code: str) -> tuple[str, str | None]:
        """(status, tamper) the health monitor should report for ``code``."""
        fault = self.faults.get(code)
        return EXPECTED[fault] if fault else ("online", None)

    def server_paths(self) -> list[dict[str, Any]]:
        """The RTSP server's path specs (offline cameras are simply not served)."""
        paths: list[dict[str, Any]] = []
        for index, code in enumerate(self.codes):
            fault = self.faults.get(code)
            entry: dict[str, Any] = {
                "path": self.path(code), "pattern": PICTURES[index % len(PICTURES)],
                "overlay": "clock",
            }
            if fault == "offline":
                continue
            if fault == "unauthorized":
                entry.update(user=LOCKED_USER, password=LOCKED_PASSWORD)
            elif fault == "black":
                entry.update(pattern="black", overlay="none")
            elif fault == "frozen":
                # Still bars, no clock: every picture the same, as from a hung encoder ("smpte"
                # would not do: it has a noise patch).
                entry.update(pattern="smpte75", overlay="none")
            paths.append(entry)
        return paths


def demo_plan(seed: int = data.SEED) -> CameraPlan:
    """The demo's linked municipal cameras, with the same faults for the same seed."""
    zone = zone_polygon_m()
    linked = [
        a for a in data.build(seed).assets
        if a.kind == "cameras" and a.owner == "municipality" and a.linked
    ]
    inside = [a.values["code"] for a in linked
              if zone.contains(Point(to_xy(a.values["lon"], a.values["lat"])))]
    outside = sorted({a.values["code"] for a in linked} - set(inside))
    return CameraPlan(
        codes=tuple(a.values["code"] for a in linked), faults=choose_faults(inside, outside, seed)
    )


def choose_faults(inside: Sequence[str], outside: Sequence[str], seed: int) -> dict[str, Fault]:
    """Deterministic faults: tamper, password and some offline ones in the zone, the rest of
    the offline ones elsewhere."""
    rng = random.Random(f"camera-faults-{seed}")  # noqa: S311 - a demo, not security
    offline: list[Fault] = ["offline"] * OFFLINE_IN_ZONE
    in_zone: list[Fault] = ["unauthorized", "black", "frozen", *offline]
    faults: dict[str, Fault] = dict(
        zip(rng.sample(sorted(inside), len(in_zone)), in_zone, strict=True)
    )
    for code in rng.sample(sorted(outside), OFFLINE_ELSEWHERE):
        faults[code] = "offline"
    return faults


def numbered_plan(count: int) -> CameraPlan:
    """``count`` healthy cameras at ``/municipal/cam-0001`` … (for trying things out)."""
    return CameraPlan(codes=tuple(f"CAM-{n:04d}" for n in range(1, count + 1)))


class CameraSimulator:
    """The running RTSP server for a plan. ``stream_base`` is what the camera import needs."""

    def __init__(
        self, plan: CameraPlan, *, host: str = "127.0.0.1", port: int = 0, wait: bool = True,
        new_session: bool = False,
    ) -> None:
        self.plan = plan
        self.server = RtspServerProcess(
            plan.server_paths(), share_media=True, keep_playing=True, one_port=True,
            host=host, port=port, wait=wait, new_session=new_session,
        )

    def wait_ready(self) -> None:
        """Block until the server listens (``RtspUnavailable`` when it cannot)."""
        self.server.wait_ready()

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.server.pid

    @property
    def stream_base(self) -> str:
        """``rtsp://host:port/municipal``: each camera's stream is ``{stream_base}/{code}``."""
        return f"rtsp://{self.server.host}:{self.server.port}{self.plan.prefix}"

    def describe_faults(self) -> list[str]:
        """One line per faulty camera, for the console."""
        return [f"{code}: {fault}" for code, fault in sorted(self.plan.faults.items())]

    def close(self) -> None:
        """Stop the server."""
        self.server.close()


def serve(*, host: str, port: int, count: int | None, echo: Callable[[str], None]) -> int:
    """``safezone sim cameras``: serve until SIGINT/SIGTERM; the exit status."""
    plan = numbered_plan(count) if count else demo_plan()
    try:
        # Its own session: Ctrl-C reaches only this process, which then stops the server.
        simulator = CameraSimulator(plan, host=host, port=port, new_session=True)
    except RtspUnavailable as exc:
        echo(f"cannot simulate cameras: {exc}")
        if exc.not_installed:
            echo(f"install them: {INSTALL_HINT}")
        return 1
    stop: list[int] = []
    previous = {s: signal.signal(s, lambda n, _f: stop.append(n)) for s in STOP_SIGNALS}
    try:
        echo(f"{len(plan.codes)} cameras at {simulator.stream_base}/<code> "
             f"(e.g. {simulator.stream_base}/{plan.codes[0].lower()}); Ctrl-C stops")
        for line in simulator.describe_faults():
            echo(f"  fault {line}")
        while not stop and simulator.server.proc.poll() is None:
            time.sleep(0.2)
        return 0 if stop else 1
    finally:
        simulator.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
