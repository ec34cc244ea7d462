"""Station and zone schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from safezone.schemas import Input, Latitude, Longitude, NameEn, NameTh, Output


class StationCreate(Input):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[\w.\-]+$")
    name_th: NameTh
    name_en: NameEn
    province_th: str | None = Field(default=None, max_length=100)
    province_en: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(default=None, max_length=40)
    lat: Latitude | None = None
    lon: Longitude | None = None


class StationOut(Output):
    id: int
    code: str
    name_th: str
    name_en: str
    province_th: str | None
    province_en: str | None
    address: str | None
    phone: str | None
    lat: float | None
    lon: float | None


class Reason(Input):
    """Why this place was chosen as a safe zone."""

    kind: Literal["risk", "landmark", "economic", "other"]
    text: str = Field(min_length=1, max_length=500)


class ZoneCreate(Input):
    name_th: NameTh
    name_en: NameEn
    station_id: int | None = None
    description: str | None = Field(default=None, max_length=4000)
    reasons: list[Reason] = Field(default_factory=list, max_length=50)
    population: int | None = Field(default=None, ge=0, le=10_000_000)
    households: int | None = Field(default=None, ge=0, le=5_000_000)
    geometry: dict[str, Any] = Field(
        description="GeoJSON Polygon or MultiPolygon in EPSG:4326 (lon, lat)."
    )


class ZoneUpdate(Input):
    name_th: NameTh | None = None
    name_en: NameEn | None = None
    station_id: int | None = None
    description: str | None = Field(default=None, max_length=4000)
    reasons: list[Reason] | None = Field(default=None, max_length=50)
    population: int | None = Field(default=None, ge=0, le=10_000_000)
    households: int | None = Field(default=None, ge=0, le=5_000_000)
    geometry: dict[str, Any] | None = None


class ZoneOut(Output):
    id: int
    station_id: int | None
    name_th: str
    name_en: str
    description: str | None
    reasons: list[dict[str, Any]]
    population: int | None
    households: int | None
    area_km2: float = Field(description="Area on the WGS84 ellipsoid, km².")
    bbox: tuple[float, float, float, float]
    geometry: dict[str, Any]
    synthetic: bool
    created_at: datetime
    updated_at: datetime


class ZoneImportReport(BaseModel):
    zone: ZoneOut
    source_format: str
