"""``GET /api/v1/layers`` and ``/api/v1/layers/{layer}.geojson`` (EPSG:4326)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Query, Response

from safezone.assets.kinds import BY_PATH
from safezone.auth.access import Access
from safezone.auth.roles import ALL_ROLES, EDITORS, Role
from safezone.auth.service import Principal
from safezone.cameras.fov_layer import CAMERA_FOV, fov_geojson
from safezone.deps import DatabaseDep, ReadSession, SettingsDep
from safezone.layers import service
from safezone.problems import Problem

router = APIRouter(prefix="/layers", tags=["layers"])
Reader = Annotated[Principal, Depends(Access(ALL_ROLES))]
Writer = Annotated[Principal, Depends(Access(EDITORS | {Role.partner}))]
GEOJSON = "application/geo+json"


def _unknown(layer: str) -> Problem:
    return Problem(404, "unknown_layer", layer=layer, layers=", ".join(service.LAYER_NAMES))


@router.get("", summary="Map layers with titles, colours and counts")
async def layers(session: ReadSession, who: Reader) -> dict[str, Any]:
    data = await service.layer_index(session, who)
    return {"data": data, "count": len(data)}


@router.get(
    "/{layer}.geojson",
    summary="One layer as a GeoJSON FeatureCollection",
    responses={200: {"content": {GEOJSON: {}}}},
)
async def layer_geojson(
    session: ReadSession,
    who: Reader,
    layer: str,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat")] = None,
    zone_id: Annotated[int | None, Query()] = None,
) -> Response:
    if layer == service.ZONES:
        body = await service.zones_geojson(session)
    elif (kind := BY_PATH.get(layer)) is not None:
        body = await service.assets_geojson(
            session, kind=kind, who=who, bbox=service.parse_bbox(bbox), zone_id=zone_id
        )
    elif layer == CAMERA_FOV:
        body = await fov_geojson(
            session, who=who, bbox=service.parse_bbox(bbox), zone_id=zone_id
        )
    else:
        raise _unknown(layer)
    return Response(orjson.dumps(body), media_type=GEOJSON)


@router.post("/{layer}.geojson", summary="Import point features (upsert by code, all or nothing)")
async def import_layer(
    db: DatabaseDep,
    settings: SettingsDep,
    who: Writer,
    layer: str,
    collection: Annotated[dict[str, Any], Body(description="GeoJSON FeatureCollection of Points")],
) -> dict[str, int]:
    if layer == service.ZONES:
        async with db.write() as session:
            return await service.import_zones(
                session, who=who, collection=collection, max_area_km2=settings.max_zone_area_km2
            )
    kind = BY_PATH.get(layer)
    if kind is None:
        raise _unknown(layer)
    async with db.write() as session:
        return await service.import_features(
            session, kind=kind, who=who, collection=collection, settings=settings
        )
