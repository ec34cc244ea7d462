"""Evidence clips. Custody events (created, viewed, downloaded) go into the audit chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from safezone.db.base import Base, utcnow

# pending: waiting for its window; recording; complete: file written and hashed;
# failed: nothing usable (see ``error``); purged: past retention, file deleted, row kept.
CLIP_STATUSES = ("pending", "recording", "complete", "failed", "purged")


class Clip(Base):
    __tablename__ = "clips"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUID
    camera_id: Mapped[int | None] = mapped_column(
        ForeignKey("cameras.id", ondelete="SET NULL"), index=True
    )
    camera_code: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(500))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    path: Mapped[str | None] = mapped_column(String(500))
    # Big: a 30-minute 4K clip passes the 2 GiB that a PostgreSQL integer holds.
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    duration_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    retain_until: Mapped[datetime | None] = mapped_column(index=True)
    # What was really recorded: the asked window is not always available (no pre-roll buffer,
    # a stream that ended early). Never pretend: the gap is stored and exported.
    recorded_start_at: Mapped[datetime | None]
    recorded_end_at: Mapped[datetime | None]
    unavailable_s: Mapped[float | None] = mapped_column(Float)
    # preroll_unavailable | preroll_partial | stream_ended | partial | resumed
    note: Mapped[str | None] = mapped_column(String(40))
    # Refreshed by the process recording the clip; a stale one means that process is gone.
    heartbeat_at: Mapped[datetime | None]
