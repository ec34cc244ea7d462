"""SOS box schemas."""

from __future__ import annotations

from pydantic import Field

from safezone.assets.schemas import AssetCreate, AssetOut, AssetUpdate


class SosBoxCreate(AssetCreate):
    address: str | None = Field(default=None, max_length=300)
    has_camera: bool = True


class SosBoxUpdate(AssetUpdate):
    address: str | None = Field(default=None, max_length=300)
    has_camera: bool | None = None


class SosBoxOut(AssetOut):
    address: str | None
    has_camera: bool
    status: str
