"""Station and Zone. Geometry is stored as GeoJSON (EPSG:4326) so the same schema runs on
SQLite and plain PostgreSQL; computations use shapely/pyproj in the service layer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from safezone.db.base import Base, TimestampMixin


class Station(TimestampMixin, Base):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_th: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    province_th: Mapped[str | None] = mapped_column(String(100))
    province_en: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(40))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)


class Zone(TimestampMixin, Base):
    __tablename__ = "zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int | None] = mapped_column(
        ForeignKey("stations.id", ondelete="RESTRICT"), index=True
    )
    name_th: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # [{"kind": "risk"|"landmark"|"economic"|"other", "text": "..."}]
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    population: Mapped[int | None]
    households: Mapped[int | None]
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)
    area_km2: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    synthetic: Mapped[bool] = mapped_column(default=False)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat), as in GeoJSON."""
        return (self.min_lon, self.min_lat, self.max_lon, self.max_lat)
