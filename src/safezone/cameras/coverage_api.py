"""``GET /api/v1/coverage`` (a zone's camera coverage) and ``GET /api/v1/cameras/seeing``
(which cameras see a point). Partners get figures for their own organisation's cameras."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from safezone.auth.access import Access
from safezone.auth.roles import ALL_ROLES, Role
from safezone.auth.service import Principal
from safezone.cameras import coverage
from safezone.deps import ReadSession
from safezone.schemas import ListOut, PageDep

router = APIRouter(tags=["coverage"])
Reader = Annotated[Principal, Depends(Access(ALL_ROLES))]


class UncoveredPointOut(BaseModel):
    id: int
    code: str
    name_th: str
    name_en: str
    lat: float
    lon: float
    seen_by_unavailable: list[int] = Field(
        description="Cameras whose wedge holds the point but are not linked and online."
    )
    no_camera: bool = Field(description="No registered camera's wedge holds the point at all.")


class CoverageOut(BaseModel):
    zone_id: int
    area_km2: float = Field(description="The zone's ellipsoidal (WGS84) area.")
    covered_km2: float = Field(description="Area inside a linked and online camera's wedge.")
    covered_share: float = Field(ge=0, le=1, description="covered_km2 / area_km2.")
    potential_km2: float = Field(description="Area inside any registered camera's wedge.")
    potential_share: float = Field(ge=0, le=1, description="potential_km2 / area_km2.")
    cameras_counted: int = Field(
        description="Linked and online cameras whose wedge reaches into the zone."
    )
    cameras_potential: int = Field(description="All cameras whose wedge reaches into the zone.")
    unknown_coverage: list[int] = Field(
        description="Cameras in the zone without bearing, field of view or range (no wedge)."
    )
    uncovered_sos_boxes: list[UncoveredPointOut]
    uncovered_risk_points: list[UncoveredPointOut]
    scope: Literal["all", "organisation"] = Field(
        description="organisation: a partner's figures, from their own organisation's cameras "
        "and assets only."
    )


class SeeingCameraOut(BaseModel):
    id: int
    code: str
    name_th: str
    name_en: str
    lat: float
    lon: float
    distance_m: float
    azimuth_deg: float = Field(description="From the camera to the point, clockwise from north.")
    tier: str
    status: str
    sharing_policy: str
    linked: bool
    online: bool


def _point(p: coverage.UncoveredPoint) -> dict[str, Any]:
    return {**asdict(p), "no_camera": p.no_camera}


@router.get(
    "/coverage", response_model=CoverageOut, summary="Share of a zone seen by the cameras"
)
async def zone_coverage(
    session: ReadSession,
    who: Reader,
    zone_id: Annotated[int, Query(description="The zone to measure.")],
) -> dict[str, Any]:
    measured = await coverage.coverage_of_zone(session, zone_id=zone_id, who=who)
    missed = await coverage.uncovered(session, zone_id=zone_id, who=who)
    return {
        **asdict(measured),
        "uncovered_sos_boxes": [_point(p) for p in missed.sos_boxes],
        "uncovered_risk_points": [_point(p) for p in missed.risk_points],
        "scope": "organisation" if who.role == Role.partner else "all",
    }


@router.get(
    "/cameras/seeing",
    response_model=ListOut[SeeingCameraOut],
    summary="Cameras whose field of view holds a point, nearest first",
)
async def seeing(
    session: ReadSession,
    who: Reader,
    page: PageDep,
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude, WGS84 degrees.")],
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude, WGS84 degrees.")],
    available: Annotated[
        bool, Query(description="Only linked cameras that are online now.")
    ] = False,
) -> dict[str, Any]:
    found = await coverage.cameras_seeing(
        session, lat, lon, only_available=available, who=who
    )
    window = found[page.offset : page.offset + page.limit]
    return {
        "data": [asdict(c) for c in window],
        "count": len(found),
        "limit": page.limit,
        "offset": page.offset,
    }
