"""Camera schemas."""

from __future__ import annotations

from safezone.assets.schemas import (
    AssetCreate,
    AssetOut,
    AssetUpdate,
    Bearing,
    Fov,
    Height,
    Range,
    Tier,
)


class CameraCreate(AssetCreate):
    bearing_deg: Bearing | None = None
    fov_deg: Fov | None = None
    range_m: Range | None = None
    height_m: Height | None = None
    ptz: bool = False
    tier: Tier = "registered"


class CameraUpdate(AssetUpdate):
    bearing_deg: Bearing | None = None
    fov_deg: Fov | None = None
    range_m: Range | None = None
    height_m: Height | None = None
    ptz: bool | None = None
    tier: Tier | None = None


class CameraOut(AssetOut):
    bearing_deg: float | None
    fov_deg: float | None
    range_m: float | None
    height_m: float | None
    ptz: bool
    tier: str
    status: str
