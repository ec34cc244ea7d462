"""Correlation for a new alarm: the cameras that see the box, and other alarms close by.

Cameras: ``cameras_seeing`` (the CCTV issue's "which cameras see point P", from each camera's
bearing, field of view and range). When no camera's wedge holds the box (cameras with no
bearing/FOV/range recorded are common in a new zone), the nearest cameras within
``alarm_camera_fallback_m`` are offered instead, marked ``camera_match = "nearest"`` so the
console can say they *may* see it.

Nearby alarms: any other alarm within ``alarm_correlation_radius_m`` and
``alarm_correlation_window_s`` of this one (several boxes pressed at one scene, or a tamper
next to a press), except those of the same incident (a box pressed again). Links are kept
both ways, so either alarm's panel lists the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.models import Alarm
from safezone.cameras.coverage import cameras_seeing
from safezone.cameras.models import Camera
from safezone.cameras.wedges import degree_box
from safezone.geo.area import distance_m
from safezone.settings import Settings

MAX_CAMERAS = 8


@dataclass(frozen=True, slots=True)
class Correlation:
    cameras: list[int] = field(default_factory=list)
    camera_match: str = "none"  # fov | nearest | none
    nearby_alarms: list[int] = field(default_factory=list)


async def nearest_cameras(
    session: AsyncSession, lat: float, lon: float, *, radius_m: float, limit: int = MAX_CAMERAS
) -> list[int]:
    """Cameras within ``radius_m`` of the point, nearest first (geodesic distance)."""
    west, south, east, north = degree_box(lat, lon, radius_m)
    rows = await session.execute(
        select(Camera.id, Camera.lat, Camera.lon).where(
            Camera.lat.between(south, north), Camera.lon.between(west, east)
        )
    )
    near = []
    for cam_id, cam_lat, cam_lon in rows:
        dist = distance_m(cam_lon, cam_lat, lon, lat)
        if dist <= radius_m:
            near.append((dist, cam_id))
    near.sort()
    return [cam_id for _dist, cam_id in near[:limit]]


async def cameras_for(
    session: AsyncSession, lat: float, lon: float, *, settings: Settings
) -> tuple[list[int], str]:
    """The cameras to show with an alarm at (lat, lon) and how they were matched."""
    seeing = await cameras_seeing(session, lat, lon)
    if seeing:
        return [cam.id for cam in seeing[:MAX_CAMERAS]], "fov"
    near = await nearest_cameras(session, lat, lon, radius_m=settings.alarm_camera_fallback_m)
    return near, ("nearest" if near else "none")


async def nearby_alarms(
    session: AsyncSession,
    *,
    lat: float,
    lon: float,
    at: datetime,
    settings: Settings,
    exclude: int | None = None,
    exclude_incident: int | None = None,
) -> list[Alarm]:
    """Other alarms within the correlation radius and time window of (lat, lon, at); alarms
    of ``exclude_incident`` are left out (they are linked through their incident already)."""
    radius = settings.alarm_correlation_radius_m
    window = timedelta(seconds=settings.alarm_correlation_window_s)
    west, south, east, north = degree_box(lat, lon, radius)
    query = select(Alarm).where(
        Alarm.raised_at >= at - window,
        Alarm.raised_at <= at + window,
        Alarm.lat.between(south, north),
        Alarm.lon.between(west, east),
    )
    if exclude is not None:
        query = query.where(Alarm.id != exclude)
    if exclude_incident is not None:
        query = query.where(
            (Alarm.incident_id.is_(None)) | (Alarm.incident_id != exclude_incident)
        )
    found = []
    for other in await session.scalars(query.order_by(Alarm.raised_at.desc())):
        if other.lat is None or other.lon is None:
            continue
        if distance_m(other.lon, other.lat, lon, lat) <= radius:
            found.append(other)
    return found


async def correlate(session: AsyncSession, alarm: Alarm, *, settings: Settings) -> Correlation:
    """Find the alarm's cameras and neighbours, and store them on it (and on the neighbours)."""
    if alarm.lat is None or alarm.lon is None:
        return Correlation()
    cameras, match = await cameras_for(session, alarm.lat, alarm.lon, settings=settings)
    others = await nearby_alarms(
        session, lat=alarm.lat, lon=alarm.lon, at=alarm.raised_at, settings=settings,
        exclude=alarm.id, exclude_incident=alarm.incident_id,
    )
    for other in others:
        linked = list((other.related or {}).get("nearby_alarms", []))
        if alarm.id not in linked:
            # A new dict: JSON columns only notice reassignment, not in-place changes.
            other.related = {**(other.related or {}), "nearby_alarms": [*linked, alarm.id]}
    result = Correlation(cameras, match, [o.id for o in others])
    alarm.related = {
        "cameras": result.cameras,
        "camera_match": result.camera_match,
        "nearby_alarms": result.nearby_alarms,
    }
    return result
