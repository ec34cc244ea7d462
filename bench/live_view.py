"""Benchmark: live view CPU per viewed 640×360 stream, and time to first frame in the browser.

    /tmp/v/bin/python bench/live_view.py [--streams 4] [--seconds 20] [--runs 5]

Targets (issue 3, 2-core machine): CPU per viewed 640×360 stream ≤ 3 % of a core; time to
first frame in the browser ≤ 1 s.

* CPU: a real SafeZone server process (uvicorn, SQLite) serves ``--streams`` cameras of
  Debian's GStreamer RTSP server (640×360, 15 fps, H.264) to WebSocket viewers in this process;
  the server's CPU time (utime + stime from /proc, all threads) over ``--seconds`` is divided
  by the number of streams. Measured: idle (no viewers), one viewer per camera (each stream
  its own upstream + remux + WebSocket), and ``--streams`` viewers of one camera (the shared
  upstream: the cost of one more viewer). Reference in the same run: a bare FFmpeg stream copy
  of the same source, ``ffmpeg -rtsp_transport tcp -i URL -c copy -f null -``, per stream.
* Time to first frame: headless Chromium (Debian's) opens the camera page; times from the
  navigation start and from the WebSocket's creation to the <video>'s first ``playing``
  event. Cold: the camera's upstream is closed (the first viewer pays the RTSP connect). Warm:
  another viewer is already watching. Reference in the same run: PyAV opening the same RTSP
  URL and decoding its first frame (``analyzeduration=0, probesize=32``), the floor for any
  viewer that starts from RTSP.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import httpx  # noqa: E402
from tests.fixtures.rtsp import RtspServer  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

import safezone.db.models  # noqa: E402, F401 - every table, so foreign keys resolve
from safezone.audit.service import Actor  # noqa: E402
from safezone.auth.roles import Role  # noqa: E402
from safezone.auth.service import create_user  # noqa: E402
from safezone.cameras.models import Camera  # noqa: E402
from safezone.db.engine import Database  # noqa: E402
from safezone.demo.boxes import free_port  # noqa: E402

PASSWORD = "bench-password-123"
CHROMIUM = os.environ.get("SAFEZONE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TICKS = os.sysconf("SC_CLK_TCK")
# Recorded in the page before any of its scripts run: when the first WebSocket was created
# and when a <video> first played (capture phase: media events do not bubble).
TIMING_SCRIPT = """
window.__t = {ws: null, playing: null};
const NativeWS = window.WebSocket;
window.WebSocket = class extends NativeWS {
  constructor(...args) {
    super(...args);
    if (window.__t.ws === null) window.__t.ws = performance.now();
  }
};
document.addEventListener('playing', () => {
  if (window.__t.playing === null) window.__t.playing = performance.now();
}, true);
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SAFEZONE_DATA_DIR": str(data_dir),
        "SAFEZONE_LIVE_GRACE_S": "1",
        "SAFEZONE_LOG_LEVEL": "warning",
        # Live view alone: no SOS device link (its broker port), no camera health monitor
        # (its probes and picture checks are measured by bench/camera_sweep.py).
        "SAFEZONE_DEVICE_LINK_ENABLED": "false",
        "SAFEZONE_CAMERA_MONITOR_ENABLED": "false",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "safezone.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, cwd=data_dir,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not become healthy")


async def seed(data_dir: Path, urls: list[str]) -> list[int]:
    db = Database(f"sqlite+aiosqlite:///{data_dir / 'safezone.db'}")
    try:
        async with db.write() as session:
            await create_user(session, actor=Actor(None, "bench"), username="bench",
                              password=PASSWORD, role=Role.operator)
            cameras = [
                Camera(code=f"BENCH-{i}", name_th=f"กล้อง {i}", name_en=f"Camera {i}",
                       lat=13.75 + i * 1e-4, lon=100.5, tier="linked", stream_url=url,
                       sharing_policy="always", status="online")
                for i, url in enumerate(urls)
            ]
            session.add_all(cameras)
            await session.flush()
            return [c.id for c in cameras]
    finally:
        await db.dispose()


async def viewer(url: str, headers: dict[str, str], stop: asyncio.Event, counts: list[int]) -> None:
    async with connect(url, additional_headers=headers, max_size=None) as ws:
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.recv(), 1)
            except TimeoutError:
                continue
            if isinstance(message, bytes):
                counts[0] += 1


async def measure_viewers(pid: int, urls: list[str], headers: dict[str, str],
                          seconds: float) -> tuple[float, int]:
    """Server CPU seconds over ``seconds`` with one viewer per URL, and fragments received."""
    stop = asyncio.Event()
    counts = [0]
    tasks = [asyncio.create_task(viewer(u, headers, stop, counts)) for u in urls]
    await asyncio.sleep(3)  # connect, open upstreams, reach steady state
    before, received = cpu_seconds(pid), counts[0]
    await asyncio.sleep(seconds)
    used, got = cpu_seconds(pid) - before, counts[0] - received
    stop.set()
    await asyncio.gather(*tasks)
    await asyncio.sleep(2)  # past the 1 s grace period: upstreams closed
    return used, got


def measure_ffmpeg(urls: list[str], seconds: float) -> float:
    """CPU seconds of one bare FFmpeg stream copy per URL over ``seconds`` (summed)."""
    procs = [
        subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport",
                          "tcp", "-i", u, "-c", "copy", "-f", "null", "-"],
                         stdin=subprocess.DEVNULL)
        for u in urls
    ]
    try:
        time.sleep(3)
        before = [cpu_seconds(p.pid) for p in procs]
        time.sleep(seconds)
        return sum(cpu_seconds(p.pid) - b for p, b in zip(procs, before, strict=True))
    finally:
        for p in procs:
            p.terminate()
            p.wait()


def pyav_first_frame(url: str) -> float:
    began = time.perf_counter()
    with av.open(url, options={"rtsp_transport": "tcp", "analyzeduration": "0",
                               "probesize": "32"}, timeout=(10, 10)) as container:
        for frame in container.decode(video=0):
            del frame
            return time.perf_counter() - began
    raise RuntimeError("no frame")


async def browser_first_frame(base: str, cameras: list[int], runs: int) -> dict[str, list[float]]:
    from playwright.async_api import async_playwright

    out: dict[str, list[float]] = {"cold_nav": [], "cold_ws": [], "warm_nav": [], "warm_ws": []}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context()
        await context.add_init_script(TIMING_SCRIPT)
        page = await context.new_page()
        await page.goto(f"{base}/login?next=/map")
        await page.fill("#username", "bench")
        await page.fill("#password", PASSWORD)
        await page.click("form.login-form button[type=submit]")
        await page.wait_for_url("**/map")

        async def first_frame(target: Any, camera: int) -> tuple[float, float]:
            await target.goto(f"{base}/cameras/{camera}")
            await target.wait_for_function("() => window.__t.playing !== null", timeout=30_000)
            t = await target.evaluate("window.__t")
            return t["playing"] / 1000, (t["playing"] - t["ws"]) / 1000

        for run in range(runs):
            camera = cameras[run % len(cameras)]
            await asyncio.sleep(2.5)  # every upstream is past its 1 s grace period: closed
            nav, ws = await first_frame(page, camera)  # cold: this viewer opens the upstream
            out["cold_nav"].append(nav)
            out["cold_ws"].append(ws)
            second = await context.new_page()  # warm: the first page is still watching
            nav, ws = await first_frame(second, camera)
            out["warm_nav"].append(nav)
            out["warm_ws"].append(ws)
            await second.close()
            await page.goto(f"{base}/map")
        await browser.close()
    return out


def ms(values: list[float]) -> str:
    low, mid, high = (round(v * 1000) for v in (min(values), statistics.median(values),
                                                max(values)))
    return f"{mid} ms (min {low}, max {high})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    paths = [{"path": f"/bench{i}", "pattern": "ball", "width": 640, "height": 360, "fps": 15}
             for i in range(args.streams)]
    with RtspServer(paths) as rtsp, tempfile.TemporaryDirectory() as tmp:
        urls = [rtsp.url(p["path"]) for p in paths]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(Path(tmp), port)
        try:
            cameras = await seed(Path(tmp), urls)
            async with httpx.AsyncClient() as http:
                resp = await http.post(f"{base}/api/v1/auth/token",
                                       data={"username": "bench", "password": PASSWORD})
            token = resp.json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            ws = [f"ws://127.0.0.1:{port}/api/v1/cameras/{c}/live" for c in cameras]

            before = cpu_seconds(server.pid)
            await asyncio.sleep(args.seconds)
            idle = cpu_seconds(server.pid) - before
            per_stream, frags = await measure_viewers(server.pid, ws, headers, args.seconds)
            shared, shared_frags = await measure_viewers(
                server.pid, [ws[0]] * args.streams, headers, args.seconds
            )
            ffmpeg = measure_ffmpeg(urls, args.seconds)
            reference = [pyav_first_frame(urls[i % len(urls)]) for i in range(args.runs)]
            ttff = await browser_first_frame(base, cameras, args.runs)
        finally:
            server.terminate()
            server.wait(timeout=20)

    n, s = args.streams, args.seconds

    def pct(cpu: float) -> str:
        return f"{cpu / s / n * 100:.2f} % of a core"

    print(f"machine: {platform.node()}, {os.cpu_count()} cores; {n} streams, {s:.0f} s each")
    print(f"server idle (no viewers):                    {idle / s * 100:.2f} % of a core total")
    print(f"CPU per viewed stream (own upstream each):   {pct(per_stream)}"
          f"  [{pct(per_stream - idle)} above idle; {frags / s / n:.1f} fragments/s per viewer]")
    print(f"CPU per viewer, {n} viewers of one camera:     {pct(shared)}"
          f"  [{shared_frags / s / n:.1f} fragments/s per viewer]")
    print(f"reference: ffmpeg -c copy -f null, per stream: {pct(ffmpeg)}")
    print(f"first frame, cold (navigation -> playing):   {ms(ttff['cold_nav'])}")
    print(f"first frame, cold (WebSocket -> playing):    {ms(ttff['cold_ws'])}")
    print(f"first frame, warm (navigation -> playing):   {ms(ttff['warm_nav'])}")
    print(f"first frame, warm (WebSocket -> playing):    {ms(ttff['warm_ws'])}")
    print(f"reference: PyAV RTSP open -> first decoded frame: {ms(reference)}")


if __name__ == "__main__":
    asyncio.run(main())
