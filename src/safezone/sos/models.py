"""SOS boxes: registry, provisioning, live health, and every event they send.

Each event a box sends is stored once, keyed by its ``event_id`` (a UUID chosen by the box), so
a box that resends after a lost acknowledgement never creates a second alarm.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from safezone.assets.models import PointAsset
from safezone.db.base import Base, utcnow


class SosBox(PointAsset, Base):
    __tablename__ = "sos_boxes"

    address: Mapped[str | None] = mapped_column(String(300))
    has_camera: Mapped[bool] = mapped_column(default=True)
    # unknown | online | offline — from heartbeats and the retained status / last will.
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    enabled: Mapped[bool] = mapped_column(default=True)
    # SHA-256 of the per-box secret: the secret is 256 random bits, so a slow KDF adds nothing
    # but start-up cost when thousands of boxes reconnect at once.
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    provisioned_at: Mapped[datetime | None]
    status_since: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    last_heartbeat_at: Mapped[datetime | None]
    battery_pct: Mapped[float | None] = mapped_column(Float)
    mains_ok: Mapped[bool | None]
    temperature_c: Mapped[float | None] = mapped_column(Float)
    signal_dbm: Mapped[float | None] = mapped_column(Float)
    firmware: Mapped[str | None] = mapped_column(String(40))
    last_seq: Mapped[int | None]
    last_self_test_at: Mapped[datetime | None]
    self_test_ok: Mapped[bool | None]
    self_test_detail: Mapped[str | None] = mapped_column(String(300))


class BoxEvent(Base):
    """Every accepted event from a box, exactly once (unique event_id)."""

    __tablename__ = "box_events"
    __table_args__ = (Index("ix_box_events_box_received", "box_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    box_id: Mapped[int] = mapped_column(ForeignKey("sos_boxes.id", ondelete="CASCADE"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(30))
    device_time: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
