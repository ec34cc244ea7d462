"""The demo's simulated cameras: a deterministic plan with deliberate faults, served by a real
GStreamer RTSP server on one port and seen by the real prober as the states the console shows;
and a clear note, not a failure, where the server cannot run."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from shapely.geometry import Point

from safezone.cameras.rtsp_probe import RtspProber
from safezone.demo import cameras as demo_cameras
from safezone.demo.data import build
from safezone.demo.geography import to_xy, zone_polygon_m
from safezone.sim import rtsp
from safezone.sim.cameras import LOCKED_PASSWORD, LOCKED_USER, CameraSimulator, demo_plan


def test_the_plan_is_deterministic_with_the_faults_in_the_zone() -> None:
    plan = demo_plan()
    assert plan == demo_plan()
    assert Counter(plan.faults.values()) == {
        "offline": 6, "unauthorized": 1, "black": 1, "frozen": 1
    }
    assert len(plan.codes) > 150 and set(plan.faults) <= set(plan.codes)
    served = {p["path"]: p for p in plan.server_paths()}
    assert len(served) == len(plan.codes) - 6
    zone = zone_polygon_m()
    where = {a.values["code"]: (a.values["lon"], a.values["lat"]) for a in build().assets}
    for code, fault in plan.faults.items():
        path = plan.path(code)
        assert (path in served) == (fault != "offline")
        if fault in ("unauthorized", "black", "frozen"):
            assert zone.contains(Point(to_xy(*where[code]))), code
    locked = next(c for c, f in plan.faults.items() if f == "unauthorized")
    assert served[plan.path(locked)]["user"] == LOCKED_USER
    assert plan.expected(locked) == ("unauthorized", None)
    healthy = next(c for c in plan.codes if c not in plan.faults)
    assert plan.expected(healthy) == ("online", None)
    black = next(c for c, f in plan.faults.items() if f == "black")
    assert plan.expected(black) == ("degraded", "black")


def test_demo_monitor_settings_yield_to_the_environment() -> None:
    assert demo_cameras.monitor_settings({})["camera_frame_check_interval_s"] == 15.0
    chosen = demo_cameras.monitor_settings({"SAFEZONE_CAMERA_FRAME_CHECK_INTERVAL_S": "300"})
    assert "camera_frame_check_interval_s" not in chosen
    assert chosen["camera_probe_interval_s"] == 10.0


@pytest.fixture(scope="module")
def simulator() -> Iterator[CameraSimulator]:
    sim = CameraSimulator(demo_plan())
    yield sim
    sim.close()


async def test_the_prober_sees_each_fault_on_one_port(simulator: CameraSimulator) -> None:
    plan = simulator.plan
    prober = RtspProber(max_in_flight=64, timeout_s=5)
    picks = {fault: code for code, fault in sorted(plan.faults.items())}
    healthy = next(c for c in plan.codes if c not in plan.faults)
    for code in (healthy, picks["offline"], picks["unauthorized"], picks["black"]):
        result = await prober.probe(f"{simulator.stream_base}/{code.lower()}", None)
        expected = plan.expected(code)[0]
        # Tamper is found in the picture, not by the probe: a black camera answers fine.
        assert result.state == ("online" if expected == "degraded" else expected), code
    # The password the registry lacks does open the locked camera (it is a real camera).
    opened = await prober.probe(
        f"{simulator.stream_base}/{picks['unauthorized'].lower()}",
        (LOCKED_USER, LOCKED_PASSWORD),
    )
    assert (opened.state, opened.codec, opened.width) == ("online", "h264", 640)


def test_stopping_the_simulator_ends_its_process() -> None:
    sim = CameraSimulator(demo_plan())
    sim.close()
    assert sim.server.proc.returncode == 0


def test_without_debian_python_the_demo_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(rtsp, "DEBIAN_PYTHON", str(tmp_path / "no-python3"))
    notes: list[str] = []
    assert demo_cameras.start_cameras(notes.append) is None
    text = "\n".join(notes)
    assert "stay 'registered'" in text and rtsp.INSTALL_HINT in text


def test_without_gstreamer_bindings_the_demo_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # This interpreter (the venv's) has no python3-gi: the real script reports what is missing.
    if subprocess.run([sys.executable, "-c", "import gi"], capture_output=True).returncode == 0:
        pytest.skip("this interpreter can import gi")
    monkeypatch.setattr(rtsp, "DEBIAN_PYTHON", sys.executable)
    notes: list[str] = []
    started = demo_cameras.start_cameras(notes.append)
    assert demo_cameras.ready_cameras(started, notes.append) is None
    text = "\n".join(notes)
    assert "not installed: python3-gi gir1.2-gst-rtsp-server-1.0" in text
    assert rtsp.INSTALL_HINT in text
