"""The demo data set: plausible, labelled synthetic, deterministic, and written through the
services (so the audit chain holds)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from pyproj import Geod
from shapely.geometry import Point, shape
from sqlalchemy import func, select

from safezone.assets.kinds import KINDS
from safezone.audit.service import verify
from safezone.auth.models import User
from safezone.auth.roles import Role
from safezone.auth.service import LoginOutcome, login
from safezone.auth.throttle import ThrottlePolicy
from safezone.cameras.models import Camera
from safezone.db.engine import Database
from safezone.db.migrate import upgrade
from safezone.demo import DEMO_USERS, DemoAlreadyPresent, DemoSummary, demo_present, seed_demo
from safezone.demo.data import SYNTHETIC_NOTE, build
from safezone.orgs.models import Organisation
from safezone.sos.models import SosBox
from safezone.zones.models import Zone

PASSWORD = "demo-password-123"
# A (simulated) stream source: with it the municipality's linked cameras get stream URLs.
STREAMS = "rtsp://127.0.0.1:8554/demo"
CENTRE = (101.823, 6.425)  # lon, lat
POLICY = ThrottlePolicy(max_failures=5, window=timedelta(minutes=15), block=timedelta(minutes=5))


async def _fresh(path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{path}")
    await upgrade(db)
    return db


@pytest.fixture(scope="module")
async def seeded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[
    tuple[Database, DemoSummary]
]:
    path = tmp_path_factory.mktemp("demo")
    db = await _fresh(path / "t.db")
    summary = await seed_demo(db, password=PASSWORD, stream_base=STREAMS, csv_dir=path)
    yield db, summary
    await db.dispose()


async def test_zone_is_plausible_and_labelled(seeded: tuple[Database, DemoSummary]) -> None:
    db, summary = seeded
    async with db.session() as session:
        zone = await session.get(Zone, summary.zone_id)
    assert zone is not None
    assert 0.22 <= zone.area_km2 <= 0.26
    polygon = shape(zone.geometry)
    assert 8 <= len(polygon.exterior.coords) - 1 <= 14
    _, _, distance = Geod(ellps="WGS84").inv(*CENTRE, polygon.centroid.x, polygon.centroid.y)
    assert distance < 1000
    assert zone.synthetic
    assert zone.description and "ไม่ใช่ข้อมูลจริง" in zone.description
    assert "Synthetic demo data" in zone.description
    assert {r["kind"] for r in zone.reasons} == {"risk", "landmark", "economic"}
    assert zone.population and zone.households


async def test_municipal_cameras(seeded: tuple[Database, DemoSummary]) -> None:
    db, summary = seeded
    async with db.session() as session:
        municipality = await session.scalar(
            select(Organisation).where(Organisation.name_en == "Narathiwat Town Municipality")
        )
        assert municipality is not None
        cameras = (
            await session.scalars(select(Camera).where(Camera.code.like("NWT-CAM-%")))
        ).all()
    assert 190 <= len(cameras) <= 210
    assert all(c.organisation_id == municipality.id for c in cameras)
    in_zone = [c for c in cameras if c.zone_id == summary.zone_id]
    assert 40 <= len(in_zone) <= 60
    assert summary.municipal_cameras == len(cameras)
    assert summary.cameras_in_zone == len(in_zone)
    linked = sum(c.tier == "linked" for c in cameras)
    assert linked > len(cameras) * 0.8 and linked < len(cameras)
    assert all((c.tier == "linked") == (c.stream_url or "").startswith(STREAMS) for c in cameras)
    assert any(c.ptz for c in cameras)
    for c in cameras:
        assert c.fov_deg is not None and 60 <= c.fov_deg <= 110
        assert c.range_m is not None and 30 <= c.range_m <= 80
        assert c.height_m is not None and 4 <= c.height_m <= 8
        assert c.bearing_deg is not None and 0 <= c.bearing_deg < 360


async def test_sos_box_at_sadet_is_inside_the_zone(seeded: tuple[Database, DemoSummary]) -> None:
    db, summary = seeded
    async with db.session() as session:
        box = await session.scalar(select(SosBox).where(SosBox.code == "SOS-SADET"))
        zone = await session.get(Zone, summary.zone_id)
    assert box is not None and zone is not None
    assert shape(zone.geometry).contains(Point(box.lon, box.lat))
    assert box.zone_id == zone.id
    assert 6 <= summary.assets["sos_boxes"] <= 8


async def test_every_asset_is_synthetic(seeded: tuple[Database, DemoSummary]) -> None:
    db, summary = seeded
    async with db.session() as session:
        for kind in KINDS:
            total = await session.scalar(select(func.count()).select_from(kind.model))
            flagged = await session.scalar(
                select(func.count()).select_from(kind.model).where(kind.model.synthetic.is_(True))
            )
            assert total == flagged == summary.assets[kind.path] > 0
            assert await session.scalar(
                select(func.count()).select_from(kind.model).where(
                    kind.model.notes != SYNTHETIC_NOTE
                )
            ) == 0
    assert 10 <= summary.assets["checkpoints"] <= 15
    assert 50 <= summary.assets["street_lights"] <= 70


async def test_one_user_per_role_and_login_works(seeded: tuple[Database, DemoSummary]) -> None:
    db, summary = seeded
    assert [role for _, role in DEMO_USERS] == list(Role)
    assert summary.users == DEMO_USERS
    async with db.session() as session:
        users = (await session.scalars(select(User))).all()
    assert sorted(u.role for u in users) == sorted(Role)
    partner = next(u for u in users if u.role == Role.partner)
    async with db.session() as session:
        org = await session.get(Organisation, partner.organisation_id)
    assert org is not None and org.name_en == "Narathiwat Town Municipality"
    for username, _ in DEMO_USERS:
        async with db.write() as session:
            result = await login(
                session, username=username, password=PASSWORD, client=None, policy=POLICY,
                via="session",
            )
        assert result.outcome == LoginOutcome.ok, username


async def test_audit_chain_verifies(seeded: tuple[Database, DemoSummary]) -> None:
    db, summary = seeded
    async with db.session() as session:
        verdict = await verify(session)
    assert verdict.ok, verdict
    # organisations + station + zone + users + assets (+ logins from other tests)
    assert verdict.checked >= summary.organisations + 2 + len(DEMO_USERS) + summary.total_assets


async def test_seeding_twice_is_refused_and_leaves_the_data_alone(
    seeded: tuple[Database, DemoSummary],
) -> None:
    db, summary = seeded
    async with db.session() as session:
        assert await demo_present(session)
    with pytest.raises(DemoAlreadyPresent):
        await seed_demo(db, password=PASSWORD)
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Zone)) == 1


async def test_seeding_is_deterministic(tmp_path: Path) -> None:
    coordinates = []
    for name in ("a.db", "b.db"):
        db = await _fresh(tmp_path / name)
        async with db.session() as session:
            assert not await demo_present(session)
        await seed_demo(db, password=PASSWORD)
        async with db.session() as session:
            rows = await session.execute(select(Camera.code, Camera.lat, Camera.lon)
                                         .order_by(Camera.code))
            coordinates.append(rows.all())
        await db.dispose()
    assert coordinates[0] == coordinates[1]
    assert len(coordinates[0]) > 200


def test_another_seed_gives_other_data_of_the_same_shape() -> None:
    a, b = build(1), build(2)
    assert [x.values for x in a.assets] != [x.values for x in b.assets]
    assert len(a.assets) == len(b.assets)


async def test_summary_reads_as_one_line(seeded: tuple[Database, DemoSummary]) -> None:
    _, summary = seeded
    text = str(summary)
    assert "\n" not in text
    assert "200 municipal" in text and "6 users" in text
