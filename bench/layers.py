"""Benchmark: the camera map layer with 5,000 cameras, and the demo's time to healthy.

    .venv/bin/python bench/layers.py [--cameras 5000] [--requests 200] [--backend sqlite|postgresql]

Targets (2-core machine): GET /api/v1/layers/cameras.geojson p50 ≤ 50 ms with 5,000 cameras;
`safezone demo` healthy ≤ 15 s. References measured in the same run: GET /healthz over the same
connection (the floor of one request through the stack) and `safezone serve` on an empty
database (start-up without seeding).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import insert

from safezone.app import UVICORN_OPTIONS, create_app
from safezone.audit.service import Actor
from safezone.auth.roles import Role
from safezone.auth.service import create_user
from safezone.cameras.models import Camera
from safezone.db.engine import Database
from safezone.db.migrate import upgrade
from safezone.demo.boxes import free_port
from safezone.settings import Settings

PASSWORD = "bench-password-123"


async def seed(db: Database, cameras: int) -> None:
    await upgrade(db)
    rnd = random.Random(5)
    rows = [
        {
            "code": f"B-{i:05d}",
            "name_th": f"กล้อง {i}",
            "name_en": f"Camera {i}",
            "lat": 6.40 + rnd.random() * 0.05,
            "lon": 101.80 + rnd.random() * 0.05,
            "bearing_deg": rnd.randrange(360),
            "fov_deg": 90.0,
            "range_m": 50.0,
            "tier": "linked",
            "status": "online",
            "synthetic": True,
        }
        for i in range(cameras)
    ]
    async with db.write() as session:
        await session.execute(insert(Camera), rows)
        await create_user(
            session,
            actor=Actor(None, "bench"),
            username="bench",
            password=PASSWORD,
            role=Role.operator,
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def time_requests(client: httpx.Client, url: str, n: int, headers: dict[str, str]) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        resp = client.get(url, headers=headers)
        resp.raise_for_status()
        resp.read()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def layer_bench(cameras: int, requests: int, database_url: str | None) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="sz-bench-"))
    settings = Settings(data_dir=data_dir, database_url=database_url)
    db = Database(settings.resolved_database_url)
    asyncio.run(seed(db, cameras))
    asyncio.run(db.dispose())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                       **UVICORN_OPTIONS)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": "bench", "password": PASSWORD}
        ).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        body = client.get("/api/v1/layers/cameras.geojson", headers=h).json()
        assert len(body["features"]) == cameras, len(body["features"])
        time_requests(client, "/api/v1/layers/cameras.geojson", 5, h)  # warm-up
        layer = time_requests(client, "/api/v1/layers/cameras.geojson", requests, h)
        health = time_requests(client, "/healthz", requests, {})
    server.should_exit = True
    thread.join(10)
    size_kb = len(httpx.Response(200, json=body).content) / 1024
    print(
        f"layer: GET /api/v1/layers/cameras.geojson, {cameras} cameras, {size_kb:.0f} KiB, "
        f"{requests} requests, backend {'sqlite' if settings.is_sqlite else 'postgresql'}"
    )
    print(
        f"  p50 {statistics.median(layer):.1f} ms  p95 {percentile(layer, 0.95):.1f} ms  "
        f"p99 {percentile(layer, 0.99):.1f} ms   (target p50 ≤ 50 ms)"
    )
    print(
        f"  reference GET /healthz: p50 {statistics.median(health):.2f} ms  "
        f"p95 {percentile(health, 0.95):.2f} ms"
    )


def time_to_healthy(args: list[str], env: dict[str, str], port: int) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "safezone", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = t0 + 120
        while time.perf_counter() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"{args} exited with {proc.returncode}")
            time.sleep(0.05)
        raise RuntimeError(f"{args} not healthy within 120 s")
    finally:
        proc.terminate()
        proc.wait(10)


def startup_bench() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEZONE_")}
    port = free_port()
    demo = time_to_healthy(
        ["demo", "--port", str(port), "--data-dir", tempfile.mkdtemp(prefix="sz-demo-") + "/d"],
        env,
        port,
    )
    port = free_port()
    serve_env = {**env, "SAFEZONE_DATA_DIR": tempfile.mkdtemp(prefix="sz-serve-")}
    serve = time_to_healthy(["serve", "--port", str(port)], serve_env, port)
    print(f"demo: `safezone demo` to healthy {demo:.2f} s (target ≤ 15 s)")
    print(f"  reference `safezone serve` on an empty database to healthy: {serve:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    url = None
    if args.backend == "postgresql":
        url = os.environ.get(
            "SAFEZONE_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        )
        print(f"note: uses {url}; run against a scratch database")
    layer_bench(args.cameras, args.requests, url)
    if not args.skip_demo:
        startup_bench()


if __name__ == "__main__":
    main()
