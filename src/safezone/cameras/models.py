"""Camera registry (the fields for streams and health arrive with the CCTV issue)."""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from safezone.assets.models import PointAsset
from safezone.db.base import Base


class Camera(PointAsset, Base):
    __tablename__ = "cameras"

    bearing_deg: Mapped[float | None] = mapped_column(Float)
    fov_deg: Mapped[float | None] = mapped_column(Float)
    range_m: Mapped[float | None] = mapped_column(Float)
    height_m: Mapped[float | None] = mapped_column(Float)
    ptz: Mapped[bool] = mapped_column(default=False)
    # registered: a pin with an owner; linked: a stream the centre can reach.
    tier: Mapped[str] = mapped_column(String(12), default="registered")
    status: Mapped[str] = mapped_column(String(16), default="unknown")
