"""The device link's in-memory camera index answers "which cameras see this box" exactly as the
database queries do, and is not used once the camera table has changed under it."""

from __future__ import annotations

import random

from safezone.alarms.camera_index import CameraIndex
from safezone.alarms.correlate import cameras_for
from safezone.db.engine import Database
from safezone.settings import Settings
from tests.alarms.support import LAT, LON, add_camera, east_of, north_of


def _ids(cameras: object) -> list[int]:
    return [c.id for c in cameras]  # type: ignore[attr-defined]


async def test_index_answers_like_the_database(db: Database, settings: Settings) -> None:
    rng = random.Random(4)
    async with db.write() as session:
        for i in range(60):
            # Some with a wedge (bearing, FOV, range), some only a position.
            wedge = {} if i % 4 == 0 else {
                "bearing_deg": rng.uniform(0, 360), "fov_deg": rng.choice([60, 90, 120, 360]),
                "range_m": rng.uniform(30, 150),
            }
            await add_camera(
                session, f"CAM-{i:02d}", lat=north_of(LAT, rng.uniform(-300, 300)),
                lon=east_of(LAT, LON, rng.uniform(-300, 300)), **wedge,
            )
    index = CameraIndex(db)
    assert await index.refresh()
    assert not await index.refresh()  # nothing changed: no reload
    points = [(north_of(LAT, rng.uniform(-250, 250)), east_of(LAT, LON, rng.uniform(-250, 250)))
              for _ in range(80)]
    matches = set()
    async with db.session() as session:
        assert await index.is_current(session)
        for lat, lon in points:
            from_db, how_db = await cameras_for(session, lat, lon, settings=settings)
            from_index, how_index = await cameras_for(session, lat, lon, settings=settings,
                                                      index=index)
            assert (_ids(from_index), how_index) == (_ids(from_db), how_db)
            matches.add(how_db)
    # The sample exercised every branch: wedges, the nearest-camera fallback, and none.
    assert matches == {"fov", "nearest", "none"}


async def test_a_changed_camera_table_is_read_from_the_database(
    db: Database, settings: Settings
) -> None:
    index = CameraIndex(db)
    await index.refresh()
    async with db.write() as session:
        camera = await add_camera(session, "CAM-NEW", lat=north_of(LAT, -40), lon=LON,
                                  bearing_deg=0, fov_deg=90, range_m=80)
    async with db.session() as session:
        # Added after the index loaded: the index is stale, the answer is not.
        assert not await index.is_current(session)
        found, how = await cameras_for(session, LAT, LON, settings=settings, index=index)
    assert (_ids(found), how) == ([camera.id], "fov")
    assert await index.refresh()
    async with db.write() as session:
        row = await session.get(type(camera), camera.id)
        assert row is not None
        row.status = "offline"  # a status change counts as a change too
    async with db.session() as session:
        assert not await index.is_current(session)
