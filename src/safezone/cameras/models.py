"""Camera registry, health, access requests and wall layouts.

Two tiers: *registered* (a pin with an owner and contact, no stream) and *linked* (a stream the
centre can reach). Stream credentials are stored only encrypted (``credentials_enc``) and
stream URLs are stored without user-info, so neither leaks through the API or logs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from safezone.assets.models import PointAsset
from safezone.db.base import Base, utcnow


class Camera(PointAsset, Base):
    __tablename__ = "cameras"

    bearing_deg: Mapped[float | None] = mapped_column(Float)
    fov_deg: Mapped[float | None] = mapped_column(Float)
    range_m: Mapped[float | None] = mapped_column(Float)
    height_m: Mapped[float | None] = mapped_column(Float)
    ptz: Mapped[bool] = mapped_column(default=False)
    # registered: a pin with an owner; linked: a stream the centre can reach.
    tier: Mapped[str] = mapped_column(String(12), default="registered")
    stream_url: Mapped[str | None] = mapped_column(String(500))
    sub_stream_url: Mapped[str | None] = mapped_column(String(500))
    credentials_enc: Mapped[str | None] = mapped_column(Text)
    # Owner's sharing policy: always | on_alarm | on_request | off.
    sharing_policy: Mapped[str] = mapped_column(String(12), default="always")
    alarm_radius_m: Mapped[float] = mapped_column(Float, default=200.0)
    buffer_seconds: Mapped[int] = mapped_column(default=0)
    # Health, written by the monitor. status: unknown | online | offline | unauthorized |
    # no_video | degraded.
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    status_since: Mapped[datetime | None]
    status_detail: Mapped[str | None] = mapped_column(String(300))
    tamper: Mapped[str | None] = mapped_column(String(16))  # frozen | black | covered | moved
    last_probe_at: Mapped[datetime | None]
    last_ok_at: Mapped[datetime | None]
    codec: Mapped[str | None] = mapped_column(String(40))
    width: Mapped[int | None]
    height: Mapped[int | None]
    fps: Mapped[float | None] = mapped_column(Float)
    snapshot_at: Mapped[datetime | None]
    reference_at: Mapped[datetime | None]

    @property
    def has_credentials(self) -> bool:
        """Stream credentials are stored (their value is never exposed)."""
        return bool(self.credentials_enc)


class CameraStatusChange(Base):
    """Every health state transition; uptime % is computed from these intervals."""

    __tablename__ = "camera_status_changes"
    __table_args__ = (Index("ix_camera_status_changes_camera_at", "camera_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(300))


class CameraAccessRequest(Base):
    """A request to view an ``on_request`` camera; the owner organisation decides."""

    __tablename__ = "camera_access_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), index=True
    )
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|approved|denied
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]


class WallLayout(Base):
    """A saved camera-wall layout (2×2, 3×3 or 4×4) of one user."""

    __tablename__ = "wall_layouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    grid: Mapped[int] = mapped_column(default=2)
    camera_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
