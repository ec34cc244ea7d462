"""Benchmark: camera coverage queries with many cameras.

    /tmp/v/bin/python bench/coverage.py [--cameras 10000] [--points 300] \
        [--backend sqlite|postgresql]

Measures, in-process against a real database:
- ``cameras_seeing`` (what the SOS alarm pop-up calls), beside two references from the same run:
  a trivial ``SELECT 1`` on the same session (the floor of one database round trip) and the
  naive way (load every camera's columns and run the exact test over all of them);
- ``coverage_of_zone`` for a ~1 km² zone in the middle of the cameras;
- the ``camera_fov`` layer with every wedge, first with a cold wedge cache, then warm.

No target is set for these in the issue; the figures go into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from safezone.audit.service import Actor
from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.cameras import coverage
from safezone.cameras.fov_layer import fov_geojson
from safezone.cameras.models import Camera
from safezone.cameras.wedges import in_view, wedge
from safezone.db.engine import Database
from safezone.db.migrate import upgrade
from safezone.zones.schemas import ZoneCreate
from safezone.zones.service import create_zone

LAT0, LON0, SPAN = 13.68, 100.46, 0.15  # a ~16 km square of Bangkok (~40 cameras per km²)
PG_ADMIN = os.environ.get("SAFEZONE_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def seed(db: Database, cameras: int) -> int:
    await upgrade(db)
    rnd = random.Random(7)
    rows = []
    for i in range(cameras):
        fov = rnd.choice([60.0, 90.0, 90.0, 120.0, 360.0])
        rows.append({
            "code": f"BC-{i:05d}", "name_th": f"กล้อง {i}", "name_en": f"Camera {i}",
            "lat": LAT0 + rnd.random() * SPAN, "lon": LON0 + rnd.random() * SPAN,
            "bearing_deg": rnd.uniform(0, 360), "fov_deg": fov,
            "range_m": rnd.choice([30.0, 50.0, 50.0, 80.0, 150.0, 400.0]),
            "tier": rnd.choice(["linked", "linked", "registered"]),
            "status": rnd.choice(["online", "online", "offline"]), "synthetic": True,
        })
    async with db.write() as session:
        for start in range(0, len(rows), 2000):
            await session.execute(insert(Camera), rows[start : start + 2000])
        mid_lat, mid_lon, half = LAT0 + SPAN / 2, LON0 + SPAN / 2, 0.0045
        ring = [[mid_lon - half, mid_lat - half], [mid_lon + half, mid_lat - half],
                [mid_lon + half, mid_lat + half], [mid_lon - half, mid_lat + half],
                [mid_lon - half, mid_lat - half]]
        zone = await create_zone(
            session, actor=Actor(None, "bench"), max_area_km2=50,
            data=ZoneCreate(name_th="เขตทดสอบ", name_en="Bench zone",
                            geometry={"type": "Polygon", "coordinates": [ring]}),
        )
        return zone.id


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {statistics.median(values) * 1e3:7.2f} ms   p99 {p99 * 1e3:7.2f} ms"


async def naive_seeing(session: object, lat: float, lon: float) -> int:
    rows = (await session.execute(select(*coverage.FOV_COLUMNS))).all()  # type: ignore[attr-defined]
    cams = [coverage.CameraFov(**r._asdict()) for r in rows]
    cams = [c for c in cams if c.known]
    table = np.array([(c.lat, c.lon, c.bearing_deg or np.nan, c.fov_deg, c.range_m) for c in cams])
    mask, _d, _a = in_view(*table.T, lat, lon)
    return int(mask.sum())


async def run(args: argparse.Namespace) -> None:
    admin_engine = None
    if args.backend == "postgresql":
        name = f"safezone_bench_{uuid.uuid4().hex[:8]}"
        admin_engine = create_async_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        async with admin_engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{PG_ADMIN.rpartition('/')[0]}/{name}"
    else:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    db = Database(url)
    try:
        t0 = time.perf_counter()
        zone_id = await seed(db, args.cameras)
        print(f"backend {args.backend}, {args.cameras} cameras seeded in "
              f"{time.perf_counter() - t0:.1f} s")
        rnd = random.Random(11)
        points = [(LAT0 + rnd.random() * SPAN, LON0 + rnd.random() * SPAN)
                  for _ in range(args.points)]
        floor, fast, naive, found = [], [], [], 0
        async with db.session() as session:
            for lat, lon in points:
                t = time.perf_counter()
                await session.execute(text("SELECT 1"))
                floor.append(time.perf_counter() - t)
                t = time.perf_counter()
                hits = await coverage.cameras_seeing(session, lat, lon)
                fast.append(time.perf_counter() - t)
                found += len(hits)
            for lat, lon in points[: max(10, args.points // 10)]:
                t = time.perf_counter()
                await naive_seeing(session, lat, lon)
                naive.append(time.perf_counter() - t)
        print(f"cameras_seeing (SQL prefilter)   {ms(fast)}   ({found / len(points):.1f} "
              "cameras per point)")
        print(f"  reference: SELECT 1            {ms(floor)}")
        print(f"  reference: naive, all cameras  {ms(naive)}")

        runs = []
        async with db.session() as session:
            for _ in range(5):
                wedge.cache_clear()
                t = time.perf_counter()
                measured = await coverage.coverage_of_zone(session, zone_id=zone_id)
                runs.append(time.perf_counter() - t)
        print(f"coverage_of_zone (cold cache)    {ms(runs)}   "
              f"({measured.cameras_potential} cameras reach the zone, "
              f"covered {measured.covered_share:.1%}, potential {measured.potential_share:.1%})")

        who = Principal(0, "bench", "bench", Role.admin, None, "bearer")
        async with db.session() as session:
            wedge.cache_clear()
            t = time.perf_counter()
            layer = await fov_geojson(session, who=who)
            cold = time.perf_counter() - t
            warm = []
            for _ in range(5):
                t = time.perf_counter()
                await fov_geojson(session, who=who)
                warm.append(time.perf_counter() - t)
        print(f"camera_fov layer, {len(layer['features'])} wedges: cold {cold * 1e3:.0f} ms, "
              f"warm {ms(warm)}")
    finally:
        await db.dispose()
        if admin_engine is not None:
            async with admin_engine.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin_engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
