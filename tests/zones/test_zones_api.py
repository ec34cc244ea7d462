"""Zones through the API and the CLI: creation, import, area, and clear refusals."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from safezone.auth.roles import Role
from tests.conftest import UserFactory

LON0, LAT0, D = 101.8205, 6.4230, 0.0045  # ≈ 0.5 km × 0.5 km at Mueang Narathiwat


def quadrangle_km2(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Exact WGS84 area between two parallels and two meridians (independent of pyproj)."""
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    e, b = math.sqrt(e2), a * (1 - f)

    def q(phi: float) -> float:
        s = math.sin(phi)
        return s / (1 - e2 * s * s) + math.log((1 + e * s) / (1 - e * s)) / (2 * e)

    dlam = math.radians(lon2 - lon1)
    return b * b * dlam / 2 * (q(math.radians(lat2)) - q(math.radians(lat1))) / 1e6


def box(lon: float = LON0, lat: float = LAT0, d: float = D) -> dict[str, Any]:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def zone_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name_th": "บางนาค สมาร์ท เซฟตี้",
        "name_en": "Bang Nak Smart Safety",
        "reasons": [
            {"kind": "risk", "text": "ลักขโมยยามค่ำคืน"},
            {"kind": "economic", "text": "ตลาดสด"},
        ],
        "population": 3000,
        "households": 900,
        "geometry": box(),
    }
    body.update(over)
    return body


async def _counts(client: httpx.AsyncClient, h: dict[str, str]) -> tuple[int, int]:
    zones = (await client.get("/api/v1/zones", headers=h)).json()["count"]
    audit = (await client.get("/api/v1/audit", headers=h, params={"entity_type": "zone"})).json()
    return zones, audit["count"]


async def test_create_zone_reports_ellipsoidal_area(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    admin = await make_user(Role.admin)
    resp = await client.post("/api/v1/zones", headers=admin["headers"], json=zone_body())
    assert resp.status_code == 201, resp.text
    zone = resp.json()
    expected = quadrangle_km2(LON0, LAT0, LON0 + D, LAT0 + D)
    assert abs(zone["area_km2"] - expected) / expected < 0.005
    assert zone["bbox"] == pytest.approx([LON0, LAT0, LON0 + D, LAT0 + D])
    assert zone["reasons"][0]["kind"] == "risk"
    layer = await client.get("/api/v1/layers/zones.geojson", headers=admin["headers"])
    assert layer.headers["content-type"] == "application/geo+json"
    feature = layer.json()["features"][0]
    assert feature["properties"]["name_th"] == "บางนาค สมาร์ท เซฟตี้"
    assert feature["geometry"]["type"] == "Polygon"


BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[LON0, LAT0], [LON0 + D, LAT0 + D], [LON0 + D, LAT0], [LON0, LAT0 + D], [LON0, LAT0]]
    ],
}
BAD = {
    "self_intersecting": ({"geometry": BOWTIE}, "geometry.self_intersection"),
    "point": ({"geometry": {"type": "Point", "coordinates": [LON0, LAT0]}}, "geometry.not_polygon"),
    "oversized": ({"geometry": box(d=0.1)}, "geometry.too_large"),
    "out_of_range": ({"geometry": box(lon=181.0)}, "geometry.coordinate_out_of_range"),
    "malformed": ({"geometry": {"type": "Polygon", "coordinates": "nope"}}, "geometry.malformed"),
    "unknown_field": ({"colour": "red"}, "invalid_input"),
    "wrong_type": ({"population": "many"}, "invalid_input"),
    "bad_reason": ({"reasons": [{"kind": "vibes", "text": "x"}]}, "invalid_input"),
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_bad_zone_is_refused_with_nothing_written(
    client: httpx.AsyncClient, make_user: UserFactory, case: str
) -> None:
    admin = await make_user(Role.admin)
    h = {**admin["headers"], "Accept-Language": "en"}
    before = await _counts(client, h)
    over, code = BAD[case]
    resp = await client.post("/api/v1/zones", headers=h, json=zone_body(**over))
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["code"] == code
    assert body["detail"] and not body["detail"].startswith("problem.")
    assert await _counts(client, h) == before


async def test_messages_in_thai_by_default(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    admin = await make_user(Role.admin)
    resp = await client.post(
        "/api/v1/zones", headers=admin["headers"], json=zone_body(geometry=box(d=0.1))
    )
    detail = resp.json()["detail"]
    assert "ตร.กม." in detail and "50" in detail
    en = await client.post(
        "/api/v1/zones",
        headers={**admin["headers"], "Accept-Language": "en-GB,en;q=0.8"},
        json=zone_body(geometry=box(d=0.1)),
    )
    assert "km²" in en.json()["detail"]


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>My Map</name>
<Folder><name>Layer 1</name><Placemark><name>บางนาค สมาร์ท เซฟตี้</name>
<styleUrl>#poly-000000</styleUrl><Polygon><outerBoundaryIs><LinearRing><tessellate>1</tessellate>
<coordinates>
  {c}
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Folder></Document></kml>
"""


def kml_text() -> str:
    pts = [(LON0, LAT0), (LON0 + D, LAT0), (LON0 + D, LAT0 + D), (LON0, LAT0 + D), (LON0, LAT0)]
    return KML.format(c="\n  ".join(f"{x},{y},0" for x, y in pts))


async def test_import_kml_upload(client: httpx.AsyncClient, make_user: UserFactory) -> None:
    sup = await make_user(Role.supervisor)
    resp = await client.post(
        "/api/v1/zones/import",
        headers=sup["headers"],
        files={
            "file": ("bang-nak.kml", kml_text().encode(), "application/vnd.google-earth.kml+xml")
        },
    )
    assert resp.status_code == 201, resp.text
    report = resp.json()
    assert report["source_format"] == "kml"
    assert report["zone"]["name_th"] == "บางนาค สมาร์ท เซฟตี้"
    expected = quadrangle_km2(LON0, LAT0, LON0 + D, LAT0 + D)
    assert abs(report["zone"]["area_km2"] - expected) / expected < 0.005


async def test_import_rejects_non_polygon_file(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    sup = await make_user(Role.supervisor)
    resp = await client.post(
        "/api/v1/zones/import",
        headers=sup["headers"],
        files={"file": ("x.kml", b"<kml><broken", "text/xml")},
    )
    assert resp.status_code == 422
    assert resp.json()["code"] == "geometry.invalid_kml"


def _cli(database_url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SAFEZONE_DATABASE_URL": database_url,
        "SAFEZONE_DATA_DIR": str(tmp),
        "SAFEZONE_LANG": "en",
    }
    return subprocess.run(
        [sys.executable, "-m", "safezone", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_cli_zone_import(
    database_url: str, tmp_path: Path, client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    geojson = tmp_path / "zone.geojson"
    geojson.write_text(
        '{"type":"Feature","properties":{"name_th":"ทดสอบ","name_en":"Test"},"geometry":'
        + str(box()).replace("'", '"')
        + "}",
        encoding="utf-8",
    )
    ok = await asyncio.to_thread(_cli, database_url, tmp_path, "zone", "import", str(geojson))
    assert ok.returncode == 0, ok.stderr
    expected = quadrangle_km2(LON0, LAT0, LON0 + D, LAT0 + D)
    reported = float(ok.stdout.split(":")[1].split("km²")[0])
    assert abs(reported - expected) / expected < 0.005
    kml = tmp_path / "zone.kml"
    kml.write_text(kml_text(), encoding="utf-8")
    assert (
        await asyncio.to_thread(_cli, database_url, tmp_path, "zone", "import", str(kml))
    ).returncode == 0
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type":"Point","coordinates":[101.8,6.4]}', encoding="utf-8")
    refused = await asyncio.to_thread(_cli, database_url, tmp_path, "zone", "import", str(bad))
    assert refused.returncode == 1
    assert "Polygon" in refused.stderr and "Traceback" not in refused.stderr
    admin = await make_user(Role.admin)
    assert (await client.get("/api/v1/zones", headers=admin["headers"])).json()["count"] == 2
