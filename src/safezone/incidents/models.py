"""Incident core (the SOS issue grows the pipeline; evidence clips attach here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from safezone.db.base import Base, utcnow


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # sos | theft | assault | traffic | other
    priority: Mapped[int] = mapped_column(default=3)  # 1 = most urgent
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    source_box_id: Mapped[int | None] = mapped_column(
        ForeignKey("sos_boxes.id", ondelete="SET NULL")
    )


class IncidentEvent(Base):
    """The incident timeline: typed events with actor and data, in order."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # opened | alarm_attached | acknowledged | escalated | call_started | call_ended | note |
    # clip_attached | dispatched | closed
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None]
    actor: Mapped[str] = mapped_column(String(100), default="system")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Call(Base):
    """A two-way call between an operator's console and a box."""

    __tablename__ = "calls"
    # One call in progress per box, enforced by the database (safe across app processes).
    __table_args__ = (
        Index(
            "uq_calls_box_active", "box_id", unique=True,
            sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id", ondelete="SET NULL"))
    box_id: Mapped[int | None] = mapped_column(ForeignKey("sos_boxes.id", ondelete="SET NULL"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    connected_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    end_reason: Mapped[str | None] = mapped_column(String(100))
    # Refreshed by the app process that carries the call; a call it stopped refreshing (that
    # process died) is ended as lost, so the box can be called again.
    alive_at: Mapped[datetime | None]
