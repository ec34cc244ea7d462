"""Organisations and their contacts."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from safezone.db.base import Base, TimestampMixin


class OrganisationKind(StrEnum):
    police = "police"
    local_government = "local_government"
    government = "government"
    private_business = "private_business"
    community = "community"
    volunteer = "volunteer"
    school = "school"
    hospital = "hospital"
    religious = "religious"
    other = "other"


class Organisation(TimestampMixin, Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name_th: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganisationKind] = mapped_column(
        Enum(OrganisationKind, native_enum=False, length=30)
    )
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    notes: Mapped[str | None] = mapped_column(Text)
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="organisation",
        cascade="all, delete-orphan",
        order_by="Contact.id",
        lazy="selectin",
    )


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    line_id: Mapped[str | None] = mapped_column(String(100))
    organisation: Mapped[Organisation] = relationship(back_populates="contacts")
