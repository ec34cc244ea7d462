"""Stations and zones: geometry validated and measured on the ellipsoid before anything is
written, so a bad boundary never leaves a half-made zone."""

from __future__ import annotations

from typing import Any

from shapely.geometry import Point, shape
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.audit.service import Actor, record
from safezone.geo.errors import GeometryError
from safezone.geo.zone_geometry import ValidZone, validate_zone_geometry
from safezone.problems import Problem
from safezone.zones.models import Station, Zone
from safezone.zones.schemas import StationCreate, ZoneCreate, ZoneUpdate


def geometry_problem(exc: GeometryError) -> Problem:
    """The API error for a geometry the platform cannot accept."""
    params: dict[str, Any] = {
        k: (round(v, 6) if isinstance(v, float) else v) for k, v in exc.params.items()
    }
    params.setdefault("message", str(exc))
    return Problem(422, f"geometry.{exc.code}", **params)


def checked_geometry(
    geometry: dict[str, Any], *, max_area_km2: float, auto_close: bool = False
) -> ValidZone:
    try:
        return validate_zone_geometry(geometry, max_area_km2=max_area_km2, auto_close=auto_close)
    except GeometryError as exc:
        raise geometry_problem(exc) from exc


def _apply_geometry(zone: Zone, valid: ValidZone) -> None:
    zone.geometry = valid.geometry
    zone.area_km2 = valid.area_km2
    zone.min_lon, zone.min_lat, zone.max_lon, zone.max_lat = valid.bbox


async def create_station(session: AsyncSession, *, actor: Actor, data: StationCreate) -> Station:
    if await session.scalar(select(func.count()).where(Station.code == data.code)):
        raise Problem(409, "duplicate_code", code=data.code, entity="station")
    station = Station(**data.model_dump())
    session.add(station)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="station.create",
        entity_type="station",
        entity_id=station.id,
        details={"code": station.code},
    )
    return station


async def create_zone(
    session: AsyncSession,
    *,
    actor: Actor,
    data: ZoneCreate,
    max_area_km2: float,
    auto_close: bool = False,
    synthetic: bool = False,
    source: str = "api",
) -> Zone:
    valid = checked_geometry(data.geometry, max_area_km2=max_area_km2, auto_close=auto_close)
    if data.station_id is not None and await session.get(Station, data.station_id) is None:
        raise Problem(422, "unknown_station", id=data.station_id)
    values = data.model_dump(exclude={"geometry"})
    zone = Zone(**values, synthetic=synthetic)
    _apply_geometry(zone, valid)
    session.add(zone)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="zone.create",
        entity_type="zone",
        entity_id=zone.id,
        details={"name_th": zone.name_th, "area_km2": round(zone.area_km2, 6), "source": source},
    )
    return zone


async def update_zone(
    session: AsyncSession, *, actor: Actor, zone_id: int, data: ZoneUpdate, max_area_km2: float
) -> Zone:
    zone = await get_zone(session, zone_id)
    values = data.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    if (geometry := values.pop("geometry", None)) is not None:
        valid = checked_geometry(geometry, max_area_km2=max_area_km2)
        changes["area_km2"] = {"from": round(zone.area_km2, 6), "to": round(valid.area_km2, 6)}
        _apply_geometry(zone, valid)
    if (
        values.get("station_id") is not None
        and await session.get(Station, values["station_id"]) is None
    ):
        raise Problem(422, "unknown_station", id=values["station_id"])
    for key, value in values.items():
        if getattr(zone, key) != value:
            changes[key] = {"from": getattr(zone, key), "to": value}
            setattr(zone, key, value)
    if changes:
        await session.flush()
        await record(
            session,
            actor=actor,
            action="zone.update",
            entity_type="zone",
            entity_id=zone.id,
            details={"changes": changes},
        )
    return zone


async def delete_zone(session: AsyncSession, *, actor: Actor, zone_id: int) -> None:
    zone = await get_zone(session, zone_id)
    await session.delete(zone)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="zone.delete",
        entity_type="zone",
        entity_id=zone_id,
        details={"name_th": zone.name_th},
    )


async def get_zone(session: AsyncSession, zone_id: int) -> Zone:
    zone = await session.get(Zone, zone_id)
    if zone is None:
        raise Problem(404, "entity_not_found", entity="zone", id=zone_id)
    return zone


async def zone_containing(session: AsyncSession, *, lon: float, lat: float) -> int | None:
    """The id of the (first) zone whose boundary contains the point, if any."""
    candidates = await session.execute(
        select(Zone.id, Zone.geometry)
        .where(Zone.min_lon <= lon, Zone.max_lon >= lon, Zone.min_lat <= lat, Zone.max_lat >= lat)
        .order_by(Zone.id)
    )
    point = Point(lon, lat)
    for zone_id, geometry in candidates:
        if shape(geometry).covers(point):
            return int(zone_id)
    return None
