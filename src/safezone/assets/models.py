"""Point assets. Each kind has its own table (later issues grow them differently); the
columns every asset shares come from ``PointAsset``."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from safezone.db.base import Base, TimestampMixin


class PointAsset(TimestampMixin):
    id: Mapped[int] = mapped_column(primary_key=True)
    # The owner's own identifier (e.g. the municipality's camera number); unique per kind.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_th: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float] = mapped_column(Float, index=True)
    lon: Mapped[float] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    synthetic: Mapped[bool] = mapped_column(default=False)

    @declared_attr
    def zone_id(cls) -> Mapped[int | None]:  # noqa: N805 - SQLAlchemy declared_attr signature
        return mapped_column(ForeignKey("zones.id", ondelete="SET NULL"), index=True)

    @declared_attr
    def organisation_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)


class RiskPoint(PointAsset, Base):
    """A place that needs watching (risk) or that people navigate by (landmark)."""

    __tablename__ = "risk_points"

    kind: Mapped[str] = mapped_column(String(20), default="risk")  # risk | landmark
    category: Mapped[str] = mapped_column(String(40), default="other")
    risk_level: Mapped[int | None]


class StreetLight(PointAsset, Base):
    __tablename__ = "street_lights"

    pole_number: Mapped[str | None] = mapped_column(String(40))
    working: Mapped[bool] = mapped_column(default=True)
