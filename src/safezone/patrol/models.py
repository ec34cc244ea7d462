"""Patrol checkpoints."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from safezone.assets.models import PointAsset
from safezone.db.base import Base


class Checkpoint(PointAsset, Base):
    __tablename__ = "checkpoints"

    # Minutes between required visits; None means no schedule.
    visit_interval_min: Mapped[int | None]
    qr_label: Mapped[str | None] = mapped_column(String(100))
