"""`safezone demo` end to end, as a newcomer runs it: a real process with its camera simulator
(Debian's GStreamer RTSP server), the health monitor and the web console.

The municipal cameras come up ``online`` with the simulator's deliberate faults in their states,
the zone's coverage is measured, snapshots are JPEGs, the camera wall plays in Chromium, the map
draws the wedges and the coverage headline, and stopping the demo leaves no simulator behind.

The demo always runs on its own embedded SQLite database (it ignores SAFEZONE_DATABASE_URL), so
the PostgreSQL run of the suite skips this module rather than run the same thing twice.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import httpx
import pytest

from safezone.sim.cameras import CameraPlan, demo_plan
from tests.conftest import BACKEND
from tests.fixtures.browser import needs_chromium
from tests.fixtures.demo import PASSWORD, alive, children, free_port, running_demo

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

pytestmark = pytest.mark.skipif(
    BACKEND != "sqlite", reason="the demo always runs on its own SQLite (covered by that run)"
)
STATES_S = 60.0  # the frozen camera needs a second picture, 15 s after the first


@dataclass
class Demo:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    simulator_pid: int
    plan: CameraPlan

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    # The embedded MQTT broker gets a free port so a broker already on 1883 (or another demo)
    # does not matter.
    with running_demo(tmp_path_factory.mktemp("demo-run"),
                      env={"SAFEZONE_MQTT_PORT": str(free_port())}) as (proc, url, log):
        simulators = [p for p in children(proc.pid)
                      if b"rtsp_server.py" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(simulators) == 1, f"camera simulator not running:\n{log.read_text()}"
        yield Demo(proc, url, log, simulators[0], demo_plan())


@pytest.fixture(scope="module")
def api(demo: Demo) -> Iterator[httpx.Client]:
    token = httpx.post(
        f"{demo.url}/api/v1/auth/token", data={"username": "operator", "password": PASSWORD}
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    with httpx.Client(base_url=demo.url, headers=headers, timeout=10) as client:
        yield client


def _cameras(api: httpx.Client) -> dict[str, dict[str, Any]]:
    page = api.get("/api/v1/cameras", params={"limit": 1000})
    assert page.status_code == 200, page.text
    return {c["code"]: c for c in page.json()["data"]}


def _wait_for(check: Any, what: str, timeout_s: float = STATES_S) -> Any:
    """Poll ``check()`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} not within {timeout_s} s"
        time.sleep(0.5)


def _online_in_zone(api: httpx.Client, count: int) -> list[dict[str, Any]]:
    zone = _zone_id(api)

    def found() -> list[dict[str, Any]]:
        cams = [c for c in _cameras(api).values()
                if c["status"] == "online" and c.get("zone_id") == zone]
        return sorted(cams, key=lambda c: c["code"])[:count] if len(cams) >= count else []

    result: list[dict[str, Any]] = _wait_for(found, f"{count} online cameras in the zone")
    return result


def _zone_id(api: httpx.Client) -> int:
    zones = api.get("/api/v1/zones").json()["data"]
    assert len(zones) == 1
    zone_id: int = zones[0]["id"]
    return zone_id


def test_the_zone_coverage_counts_the_linked_online_cameras(api: httpx.Client) -> None:
    zone = _zone_id(api)

    def measured() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get("/api/v1/coverage", params={"zone_id": zone}).json()
        return body if body["covered_share"] > 0 else None

    coverage = _wait_for(measured, "a covered share above 0")
    assert 0 < coverage["covered_share"] <= 1


def test_a_snapshot_of_an_online_camera_is_a_jpeg(api: httpx.Client, tmp_path: Path) -> None:
    camera = _online_in_zone(api, 1)[0]
    response = api.get(f"/api/v1/cameras/{camera['id']}/snapshot.jpg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content[:3] == b"\xff\xd8\xff" and response.content[-2:] == b"\xff\xd9"
    path = tmp_path / "snapshot.jpg"
    path.write_bytes(response.content)
    with av.open(str(path)) as jpeg:
        picture = next(jpeg.decode(video=0))
    assert (picture.width, picture.height) == (640, 360)


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    await context.close()
    assert not errors, errors


async def _sign_in(page: Page, demo: Demo, path: str) -> None:
    await page.goto(f"{demo.url}/login?next={path}")
    await page.fill("#username", "operator")
    await page.fill("#password", PASSWORD)
    await page.click("form.login-form button[type=submit]")
    await page.wait_for_url(f"**{path}*")


async def _plays(page: Page, selector: str) -> None:
    """The <video>'s clock passes 0.5 s and then keeps advancing: it really plays."""
    await page.wait_for_function(
        "(sel) => document.querySelector(sel)?.currentTime > 0.5", arg=selector, timeout=30_000
    )
    now = await page.eval_on_selector(selector, "v => v.currentTime")
    await page.wait_for_function(
        "([sel, t]) => document.querySelector(sel).currentTime > t + 0.5",
        arg=[selector, now], timeout=30_000,
    )


@pytest.mark.browser
@needs_chromium
async def test_the_camera_wall_plays_four_demo_cameras(
    page: Page, demo: Demo, api: httpx.Client, artifacts: Path
) -> None:
    cameras = _online_in_zone(api, 4)
    await _sign_in(page, demo, "/cameras/wall")
    await page.wait_for_selector("#wall[data-ready=true]")
    assert await page.eval_on_selector("#wall", "w => w.dataset.grid") == "2"
    for camera in cameras:
        await page.click(f".wall-camera[data-camera-id='{camera['id']}']")
    tiles = await page.eval_on_selector_all(
        "[data-testid=wall-tile]", "tiles => tiles.map(t => t.dataset.cameraId)"
    )
    assert tiles == [str(c["id"]) for c in cameras]
    for index in range(1, 5):
        await _plays(page, f"[data-testid=wall-tile]:nth-child({index}) video")
    await page.screenshot(path=str(artifacts / "demo-camera-wall-2x2.png"))


@pytest.mark.browser
@needs_chromium
async def test_the_demo_map_shows_wedges_and_the_coverage_headline(
    page: Page, demo: Demo, api: httpx.Client, artifacts: Path
) -> None:
    _online_in_zone(api, 4)  # the monitor has found the cameras: coverage is above 0
    zone = _zone_id(api)
    await _sign_in(page, demo, "/map")
    await page.wait_for_function(
        "() => window.safezoneMap && window.safezoneMap.ready && window.safezoneMap.coverageReady",
        timeout=30_000,
    )
    wedges = await page.evaluate("() => safezoneMap.drawnCount('camera_fov')")
    assert wedges >= 200  # every demo camera has a bearing, a field of view and a range
    from playwright.async_api import expect

    share = page.get_by_test_id("coverage-share")
    await expect(share).to_be_visible()
    assert float(await share.get_attribute("data-share") or "0") > 0
    coverage = await page.evaluate("(z) => safezoneMap.coverage[String(z)]", zone)
    assert coverage["covered_share"] > 0
    await page.screenshot(path=str(artifacts / "demo-map-coverage.png"), animations="disabled")


def test_the_municipal_cameras_show_live_states_and_the_faults(
    api: httpx.Client, demo: Demo
) -> None:
    plan = demo.plan
    healthy = [c for c in plan.codes if c not in plan.faults]

    def settled() -> dict[str, dict[str, Any]] | None:
        cams = _cameras(api)
        faults_shown = all(
            cams[code]["status"] == plan.expected(code)[0] for code in plan.faults
        )
        online = sum(cams[code]["status"] == "online" for code in healthy)
        return cams if faults_shown and online >= 0.95 * len(healthy) else None

    cams = _wait_for(settled, "the demo cameras' states")
    assert set(plan.faults.values()) == {"offline", "unauthorized", "black", "frozen"}
    for code, fault in plan.faults.items():
        if fault in ("black", "frozen"):
            health = api.get(f"/api/v1/cameras/{cams[code]['id']}/health").json()
            assert health["tamper"] == fault, (code, health)
    # Poles without a link stay registered pins; every linked one has been looked at.
    municipal = [c for c in cams.values() if c["code"].startswith("NWT-CAM-")]
    linked = {c["code"] for c in municipal if c["tier"] == "linked"}
    assert linked == set(plan.codes)
    assert all(c["status"] == "unknown" for c in municipal if c["tier"] == "registered")
    summary = api.get("/api/v1/cameras/health/summary").json()
    assert summary["online"] >= 0.95 * len(healthy)


def test_stopping_the_demo_stops_its_camera_simulator(demo: Demo) -> None:
    # Last in this module: it ends the shared demo process.
    assert alive(demo.simulator_pid)
    demo.proc.send_signal(signal.SIGTERM)
    assert demo.proc.wait(20) == 0, demo.output()
    deadline = time.monotonic() + 5
    while alive(demo.simulator_pid):
        assert time.monotonic() < deadline, "the RTSP simulator outlived the demo"
        time.sleep(0.1)
    assert "demo stopped" in demo.output()
