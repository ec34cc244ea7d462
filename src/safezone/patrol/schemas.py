"""Checkpoint schemas."""

from __future__ import annotations

from pydantic import Field

from safezone.assets.schemas import AssetCreate, AssetOut, AssetUpdate


class CheckpointCreate(AssetCreate):
    visit_interval_min: int | None = Field(default=None, ge=5, le=10080)
    qr_label: str | None = Field(default=None, max_length=100)


class CheckpointUpdate(AssetUpdate):
    visit_interval_min: int | None = Field(default=None, ge=5, le=10080)
    qr_label: str | None = Field(default=None, max_length=100)


class CheckpointOut(AssetOut):
    visit_interval_min: int | None
    qr_label: str | None
