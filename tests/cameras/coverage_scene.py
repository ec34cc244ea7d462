"""A small zone with cameras, SOS boxes and risk points, shared by the coverage tests, and an
independent reference for "does camera c see point p" (pyproj ``Geod.inv`` directly, not the
code under test)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pyproj import Geod

from safezone.assets.models import RiskPoint
from safezone.audit.service import Actor
from safezone.cameras.models import Camera
from safezone.db.engine import Database
from safezone.sos.models import SosBox
from safezone.zones.schemas import ZoneCreate
from safezone.zones.service import create_zone

GEOD = Geod(ellps="WGS84")
# ≈ 324 m × 276 m in central Bangkok.
WEST, SOUTH, EAST, NORTH = 100.5330, 13.7440, 100.5360, 13.7465
ZONE_RING = [[WEST, SOUTH], [EAST, SOUTH], [EAST, NORTH], [WEST, NORTH], [WEST, SOUTH]]


@dataclass(frozen=True)
class Cam:
    code: str
    lat: float
    lon: float
    bearing: float | None
    fov: float | None
    range_m: float | None
    tier: str = "linked"
    status: str = "online"
    organisation_id: int | None = None

    @property
    def available(self) -> bool:
        return self.tier == "linked" and self.status == "online"

    @property
    def known(self) -> bool:
        return (
            self.fov is not None and self.range_m is not None
            and (self.bearing is not None or self.fov >= 360)
        )


# A, B overlap; C is a 360° camera on the north edge (half its circle outside the zone);
# D is only registered (no stream) though "online"; E is linked but offline; F has no bearing
# (unknown coverage); G is 2 km away; H stands outside the zone and looks in.
CAMERAS = (
    Cam("A", 13.7443, 100.5333, 45.0, 90.0, 150.0),
    Cam("B", 13.7450, 100.5335, 90.0, 60.0, 120.0),
    Cam("C", 13.7465, 100.5350, None, 360.0, 60.0),
    Cam("D", 13.7462, 100.5357, 180.0, 100.0, 100.0, tier="registered"),
    Cam("E", 13.7445, 100.5358, 300.0, 80.0, 90.0, status="offline"),
    Cam("F", 13.7455, 100.5345, None, 90.0, 50.0),
    Cam("G", 13.7600, 100.5500, 0.0, 90.0, 100.0),
    Cam("H", 13.7460, 100.5370, 270.0, 40.0, 200.0),
)
# (code, lat, lon): S1 in A's wedge; S2 in D's only (registered); S3 in no wedge; S4 outside.
SOS_BOXES = (
    ("S1", 13.744683, 100.533692),
    ("S2", 13.745521, 100.535953),
    ("S3", 13.7441, 100.5359),
    ("S4", 13.7500, 100.5345),
)
# (code, kind, lat, lon): R1 unseen risk; R2 unseen landmark (not a risk point); R3 seen.
RISK_POINTS = (
    ("R1", "risk", 13.7441, 100.5331),
    ("R2", "landmark", 13.7441, 100.5332),
    ("R3", "risk", 13.745, 100.534425),
)


def reference_sees(
    cam: Cam, lat: npt.ArrayLike, lon: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Whether ``cam`` sees each point: geodesic distance ≤ range and azimuth within
    bearing ± fov/2, straight from ``Geod.inv``."""
    lat_a = np.atleast_1d(np.asarray(lat, dtype=float))
    lon_a = np.atleast_1d(np.asarray(lon, dtype=float))
    if not cam.known:
        return np.zeros(lat_a.shape, dtype=bool)
    assert cam.range_m is not None and cam.fov is not None
    az, _back, dist = GEOD.inv(
        np.full(lat_a.shape, cam.lon), np.full(lat_a.shape, cam.lat), lon_a, lat_a
    )
    inside = np.asarray(dist) <= cam.range_m
    if cam.fov >= 360 or cam.bearing is None:
        return inside
    off = np.abs((np.asarray(az) - cam.bearing + 180.0) % 360.0 - 180.0)
    result: npt.NDArray[np.bool_] = inside & (off <= cam.fov / 2.0)
    return result


def grid_share(cams: list[Cam], n: int = 500) -> float:
    """Share of the (rectangular) zone inside at least one of ``cams``' wedges, by sampling the
    centres of an n × n lon/lat grid, each weighted by its cell's area (∝ cos latitude)."""
    lons = WEST + (np.arange(n) + 0.5) * (EAST - WEST) / n
    lats = SOUTH + (np.arange(n) + 0.5) * (NORTH - SOUTH) / n
    lon_g, lat_g = np.meshgrid(lons, lats)
    weight = np.cos(np.radians(lat_g)).ravel()
    seen = np.zeros(lon_g.size, dtype=bool)
    for cam in cams:
        seen |= reference_sees(cam, lat_g.ravel(), lon_g.ravel())
    return float(weight[seen].sum() / weight.sum())


async def add_camera(db: Database, cam: Cam, **extra: Any) -> int:
    async with db.write() as session:
        row = Camera(
            code=cam.code, name_th=f"กล้อง {cam.code}", name_en=f"Camera {cam.code}",
            lat=cam.lat, lon=cam.lon, bearing_deg=cam.bearing, fov_deg=cam.fov,
            range_m=cam.range_m, tier=cam.tier, status=cam.status,
            organisation_id=cam.organisation_id,
            stream_url=f"rtsp://127.0.0.1:8554/{cam.code}" if cam.tier == "linked" else None,
            **extra,
        )
        session.add(row)
        await session.flush()
        return row.id


async def build_scene(db: Database) -> dict[str, Any]:
    """The zone and everything in it; returns the ids by code."""
    async with db.write() as session:
        zone = await create_zone(
            session,
            actor=Actor(None, "test"),
            data=ZoneCreate(
                name_th="เขตทดสอบกล้อง", name_en="Camera test zone",
                geometry={"type": "Polygon", "coordinates": [ZONE_RING]},
            ),
            max_area_km2=50,
        )
        zone_id = zone.id
    ids: dict[str, int] = {}
    for cam in CAMERAS:
        ids[cam.code] = await add_camera(db, cam)
    async with db.write() as session:
        for code, lat, lon in SOS_BOXES:
            box = SosBox(code=code, name_th=f"ตู้ {code}", name_en=f"Box {code}", lat=lat, lon=lon)
            session.add(box)
            await session.flush()
            ids[code] = box.id
        for code, kind, lat, lon in RISK_POINTS:
            point = RiskPoint(
                code=code, name_th=f"จุด {code}", name_en=f"Point {code}", lat=lat, lon=lon,
                kind=kind,
            )
            session.add(point)
            await session.flush()
            ids[code] = point.id
    return {"zone_id": zone_id, "ids": ids}
