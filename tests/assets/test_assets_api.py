"""Point assets: CRUD, zone assignment, partner scoping and GeoJSON import/export."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from safezone.auth.roles import Role
from tests.conftest import UserFactory
from tests.zones.test_zones_api import LAT0, LON0, D, zone_body


def camera(
    code: str, /, lat: float = LAT0 + D / 2, lon: float = LON0 + D / 2, **over: Any
) -> dict[str, Any]:
    body = {
        "code": code,
        "name_th": f"กล้อง {code}",
        "name_en": f"Camera {code}",
        "lat": lat,
        "lon": lon,
        "bearing_deg": 90,
        "fov_deg": 80,
        "range_m": 50,
    }
    body.update(over)
    return body


@pytest.fixture
async def admin(make_user: UserFactory) -> dict[str, Any]:
    return await make_user(Role.admin)


async def test_crud_and_zone_assignment(client: httpx.AsyncClient, admin: dict[str, Any]) -> None:
    h = admin["headers"]
    zone = (await client.post("/api/v1/zones", headers=h, json=zone_body())).json()
    inside = await client.post("/api/v1/cameras", headers=h, json=camera("CAM-1"))
    assert inside.status_code == 201, inside.text
    assert inside.json()["zone_id"] == zone["id"]
    outside = (
        await client.post("/api/v1/cameras", headers=h, json=camera("CAM-2", lat=6.5))
    ).json()
    assert outside["zone_id"] is None
    dup = await client.post("/api/v1/cameras", headers=h, json=camera("CAM-1"))
    assert dup.status_code == 409 and dup.json()["code"] == "duplicate_code"
    moved = await client.patch(
        f"/api/v1/cameras/{outside['id']}",
        headers=h,
        json={"lat": LAT0 + D / 3, "lon": LON0 + D / 3},
    )
    assert moved.json()["zone_id"] == zone["id"]
    listing = await client.get("/api/v1/cameras", headers=h, params={"zone_id": zone["id"]})
    assert listing.json()["count"] == 2
    assert (await client.delete(f"/api/v1/cameras/{outside['id']}", headers=h)).status_code == 204
    assert (await client.get(f"/api/v1/cameras/{outside['id']}", headers=h)).status_code == 404


@pytest.mark.parametrize(
    "path,body",
    [
        (
            "sos_boxes",
            {
                "code": "SOS-SADET",
                "name_th": "ตู้ SOS แยกเสด็จ",
                "lat": LAT0,
                "lon": LON0,
                "address": "แยกเสด็จ",
            },
        ),
        (
            "checkpoints",
            {
                "code": "CP-1",
                "name_th": "ตู้แดง 1",
                "lat": LAT0,
                "lon": LON0,
                "visit_interval_min": 60,
            },
        ),
        (
            "risk_points",
            {
                "code": "RP-1",
                "name_th": "ซอยเปลี่ยว",
                "lat": LAT0,
                "lon": LON0,
                "category": "dark_alley",
                "risk_level": 4,
            },
        ),
        (
            "street_lights",
            {"code": "SL-1", "name_th": "เสาไฟ 1", "lat": LAT0, "lon": LON0, "working": False},
        ),
    ],
)
async def test_every_kind_round_trips(
    client: httpx.AsyncClient, admin: dict[str, Any], path: str, body: dict[str, Any]
) -> None:
    created = await client.post(f"/api/v1/{path}", headers=admin["headers"], json=body)
    assert created.status_code == 201, created.text
    layer = (await client.get(f"/api/v1/layers/{path}.geojson", headers=admin["headers"])).json()
    (feature,) = layer["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [LON0, LAT0]}
    assert feature["properties"]["code"] == body["code"]


@pytest.mark.parametrize(
    "over,field",
    [
        ({"lat": 95}, "lat"),
        ({"lon": -200}, "lon"),
        ({"bearing_deg": 360}, "bearing_deg"),
        ({"fov_deg": 0}, "fov_deg"),
        ({"code": "has space"}, "code"),
        ({"lat": "north"}, "lat"),
        ({"owner": "me"}, "owner"),
        ({"organisation_id": 99999}, None),
    ],
)
async def test_bad_asset_input(
    client: httpx.AsyncClient, admin: dict[str, Any], over: dict[str, Any], field: str | None
) -> None:
    resp = await client.post("/api/v1/cameras", headers=admin["headers"], json=camera("X", **over))
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    if field:
        assert resp.json()["errors"][0]["field"] == field
    else:
        assert resp.json()["code"] == "unknown_organisation"
    assert (await client.get("/api/v1/cameras", headers=admin["headers"])).json()["count"] == 0


async def test_partner_sees_and_edits_only_own(
    client: httpx.AsyncClient, admin: dict[str, Any], make_user: UserFactory, partner_org: int
) -> None:
    h = admin["headers"]
    other = (
        await client.post(
            "/api/v1/organisations",
            headers=h,
            json={"name_th": "เทศบาล", "name_en": "Municipality", "kind": "local_government"},
        )
    ).json()
    await client.post(
        "/api/v1/cameras", headers=h, json=camera("MUNI-1", organisation_id=other["id"])
    )
    await client.post(
        "/api/v1/cameras", headers=h, json=camera("SHOP-1", organisation_id=partner_org)
    )
    partner = await make_user(Role.partner)
    ph = partner["headers"]
    listing = (await client.get("/api/v1/cameras", headers=ph)).json()
    assert [c["code"] for c in listing["data"]] == ["SHOP-1"]
    layer = (await client.get("/api/v1/layers/cameras.geojson", headers=ph)).json()
    assert [f["properties"]["code"] for f in layer["features"]] == ["SHOP-1"]
    index = (await client.get("/api/v1/layers", headers=ph)).json()["data"]
    assert {x["name"]: x["count"] for x in index}["cameras"] == 1
    muni_id = (await client.get("/api/v1/cameras", headers=h, params={"q": "MUNI"})).json()["data"][
        0
    ]["id"]
    assert (await client.get(f"/api/v1/cameras/{muni_id}", headers=ph)).status_code == 404
    assert (
        await client.patch(f"/api/v1/cameras/{muni_id}", headers=ph, json={"name_th": "x"})
    ).status_code == 404
    own = await client.post("/api/v1/cameras", headers=ph, json=camera("SHOP-2"))
    assert own.status_code == 201 and own.json()["organisation_id"] == partner_org
    steal = await client.post(
        "/api/v1/cameras", headers=ph, json=camera("SHOP-3", organisation_id=other["id"])
    )
    assert steal.status_code == 403
    orgs = (await client.get("/api/v1/organisations", headers=ph)).json()
    assert [o["id"] for o in orgs["data"]] == [partner_org]


async def test_geojson_import_is_all_or_nothing(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    h = admin["headers"]

    def feature(code: str, lon: float, lat: float, **props: Any) -> dict[str, Any]:
        return {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"code": code, "name_th": code, **props},
        }

    good = {
        "type": "FeatureCollection",
        "features": [feature(f"C{i}", LON0, LAT0) for i in range(5)],
    }
    resp = await client.post("/api/v1/layers/cameras.geojson", headers=h, json=good)
    assert resp.json() == {"created": 5, "updated": 0}
    exported = (await client.get("/api/v1/layers/cameras.geojson", headers=h)).json()
    again = await client.post("/api/v1/layers/cameras.geojson", headers=h, json=exported)
    assert again.status_code == 200, again.text
    assert again.json() == {"created": 0, "updated": 5}
    mixed = {
        "type": "FeatureCollection",
        "features": [
            feature("C9", LON0, LAT0),
            feature("C10", LON0, 99.0),
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": []},
                "properties": {},
            },
        ],
    }
    bad = await client.post("/api/v1/layers/cameras.geojson", headers=h, json=mixed)
    assert bad.status_code == 422
    fields = [e["field"] for e in bad.json()["errors"]]
    assert fields[0] == "features[1].lat" and fields[1] == "features[2]"
    assert (await client.get("/api/v1/cameras", headers=h)).json()["count"] == 5


async def test_layer_bbox_and_unknown_layer(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    h = admin["headers"]
    await client.post("/api/v1/cameras", headers=h, json=camera("IN"))
    await client.post("/api/v1/cameras", headers=h, json=camera("OUT", lat=7.0))
    inside = await client.get(
        "/api/v1/layers/cameras.geojson",
        headers=h,
        params={"bbox": f"{LON0},{LAT0},{LON0 + D},{LAT0 + D}"},
    )
    assert [f["properties"]["code"] for f in inside.json()["features"]] == ["IN"]
    assert (
        await client.get("/api/v1/layers/cameras.geojson", headers=h, params={"bbox": "1,2,3"})
    ).status_code == 422
    unknown = await client.get("/api/v1/layers/unicorns.geojson", headers=h)
    assert unknown.status_code == 404 and "cameras" in unknown.json()["detail"]


async def test_null_for_required_field_is_422(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    h = admin["headers"]
    cam = (await client.post("/api/v1/cameras", headers=h, json=camera("NULLS"))).json()
    resp = await client.patch(f"/api/v1/cameras/{cam['id']}", headers=h, json={"name_th": None})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "name_th"
    assert (await client.get(f"/api/v1/cameras/{cam['id']}", headers=h)).json()[
        "name_th"
    ] == "กล้อง NULLS"


async def test_stream_urls_only_for_editors_and_owners(
    client: httpx.AsyncClient, admin: dict[str, Any], make_user: UserFactory, partner_org: int
) -> None:
    h = admin["headers"]
    url = "rtsp://10.1.2.3:554/stream1"
    cam = await client.post(
        "/api/v1/cameras",
        headers=h,
        json=camera("URL-1", stream_url=url, organisation_id=partner_org),
    )
    cam_id = cam.json()["id"]
    assert cam.json()["stream_url"] == url
    operator = await make_user(Role.operator)
    seen = (await client.get(f"/api/v1/cameras/{cam_id}", headers=operator["headers"])).json()
    assert seen["stream_url"] is None
    listed = (await client.get("/api/v1/cameras", headers=operator["headers"])).json()
    assert listed["data"][0]["stream_url"] is None
    owner = await make_user(Role.partner)
    mine = (await client.get(f"/api/v1/cameras/{cam_id}", headers=owner["headers"])).json()
    assert mine["stream_url"] == url
