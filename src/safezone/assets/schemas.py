"""Create / Update / Public schemas shared by every point asset."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from safezone.schemas import Input, Latitude, Longitude, NameEn, NameTh, Output

Code = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[\w.\-/:#]+$",
        description="The owner's identifier, unique per asset kind (letters, digits, . - / : #).",
    ),
]
Notes = Annotated[str | None, Field(default=None, max_length=2000)]


class AssetCreate(Input):
    code: Code
    name_th: NameTh
    name_en: NameEn = ""
    lat: Latitude
    lon: Longitude
    zone_id: int | None = Field(
        default=None, description="Zone; found from the location when left out."
    )
    organisation_id: int | None = Field(default=None, description="Owning organisation.")
    notes: Notes = None


class AssetUpdate(Input):
    code: Code | None = None
    name_th: NameTh | None = None
    name_en: NameEn | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    zone_id: int | None = None
    organisation_id: int | None = None
    notes: Notes = None


class AssetOut(Output):
    id: int
    code: str
    name_th: str
    name_en: str
    lat: float
    lon: float
    zone_id: int | None
    organisation_id: int | None
    notes: str | None
    synthetic: bool
    created_at: datetime
    updated_at: datetime


Bearing = Annotated[float, Field(ge=0, lt=360, description="Degrees clockwise from north.")]
Fov = Annotated[float, Field(gt=0, le=360, description="Horizontal field of view, degrees.")]
Range = Annotated[float, Field(gt=0, le=2000, description="Useful viewing range, metres.")]
Height = Annotated[float, Field(ge=0, le=100, description="Mounting height, metres.")]
Tier = Literal["registered", "linked"]


RiskKind = Literal["risk", "landmark"]
RiskCategory = Literal[
    "dark_alley",
    "abandoned_building",
    "vacant_lot",
    "drug_spot",
    "accident_spot",
    "market",
    "school",
    "temple",
    "mosque",
    "bank",
    "atm",
    "government",
    "hospital",
    "transport",
    "shop",
    "entertainment",
    "other",
]


class RiskPointCreate(AssetCreate):
    kind: RiskKind = "risk"
    category: RiskCategory = "other"
    risk_level: int | None = Field(default=None, ge=1, le=5)


class RiskPointUpdate(AssetUpdate):
    kind: RiskKind | None = None
    category: RiskCategory | None = None
    risk_level: int | None = Field(default=None, ge=1, le=5)


class RiskPointOut(AssetOut):
    kind: str
    category: str
    risk_level: int | None


class StreetLightCreate(AssetCreate):
    pole_number: str | None = Field(default=None, max_length=40)
    working: bool = True


class StreetLightUpdate(AssetUpdate):
    pole_number: str | None = Field(default=None, max_length=40)
    working: bool | None = None


class StreetLightOut(AssetOut):
    pole_number: str | None
    working: bool
