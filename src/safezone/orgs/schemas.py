"""Organisation and contact schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from safezone.orgs.models import OrganisationKind
from safezone.schemas import Input, NameEn, NameTh, Output

Phone = Field(default=None, max_length=40, pattern=r"^[0-9+()\-\s#]*$")


class ContactIn(Input):
    name: str = Field(min_length=1, max_length=200)
    position: str | None = Field(default=None, max_length=200)
    phone: str | None = Phone
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    line_id: str | None = Field(default=None, max_length=100)


class ContactOut(Output):
    id: int
    name: str
    position: str | None
    phone: str | None
    email: str | None
    line_id: str | None


class OrganisationCreate(Input):
    name_th: NameTh
    name_en: NameEn
    kind: OrganisationKind
    address: str | None = Field(default=None, max_length=500)
    phone: str | None = Phone
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    notes: str | None = Field(default=None, max_length=4000)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=100)


class OrganisationUpdate(Input):
    name_th: NameTh | None = None
    name_en: NameEn | None = None
    kind: OrganisationKind | None = None
    address: str | None = Field(default=None, max_length=500)
    phone: str | None = Phone
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    notes: str | None = Field(default=None, max_length=4000)
    contacts: list[ContactIn] | None = Field(
        default=None, max_length=100, description="Replaces the whole contact list when given."
    )


class OrganisationOut(Output):
    id: int
    name_th: str
    name_en: str
    kind: OrganisationKind
    address: str | None
    phone: str | None
    email: str | None
    notes: str | None
    contacts: list[ContactOut]
    created_at: datetime
    updated_at: datetime
