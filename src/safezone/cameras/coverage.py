"""Camera coverage: how much of a zone the cameras see, what they miss, and which cameras see a
given point (the SOS alarm pop-up asks this).

"Covered" counts only cameras that are *linked and online* (tier ``linked``, status
``online``): a registered pin or a dead stream shows nothing to the command centre. The same
figure over every registered camera is the *potential* coverage, which tells the centre where
linking one more camera would pay off. Cameras with no bearing, FOV or range have no wedge and
are reported as *unknown coverage* instead of being guessed.

Partners see only their own organisation's cameras (and assets), here as everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.assets.models import PointAsset, RiskPoint
from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.cameras.models import Camera
from safezone.cameras.wedges import (
    FULL_CIRCLE_DEG,
    MIN_M_PER_DEG_LAT,
    degree_box,
    grow_box,
    has_fov,
    in_view,
    wedge,
)
from safezone.geo.area import geodesic_area_km2
from safezone.sos.models import SosBox
from safezone.zones.models import Zone
from safezone.zones.service import get_zone

_Q = TypeVar("_Q", bound=Select[*tuple[Any, ...]])
LINKED = "linked"
ONLINE = "online"
FOV_COLUMNS = (
    Camera.id,
    Camera.code,
    Camera.name_th,
    Camera.name_en,
    Camera.lat,
    Camera.lon,
    Camera.bearing_deg,
    Camera.fov_deg,
    Camera.range_m,
    Camera.tier,
    Camera.status,
    Camera.sharing_policy,
    Camera.organisation_id,
    Camera.zone_id,
)


@dataclass(frozen=True, slots=True)
class CameraFov:
    """The columns coverage needs from one camera row (plain values, no ORM object)."""

    id: int
    code: str
    name_th: str
    name_en: str
    lat: float
    lon: float
    bearing_deg: float | None
    fov_deg: float | None
    range_m: float | None
    tier: str
    status: str
    sharing_policy: str
    organisation_id: int | None
    zone_id: int | None

    @property
    def known(self) -> bool:
        """Whether bearing, FOV and range describe a wedge."""
        return has_fov(self.bearing_deg, self.fov_deg, self.range_m)

    @property
    def linked(self) -> bool:
        return self.tier == LINKED

    @property
    def online(self) -> bool:
        return self.status == ONLINE

    @property
    def available(self) -> bool:
        """Linked and online: the centre can watch it now (sharing policy aside)."""
        return self.linked and self.online

    def polygon(self) -> Polygon:
        """The field-of-view wedge (cached by its geometry fields)."""
        if self.fov_deg is None or self.range_m is None:
            raise ValueError(f"camera {self.id} has no field of view")
        return wedge(self.lat, self.lon, self.bearing_deg, self.fov_deg, self.range_m)


@dataclass(frozen=True, slots=True)
class ZoneCoverage:
    zone_id: int
    area_km2: float
    covered_km2: float  # by the union of linked + online cameras' wedges
    covered_share: float
    potential_km2: float  # by every registered camera with a known wedge
    potential_share: float
    cameras_counted: int  # linked + online cameras whose wedge reaches into the zone
    cameras_potential: int  # all cameras whose wedge reaches into the zone
    unknown_coverage: list[int]  # cameras in the zone without bearing / FOV / range


@dataclass(frozen=True, slots=True)
class UncoveredPoint:
    id: int
    code: str
    name_th: str
    name_en: str
    lat: float
    lon: float
    # Cameras whose wedge holds the point but which are not linked + online; empty = no camera
    # at all looks at it.
    seen_by_unavailable: list[int] = field(default_factory=list)

    @property
    def no_camera(self) -> bool:
        return not self.seen_by_unavailable


@dataclass(frozen=True, slots=True)
class Uncovered:
    sos_boxes: list[UncoveredPoint]
    risk_points: list[UncoveredPoint]


@dataclass(frozen=True, slots=True)
class SeeingCamera:
    id: int
    code: str
    name_th: str
    name_en: str
    lat: float
    lon: float
    distance_m: float
    azimuth_deg: float  # from the camera to the point, clockwise from north
    tier: str
    status: str
    sharing_policy: str
    linked: bool
    online: bool


def known_fov() -> ColumnElement[bool]:
    """SQL condition: the camera row has a wedge (mirrors ``wedges.has_fov``)."""
    return and_(
        Camera.fov_deg.is_not(None),
        Camera.fov_deg > 0,
        Camera.range_m.is_not(None),
        Camera.range_m > 0,
        or_(Camera.bearing_deg.is_not(None), Camera.fov_deg >= FULL_CIRCLE_DEG),
    )


def partner_scoped(query: _Q, model: type[PointAsset], who: Principal | None) -> _Q:
    """Partners see only their own organisation's rows."""
    if who is not None and who.role == Role.partner:
        return query.where(model.organisation_id == who.organisation_id)
    return query


async def longest_range(
    session: AsyncSession, who: Principal | None, *extra: ColumnElement[bool]
) -> float:
    """The longest range (m) among the cameras with a wedge that ``who`` sees (0 if none)."""
    query = select(func.max(Camera.range_m)).where(known_fov(), *extra)
    query = partner_scoped(query, Camera, who)
    return float(await session.scalar(query) or 0.0)


async def _cameras_in_box(
    session: AsyncSession,
    box: tuple[float, ...],
    who: Principal | None,
    *extra: ColumnElement[bool],
) -> list[CameraFov]:
    west, south, east, north = box
    query = select(*FOV_COLUMNS).where(
        Camera.lat >= south, Camera.lat <= north, Camera.lon >= west, Camera.lon <= east, *extra
    )
    rows = await session.execute(partner_scoped(query, Camera, who).order_by(Camera.id))
    return [CameraFov(**row._asdict()) for row in rows]


async def cameras_around_zone(
    session: AsyncSession, *, zone: Zone, who: Principal | None
) -> list[CameraFov]:
    """Every camera that could see into the zone: those within the longest range of its box."""
    reach = await longest_range(session, who)
    return await _cameras_in_box(session, grow_box(zone.bbox, reach), who)


def _polygonal(geom: BaseGeometry) -> Polygon | MultiPolygon | None:
    """The areal part of an overlay result (intersections can add stray lines and points)."""
    if isinstance(geom, Polygon | MultiPolygon):
        return None if geom.is_empty else geom
    parts: list[Polygon] = []
    for part in getattr(geom, "geoms", ()):
        if isinstance(part, Polygon) and not part.is_empty:
            parts.append(part)
        elif isinstance(part, MultiPolygon):
            parts.extend(p for p in part.geoms if not p.is_empty)
    return MultiPolygon(parts) if parts else None


def covered_area_km2(area: BaseGeometry, wedges: Sequence[Polygon]) -> float:
    """Ellipsoidal area (km²) of the part of ``area`` inside at least one wedge."""
    if not wedges:
        return 0.0
    inside = _polygonal(area.intersection(shapely.union_all(list(wedges))))
    return geodesic_area_km2(inside) if inside is not None else 0.0


def _share(part: float, whole: float) -> float:
    return min(1.0, part / whole) if whole > 0 else 0.0


def measure_zone(zone: Zone, cameras: Iterable[CameraFov]) -> ZoneCoverage:
    """Coverage of ``zone`` by ``cameras`` (already scoped to what the caller may see)."""
    area = shape(zone.geometry)
    shapely.prepare(area)
    online: list[Polygon] = []
    every: list[Polygon] = []
    counted = potential = 0
    unknown: list[int] = []
    for cam in cameras:
        if not cam.known:
            if cam.zone_id == zone.id or area.intersects(Point(cam.lon, cam.lat)):
                unknown.append(cam.id)
            continue
        poly = cam.polygon()
        if not area.intersects(poly):
            continue
        every.append(poly)
        potential += 1
        if cam.available:
            online.append(poly)
            counted += 1
    covered = covered_area_km2(area, online)
    possible = covered_area_km2(area, every)
    return ZoneCoverage(
        zone_id=zone.id,
        area_km2=zone.area_km2,
        covered_km2=covered,
        covered_share=_share(covered, zone.area_km2),
        potential_km2=possible,
        potential_share=_share(possible, zone.area_km2),
        cameras_counted=counted,
        cameras_potential=potential,
        unknown_coverage=unknown,
    )


async def coverage_of_zone(
    session: AsyncSession, *, zone_id: int, who: Principal | None = None
) -> ZoneCoverage:
    """Share of the zone's ellipsoidal area seen by linked + online cameras (and by all)."""
    zone = await get_zone(session, zone_id)
    return measure_zone(zone, await cameras_around_zone(session, zone=zone, who=who))


class _CameraArrays:
    """Known-wedge cameras as numpy columns, for testing many points at once."""

    def __init__(self, cameras: Iterable[CameraFov]) -> None:
        self.cameras = [c for c in cameras if c.known]
        cols = [
            (c.lat, c.lon, math.nan if c.bearing_deg is None else c.bearing_deg,
             c.fov_deg, c.range_m)
            for c in self.cameras
        ]
        table = np.array(cols, dtype=np.float64).reshape(len(cols), 5)
        self.lat, self.lon, self.bearing, self.fov, self.range = table.T

    def seeing(self, lat: float, lon: float) -> list[tuple[CameraFov, float, float]]:
        """(camera, distance m, azimuth) for every camera whose wedge holds the point."""
        if not self.cameras:
            return []
        mask, dist, azimuth = in_view(
            self.lat, self.lon, self.bearing, self.fov, self.range, lat, lon
        )
        return [
            (self.cameras[i], float(dist[i]), float(azimuth[i])) for i in np.flatnonzero(mask)
        ]


async def _assets_in_zone(
    session: AsyncSession,
    model: type[PointAsset],
    zone: Zone,
    who: Principal | None,
    *extra: ColumnElement[bool],
) -> list[Any]:
    west, south, east, north = zone.bbox
    query = select(
        model.id, model.code, model.name_th, model.name_en, model.lat, model.lon
    ).where(model.lat >= south, model.lat <= north, model.lon >= west, model.lon <= east, *extra)
    rows = list(await session.execute(partner_scoped(query, model, who).order_by(model.id)))
    if not rows:
        return []
    # Inside by geometry (boundary included), not by the stored zone_id, which goes stale when
    # the zone's boundary is redrawn.
    inside = shapely.intersects_xy(
        shape(zone.geometry), [r.lon for r in rows], [r.lat for r in rows]
    )
    return [r for r, keep in zip(rows, inside, strict=True) if keep]


def _unseen(rows: Iterable[Any], cameras: _CameraArrays) -> list[UncoveredPoint]:
    out = []
    for r in rows:
        seen = cameras.seeing(r.lat, r.lon)
        if any(cam.available for cam, _d, _a in seen):
            continue
        out.append(
            UncoveredPoint(
                id=r.id, code=r.code, name_th=r.name_th, name_en=r.name_en, lat=r.lat,
                lon=r.lon, seen_by_unavailable=[cam.id for cam, _d, _a in seen],
            )
        )
    return out


async def uncovered(
    session: AsyncSession, *, zone_id: int, who: Principal | None = None
) -> Uncovered:
    """SOS boxes and risk points in the zone that no linked + online camera sees.

    Each lists the cameras that would see it if they were linked and online; an empty list
    means no registered camera looks at it at all. Landmarks are not risk points and are left
    out (``RiskPoint.kind == "risk"`` only).
    """
    zone = await get_zone(session, zone_id)
    cameras = _CameraArrays(await cameras_around_zone(session, zone=zone, who=who))
    boxes = await _assets_in_zone(session, SosBox, zone, who)
    risks = await _assets_in_zone(session, RiskPoint, zone, who, RiskPoint.kind == "risk")
    return Uncovered(sos_boxes=_unseen(boxes, cameras), risk_points=_unseen(risks, cameras))


async def cameras_seeing(
    session: AsyncSession,
    lat: float,
    lon: float,
    *,
    only_available: bool = False,
    who: Principal | None = None,
) -> list[SeeingCamera]:
    """Cameras whose field of view holds the point, nearest first.

    Two SQL prefilters keep this fast however many cameras there are: a fixed box as wide as
    the longest range (served by the ``lat`` index), and each row's own range against the
    latitude gap. The exact geodesic test then runs vectorised over the few candidates.
    """
    extra: list[ColumnElement[bool]] = []
    if only_available:
        extra += [Camera.tier == LINKED, Camera.status == ONLINE]
    reach = await longest_range(session, who, *extra)
    if reach <= 0:
        return []
    box = degree_box(lat, lon, reach)
    # |Δlat| · (metres per degree of latitude, at least) never exceeds the true distance.
    own_range = func.abs(Camera.lat - lat) * MIN_M_PER_DEG_LAT <= Camera.range_m * 1.01 + 1.0
    candidates = await _cameras_in_box(session, box, who, known_fov(), own_range, *extra)
    return seeing_in(candidates, lat, lon)


def seeing_in(cameras: Iterable[CameraFov], lat: float, lon: float) -> list[SeeingCamera]:
    """Of ``cameras``, those whose wedge holds the point, nearest first (no database)."""
    hits = _CameraArrays(cameras).seeing(lat, lon)
    hits.sort(key=lambda hit: (hit[1], hit[0].id))
    return [
        SeeingCamera(
            id=cam.id, code=cam.code, name_th=cam.name_th, name_en=cam.name_en, lat=cam.lat,
            lon=cam.lon, distance_m=dist, azimuth_deg=azimuth, tier=cam.tier,
            status=cam.status, sharing_policy=cam.sharing_policy, linked=cam.linked,
            online=cam.online,
        )
        for cam, dist, azimuth in hits
    ]
