"""Zone coverage, uncovered SOS boxes / risk points and "which cameras see P", against a real
database (SQLite or PostgreSQL) and checked against independent geodesic sampling."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
from pyproj import Geod
from sqlalchemy import update

from safezone.auth.roles import Role
from safezone.cameras import coverage
from safezone.cameras.models import Camera
from safezone.db.engine import Database
from tests.cameras.coverage_scene import (
    CAMERAS,
    EAST,
    NORTH,
    RISK_POINTS,
    SOS_BOXES,
    SOUTH,
    WEST,
    ZONE_RING,
    Cam,
    add_camera,
    build_scene,
    grid_share,
    reference_sees,
)
from tests.conftest import UserFactory

GEOD = Geod(ellps="WGS84")
BY_CODE = {c.code: c for c in CAMERAS}


@pytest.fixture
async def scene(db: Database) -> dict[str, Any]:
    return await build_scene(db)


async def _set(db: Database, camera_id: int, **values: Any) -> None:
    async with db.write() as session:
        await session.execute(update(Camera).where(Camera.id == camera_id).values(**values))


async def test_share_matches_independent_grid_sampling(db: Database, scene: dict[str, Any]) -> None:
    async with db.session() as session:
        result = await coverage.coverage_of_zone(session, zone_id=scene["zone_id"])
    area_m2, _perimeter = GEOD.polygon_area_perimeter(*zip(*ZONE_RING, strict=True))
    assert result.area_km2 == pytest.approx(abs(area_m2) / 1e6, rel=1e-6)

    available = [c for c in CAMERAS if c.available and c.known]
    every = [c for c in CAMERAS if c.known]
    expected = grid_share(available)
    expected_potential = grid_share(every)
    # The scene is not trivial: overlaps, a partly outside circle, wedges only in "potential".
    assert 0.2 < expected < expected_potential < 0.95
    assert result.covered_share == pytest.approx(expected, rel=0.01)
    assert result.potential_share == pytest.approx(expected_potential, rel=0.01)
    assert result.covered_km2 == pytest.approx(expected * result.area_km2, rel=0.01)
    # A, B, C and H (outside, looking in) count; G is 2 km away; F has no wedge.
    assert result.cameras_counted == 4
    assert result.cameras_potential == 6
    assert result.unknown_coverage == [scene["ids"]["F"]]


async def test_only_linked_and_online_cameras_count(db: Database, scene: dict[str, Any]) -> None:
    ids = scene["ids"]

    async def share() -> float:
        async with db.session() as session:
            measured = await coverage.coverage_of_zone(session, zone_id=scene["zone_id"])
        return measured.covered_share

    before = await share()
    await _set(db, ids["E"], status="online")  # linked + now online: counts
    with_e = await share()
    assert with_e > before
    cams = [c for c in CAMERAS if c.available and c.known] + [BY_CODE["E"]]
    assert with_e == pytest.approx(grid_share(cams), rel=0.01)
    for status in ("offline", "unauthorized", "no_video", "degraded", "unknown"):
        await _set(db, ids["E"], status=status)
        assert await share() == pytest.approx(before, rel=1e-9)
    # D is "online" but only registered (no stream the centre can reach): never counted.
    await _set(db, ids["D"], status="online", tier="registered")
    assert await share() == pytest.approx(before, rel=1e-9)
    await _set(db, ids["D"], tier="linked")
    assert await share() > before


async def test_uncovered_sos_boxes_and_risk_points(db: Database, scene: dict[str, Any]) -> None:
    ids = scene["ids"]
    async with db.session() as session:
        missed = await coverage.uncovered(session, zone_id=scene["zone_id"])
    # The expectation comes from the reference test, point by point.
    expected_boxes = {}
    for code, lat, lon in SOS_BOXES:
        if not (WEST <= lon <= EAST and SOUTH <= lat <= NORTH):
            continue
        seeing = [c for c in CAMERAS if reference_sees(c, lat, lon)[0]]
        if not any(c.available for c in seeing):
            expected_boxes[ids[code]] = sorted(ids[c.code] for c in seeing)
    assert expected_boxes == {ids["S2"]: [ids["D"]], ids["S3"]: []}
    assert {p.id: sorted(p.seen_by_unavailable) for p in missed.sos_boxes} == expected_boxes
    by_code = {p.code: p for p in missed.sos_boxes}
    assert not by_code["S2"].no_camera and by_code["S3"].no_camera
    # Landmarks are not risk points; R3 is seen by A and B.
    assert [p.code for p in missed.risk_points] == ["R1"]
    assert missed.risk_points[0].no_camera
    assert [r[0] for r in RISK_POINTS if r[1] == "landmark"] == ["R2"]


async def test_cameras_seeing_nearest_first(db: Database, scene: dict[str, Any]) -> None:
    ids = scene["ids"]
    lat, lon = 13.745, 100.534425  # R3: seen by A and B
    async with db.session() as session:
        found = await coverage.cameras_seeing(session, lat, lon)
    expected = sorted(
        (GEOD.inv(c.lon, c.lat, lon, lat)[2], ids[c.code]) for c in CAMERAS
        if reference_sees(c, lat, lon)[0]
    )
    assert [f.id for f in found] == [cid for _d, cid in expected] == [ids["B"], ids["A"]]
    assert [f.distance_m for f in found] == pytest.approx([d for d, _c in expected], abs=1e-6)
    assert all(f.linked and f.online for f in found)

    # S2 is seen only by D (registered): listed, but not when only available cameras are asked.
    async with db.session() as session:
        any_camera = await coverage.cameras_seeing(session, 13.745521, 100.535953)
        available = await coverage.cameras_seeing(
            session, 13.745521, 100.535953, only_available=True
        )
        nowhere = await coverage.cameras_seeing(session, 13.70, 100.50)
    assert [(f.id, f.linked, f.online) for f in any_camera] == [(ids["D"], False, True)]
    assert available == [] and nowhere == []


async def test_cameras_seeing_agrees_with_brute_force(db: Database) -> None:
    """Many cameras with mixed ranges: the SQL prefilters never drop a camera that sees P."""
    rng = random.Random(20240611)
    cams = []
    for i in range(120):
        fov = rng.choice([30.0, 60.0, 90.0, 120.0, 200.0, 360.0])
        cam = Cam(
            f"RND{i:03d}", 13.74 + rng.uniform(-0.02, 0.02), 100.53 + rng.uniform(-0.02, 0.02),
            None if fov == 360.0 and i % 2 else rng.uniform(0, 360), fov,
            rng.choice([15.0, 80.0, 400.0, 1500.0, 2000.0]),
            status=rng.choice(["online", "offline"]),
        )
        cams.append(cam)
        await add_camera(db, cam)
    points = [
        (13.74 + rng.uniform(-0.025, 0.025), 100.53 + rng.uniform(-0.025, 0.025))
        for _ in range(60)
    ]
    hits = 0
    async with db.session() as session:
        for lat, lon in points:
            for only in (False, True):
                found = await coverage.cameras_seeing(session, lat, lon, only_available=only)
                expected = sorted(
                    (float(GEOD.inv(c.lon, c.lat, lon, lat)[2]), c.code) for c in cams
                    if reference_sees(c, lat, lon)[0] and (c.available or not only)
                )
                assert [f.code for f in found] == [code for _d, code in expected]
                hits += len(found)
    assert hits > 50  # the scene really exercises the query


async def test_coverage_api(
    client: httpx.AsyncClient, make_user: UserFactory, scene: dict[str, Any]
) -> None:
    ids = scene["ids"]
    user = await make_user(Role.viewer)
    resp = await client.get(
        "/api/v1/coverage", params={"zone_id": scene["zone_id"]}, headers=user["headers"]
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) >= {
        "zone_id", "area_km2", "covered_km2", "covered_share", "potential_share",
        "cameras_counted", "unknown_coverage", "uncovered_sos_boxes", "uncovered_risk_points",
    }
    assert body["zone_id"] == scene["zone_id"] and body["scope"] == "all"
    assert body["covered_share"] == pytest.approx(
        grid_share([c for c in CAMERAS if c.available and c.known]), rel=0.01
    )
    assert body["unknown_coverage"] == [ids["F"]]
    boxes = {b["code"]: b for b in body["uncovered_sos_boxes"]}
    assert set(boxes) == {"S2", "S3"}
    assert boxes["S2"]["seen_by_unavailable"] == [ids["D"]] and not boxes["S2"]["no_camera"]
    assert boxes["S3"]["no_camera"]
    assert [r["code"] for r in body["uncovered_risk_points"]] == ["R1"]

    missing = await client.get(
        "/api/v1/coverage", params={"zone_id": 999_999}, headers=user["headers"]
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    anonymous = await client.get("/api/v1/coverage", params={"zone_id": scene["zone_id"]})
    assert anonymous.status_code == 401


async def test_seeing_api_and_bad_coordinates(
    client: httpx.AsyncClient, make_user: UserFactory, scene: dict[str, Any]
) -> None:
    ids = scene["ids"]
    user = await make_user(Role.operator)
    resp = await client.get(
        "/api/v1/cameras/seeing", params={"lat": 13.745, "lon": 100.534425},
        headers=user["headers"],
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["count"] == 2 and body["offset"] == 0
    assert [c["id"] for c in body["data"]] == [ids["B"], ids["A"]]
    first = body["data"][0]
    assert first["code"] == "B" and first["linked"] and first["online"]
    assert first["distance_m"] < body["data"][1]["distance_m"]
    assert "stream_url" not in first and "credentials_enc" not in first
    resp = await client.get(
        "/api/v1/cameras/seeing",
        params={"lat": 13.745521, "lon": 100.535953, "available": "true"},
        headers=user["headers"],
    )
    assert resp.json()["data"] == []

    for params in (
        {"lat": 95, "lon": 100.5},
        {"lat": 13.7, "lon": -181},
        {"lat": "north", "lon": 100.5},
        {"lat": "nan", "lon": 100.5},
        {"lon": 100.5},
    ):
        bad = await client.get(
            "/api/v1/cameras/seeing", params=params,
            headers={**user["headers"], "Accept-Language": "th"},
        )
        assert bad.status_code == 422, params
        assert bad.headers["content-type"].startswith("application/problem+json")
        problem = bad.json()
        assert problem["code"] == "invalid_input"
        assert problem["errors"] and problem["errors"][0]["field"] in {"lat", "lon"}
