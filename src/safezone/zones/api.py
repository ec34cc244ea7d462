"""Stations and zones, including zone import from GeoJSON and KML/KMZ."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile, status
from sqlalchemy import func, select

from safezone.auth.access import Access
from safezone.auth.roles import ALL_ROLES, EDITORS, Role
from safezone.auth.service import Principal
from safezone.deps import DatabaseDep, ReadSession, SettingsDep
from safezone.geo.errors import GeometryError
from safezone.geo.zone_import import load_zone_file
from safezone.problems import Problem
from safezone.schemas import ListOut, PageDep
from safezone.zones import service
from safezone.zones.models import Station, Zone
from safezone.zones.schemas import (
    StationCreate,
    StationOut,
    ZoneCreate,
    ZoneImportReport,
    ZoneOut,
    ZoneUpdate,
)

router = APIRouter(tags=["zones"])
Reader = Annotated[Principal, Depends(Access(ALL_ROLES))]
Editor = Annotated[Principal, Depends(Access(EDITORS))]
AdminOnly = Annotated[Principal, Depends(Access({Role.admin}))]
MAX_UPLOAD = 10 * 1024 * 1024


@router.get("/stations", response_model=ListOut[StationOut], summary="List police stations")
async def list_stations(session: ReadSession, _: Reader, page: PageDep) -> dict[str, Any]:
    total = await session.scalar(select(func.count()).select_from(Station))
    rows = await session.scalars(
        select(Station).order_by(Station.id).limit(page.limit).offset(page.offset)
    )
    return {"data": rows.all(), "count": total, "limit": page.limit, "offset": page.offset}


@router.post("/stations", response_model=StationOut, status_code=201, summary="Add a station")
async def create_station(db: DatabaseDep, who: AdminOnly, body: StationCreate) -> Station:
    async with db.write() as session:
        return await service.create_station(session, actor=who.actor, data=body)


@router.get("/zones", response_model=ListOut[ZoneOut], summary="List safe zones")
async def list_zones(session: ReadSession, _: Reader, page: PageDep) -> dict[str, Any]:
    total = await session.scalar(select(func.count()).select_from(Zone))
    rows = await session.scalars(
        select(Zone).order_by(Zone.id).limit(page.limit).offset(page.offset)
    )
    return {"data": rows.all(), "count": total, "limit": page.limit, "offset": page.offset}


@router.get("/zones/{zone_id}", response_model=ZoneOut, summary="One safe zone")
async def get_zone(session: ReadSession, _: Reader, zone_id: int) -> Zone:
    return await service.get_zone(session, zone_id)


@router.post("/zones", response_model=ZoneOut, status_code=201, summary="Create a zone (GeoJSON)")
async def create_zone(
    db: DatabaseDep, settings: SettingsDep, who: Editor, body: ZoneCreate
) -> Zone:
    async with db.write() as session:
        return await service.create_zone(
            session, actor=who.actor, data=body, max_area_km2=settings.max_zone_area_km2
        )


@router.patch("/zones/{zone_id}", response_model=ZoneOut, summary="Change a zone")
async def update_zone(
    db: DatabaseDep, settings: SettingsDep, who: Editor, zone_id: int, body: ZoneUpdate
) -> Zone:
    async with db.write() as session:
        return await service.update_zone(
            session,
            actor=who.actor,
            zone_id=zone_id,
            data=body,
            max_area_km2=settings.max_zone_area_km2,
        )


@router.delete("/zones/{zone_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a zone")
async def delete_zone(db: DatabaseDep, who: Editor, zone_id: int) -> None:
    async with db.write() as session:
        await service.delete_zone(session, actor=who.actor, zone_id=zone_id)


@router.post(
    "/zones/import",
    response_model=ZoneImportReport,
    status_code=201,
    summary="Import a zone from a GeoJSON, KML or KMZ file",
)
async def import_zone(
    db: DatabaseDep,
    settings: SettingsDep,
    who: Editor,
    file: Annotated[UploadFile, File(description="GeoJSON, KML (Google Earth / My Maps) or KMZ")],
    name_th: Annotated[str | None, Form(max_length=200)] = None,
    name_en: Annotated[str | None, Form(max_length=200)] = None,
    station_id: Annotated[int | None, Form()] = None,
) -> ZoneImportReport:
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise Problem(413, "too_large", limit_mb=MAX_UPLOAD // (1024 * 1024))
    filename = file.filename or "upload"
    try:
        imported = load_zone_file(data, filename)
    except GeometryError as exc:
        raise service.geometry_problem(exc) from exc
    fmt = imported.source_format
    body = ZoneCreate(
        name_th=name_th or imported.name_th or imported.name_en or filename,
        name_en=name_en or imported.name_en or "",
        station_id=station_id,
        description=imported.description,
        geometry=imported.geometry,
    )
    async with db.write() as session:
        zone = await service.create_zone(
            session,
            actor=who.actor,
            data=body,
            max_area_km2=settings.max_zone_area_km2,
            auto_close=fmt == "kml",
            source=f"import:{fmt}:{filename[:80]}",
        )
    return ZoneImportReport(zone=ZoneOut.model_validate(zone), source_format=fmt)
