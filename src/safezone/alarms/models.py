"""Alarms. One per alarm-raising box event (unique event_id); attached to an incident."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from safezone.db.base import Base, utcnow


class Alarm(Base):
    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    box_id: Mapped[int | None] = mapped_column(
        ForeignKey("sos_boxes.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(30))  # sos | tamper | door_open | power_area ...
    silent: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[int] = mapped_column(default=1)
    # new | acknowledged | resolved | cancelled
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id", ondelete="SET NULL"))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    device_time: Mapped[datetime | None]
    raised_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    escalated_at: Mapped[datetime | None]
    escalations: Mapped[int] = mapped_column(default=0)
    cancelled_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    # Correlation: {"cameras": [ids], "nearby_alarms": [ids]}
    related: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
