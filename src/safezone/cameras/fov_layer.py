"""The ``camera_fov`` map layer: every camera's field-of-view wedge as a GeoJSON polygon.

Partners get only their own organisation's cameras. The rings come from the display cache in
``wedges`` (coarser than the measurement wedges, within 0.5 m of the arc), so redrawing the map
costs the database query and the serialisation only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.auth.service import Principal
from safezone.cameras.coverage import (
    FOV_COLUMNS,
    CameraFov,
    known_fov,
    longest_range,
    partner_scoped,
)
from safezone.cameras.models import Camera
from safezone.cameras.wedges import display_ring, grow_box

CAMERA_FOV = "camera_fov"


def layer_info(count: int) -> dict[str, Any]:
    """The ``camera_fov`` entry of the layer index."""
    return {
        "name": CAMERA_FOV,
        "title_th": "มุมมองกล้อง (ระยะและมุมกว้าง)",
        "title_en": "Camera fields of view",
        "geometry": "polygon",
        "color": "#17becf",
        "count": count,
    }


async def fov_layer_info(session: AsyncSession, who: Principal) -> dict[str, Any]:
    """The layer index entry with the number of wedges ``who`` can see."""
    query = partner_scoped(select(func.count()).select_from(Camera).where(known_fov()), Camera, who)
    return layer_info(int(await session.scalar(query) or 0))


def fov_feature(cam: CameraFov) -> dict[str, Any]:
    """One camera's wedge as a GeoJSON Feature (exterior ring counter-clockwise, RFC 7946)."""
    if cam.fov_deg is None or cam.range_m is None:
        raise ValueError(f"camera {cam.id} has no field of view")
    ring = display_ring(cam.lat, cam.lon, cam.bearing_deg, cam.fov_deg, cam.range_m)
    return {
        "type": "Feature",
        "id": cam.id,
        "geometry": {"type": "Polygon", "coordinates": (ring,)},
        "properties": {
            "id": cam.id,
            "camera_id": cam.id,
            "code": cam.code,
            "name_th": cam.name_th,
            "name_en": cam.name_en,
            "status": cam.status,
            "tier": cam.tier,
            "bearing_deg": cam.bearing_deg,
            "fov_deg": cam.fov_deg,
            "range_m": cam.range_m,
            "organisation_id": cam.organisation_id,
            "zone_id": cam.zone_id,
        },
    }


async def fov_geojson(
    session: AsyncSession,
    *,
    who: Principal,
    bbox: tuple[float, float, float, float] | None = None,
    zone_id: int | None = None,
) -> dict[str, Any]:
    """The wedges ``who`` may see; with ``bbox``, those that reach into it."""
    query = select(*FOV_COLUMNS).where(known_fov())
    if zone_id is not None:
        query = query.where(Camera.zone_id == zone_id)
    if bbox is not None:
        west, south, east, north = grow_box(bbox, await longest_range(session, who))
        query = query.where(
            Camera.lat >= south, Camera.lat <= north, Camera.lon >= west, Camera.lon <= east
        )
    rows = await session.execute(partner_scoped(query, Camera, who).order_by(Camera.id))
    features = []
    for row in rows:
        feature = fov_feature(CameraFov(**row._asdict()))
        if bbox is not None and not _reaches(feature["geometry"]["coordinates"][0], bbox):
            continue
        features.append(feature)
    return {"type": "FeatureCollection", "features": features}


def _reaches(ring: tuple[tuple[float, float], ...], bbox: tuple[float, ...]) -> bool:
    """Whether the ring's bounding box meets ``bbox`` (west, south, east, north)."""
    xs = [x for x, _y in ring]
    ys = [y for _x, y in ring]
    return not (max(xs) < bbox[0] or min(xs) > bbox[2] or max(ys) < bbox[1] or min(ys) > bbox[3])
