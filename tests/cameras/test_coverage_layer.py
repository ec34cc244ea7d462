"""The ``camera_fov`` map layer: listed in the layer index, served as GeoJSON polygons with the
camera's id, code, status and tier, and scoped to a partner's own organisation."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from shapely.geometry import Point, shape

from safezone.auth.roles import Role
from safezone.db.engine import Database
from safezone.geo.area import geodesic_area_km2
from tests.cameras.coverage_scene import CAMERAS, Cam, add_camera, build_scene
from tests.conftest import UserFactory

FOV = "/api/v1/layers/camera_fov.geojson"


async def _layer(client: httpx.AsyncClient, user: dict[str, Any], **params: Any) -> Any:
    resp = await client.get(FOV, params=params, headers=user["headers"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/geo+json")
    return resp.json()


async def _index_count(client: httpx.AsyncClient, user: dict[str, Any]) -> int:
    resp = await client.get("/api/v1/layers", headers=user["headers"])
    assert resp.status_code == 200, resp.text
    (entry,) = [e for e in resp.json()["data"] if e["name"] == "camera_fov"]
    assert entry["geometry"] == "polygon" and entry["title_th"] and entry["title_en"]
    count: int = entry["count"]
    return count


async def test_layer_has_a_polygon_per_camera_with_a_wedge(
    db: Database, client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    scene = await build_scene(db)
    ids = scene["ids"]
    admin = await make_user(Role.admin)
    body = await _layer(client, admin)
    features = {f["properties"]["code"]: f for f in body["features"]}
    known = {c.code for c in CAMERAS if c.known}
    assert set(features) == known and "F" not in features
    assert await _index_count(client, admin) == len(known)
    for cam in CAMERAS:
        if not cam.known:
            continue
        feature = features[cam.code]
        props = feature["properties"]
        assert feature["id"] == props["id"] == props["camera_id"] == ids[cam.code]
        assert (props["status"], props["tier"]) == (cam.status, cam.tier)
        geometry = feature["geometry"]
        assert geometry["type"] == "Polygon"
        ring = geometry["coordinates"][0]
        assert ring[0] == ring[-1]
        poly = shape(geometry)
        assert poly.is_valid and poly.exterior.is_ccw  # RFC 7946 winding
        assert cam.fov is not None and cam.range_m is not None
        sector_km2 = math.pi * cam.range_m**2 * min(cam.fov, 360.0) / 360.0 / 1e6
        assert geodesic_area_km2(poly) == pytest.approx(sector_km2, rel=0.01)
        # A 360° camera sits in its circle; a wedge's apex is the camera itself.
        if cam.fov >= 360:
            assert poly.contains(Point(cam.lon, cam.lat))
        else:
            assert ring[0] == pytest.approx([cam.lon, cam.lat], abs=1e-7)

    # bbox: only the wedges reaching into it (G stands 2 km north-east of the zone).
    near_g = await _layer(client, admin, bbox="100.5495,13.7595,100.5505,13.7605")
    assert [f["properties"]["code"] for f in near_g["features"]] == ["G"]
    # H stands outside this box but its wedge reaches in.
    east = await _layer(client, admin, bbox="100.5361,13.7455,100.5362,13.7465")
    assert "H" in {f["properties"]["code"] for f in east["features"]}


async def test_partner_sees_only_own_organisation_wedges(
    db: Database, client: httpx.AsyncClient, make_user: UserFactory, partner_org: int
) -> None:
    scene = await build_scene(db)
    own = await add_camera(
        db, Cam("SHOP-1", 13.7452, 100.5340, 180.0, 70.0, 40.0, organisation_id=partner_org)
    )
    partner = await make_user(Role.partner)
    body = await _layer(client, partner)
    assert [f["id"] for f in body["features"]] == [own]
    assert await _index_count(client, partner) == 1
    admin = await make_user(Role.admin)
    assert await _index_count(client, admin) == len([c for c in CAMERAS if c.known]) + 1

    # The partner's coverage figures and "who sees P" use their own cameras only.
    resp = await client.get(
        "/api/v1/coverage", params={"zone_id": scene["zone_id"]}, headers=partner["headers"]
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["cameras_counted"] == 1 and resp.json()["unknown_coverage"] == []
    assert resp.json()["scope"] == "organisation"
    # Their own assets only: the station's SOS boxes are not listed to a shop.
    assert resp.json()["uncovered_sos_boxes"] == []
    assert resp.json()["covered_km2"] == pytest.approx(math.pi * 40**2 * 70 / 360 / 1e6, rel=0.01)
    seen = await client.get(
        "/api/v1/cameras/seeing", params={"lat": 13.745, "lon": 100.534425},
        headers=partner["headers"],
    )
    assert seen.json()["data"] == []  # A and B see it, but they are not the partner's
    mine = await client.get(
        "/api/v1/cameras/seeing", params={"lat": 13.7450, "lon": 100.5340},
        headers=partner["headers"],
    )
    assert [c["id"] for c in mine.json()["data"]] == [own]
