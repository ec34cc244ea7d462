"""SOS box registry (device link and alarms arrive with the SOS issue)."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from safezone.assets.models import PointAsset
from safezone.db.base import Base


class SosBox(PointAsset, Base):
    __tablename__ = "sos_boxes"

    address: Mapped[str | None] = mapped_column(String(300))
    has_camera: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(16), default="unknown")
