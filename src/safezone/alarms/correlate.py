"""Correlation for a new alarm: the cameras that see the box, and other alarms close by.

Cameras: ``cameras_seeing`` (the CCTV issue's "which cameras see point P", from each camera's
bearing, field of view and range). When no camera's wedge holds the box (cameras with no
bearing/FOV/range recorded are common in a new zone), the nearest cameras within
``alarm_camera_fallback_m`` are offered instead, marked ``camera_match = "nearest"`` so the
console can say they *may* see it.

Nearby alarms: other alarms within ``alarm_correlation_radius_m`` and
``alarm_correlation_window_s`` of this one (several boxes pressed at one scene, or a tamper
next to a press), except those of the same incident (a box pressed again). Links are kept
both ways, so either alarm's panel lists the other.

Everything here is read before the alarm is inserted, so the pipeline needs few round trips
to the database (each one counts on the way to the console); the alarm rows are read and
updated with Core statements (no ORM unit of work on the press path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.camera_index import CameraIndex
from safezone.alarms.models import Alarm
from safezone.alarms.views import CameraLike
from safezone.cameras.coverage import cameras_seeing
from safezone.cameras.models import Camera
from safezone.cameras.wedges import degree_box
from safezone.db.base import table_of
from safezone.geo.area import distance_m
from safezone.settings import Settings

MAX_CAMERAS = 8
# A crowd pressing one box for an hour must not make every press rewrite hundreds of rows:
# the newest few neighbours are what an operator can use.
MAX_NEARBY = 20


# Built once (the press path runs it): alarms in a time window and a lat/lon box.
_NEARBY = (
    select(Alarm.id, Alarm.lat, Alarm.lon, Alarm.related)
    .where(
        Alarm.raised_at >= bindparam("first"),
        Alarm.raised_at <= bindparam("last"),
        Alarm.lat.between(bindparam("south"), bindparam("north")),
        Alarm.lon.between(bindparam("west"), bindparam("east")),
    )
    .order_by(Alarm.raised_at.desc(), Alarm.id.desc())
)
_NEARBY_EXCEPT = _NEARBY.where(
    (Alarm.incident_id.is_(None)) | (Alarm.incident_id != bindparam("incident"))
)


@dataclass(frozen=True, slots=True)
class Neighbour:
    """Another alarm close by: its id and its ``related`` (to link the new alarm back)."""

    id: int
    related: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Correlation:
    cameras: list[CameraLike] = field(default_factory=list)
    camera_match: str = "none"  # fov | nearest | none
    nearby: list[Neighbour] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.cameras or self.nearby)

    def related(self) -> dict[str, Any]:
        """The ``Alarm.related`` value: {"cameras": [ids], "camera_match", "nearby_alarms"}."""
        return {
            "cameras": [c.id for c in self.cameras],
            "camera_match": self.camera_match,
            "nearby_alarms": [a.id for a in self.nearby],
        }


async def nearest_cameras(
    session: AsyncSession, lat: float, lon: float, *, radius_m: float, limit: int = MAX_CAMERAS
) -> list[Camera]:
    """Cameras within ``radius_m`` of the point, nearest first (geodesic distance)."""
    west, south, east, north = degree_box(lat, lon, radius_m)
    rows = await session.scalars(
        select(Camera).where(Camera.lat.between(south, north), Camera.lon.between(west, east))
    )
    near = []
    for camera in rows:
        dist = distance_m(camera.lon, camera.lat, lon, lat)
        if dist <= radius_m:
            near.append((dist, camera.id, camera))
    near.sort(key=lambda item: (item[0], item[1]))
    return [camera for _dist, _id, camera in near[:limit]]


async def cameras_for(
    session: AsyncSession, lat: float, lon: float, *, settings: Settings,
    index: CameraIndex | None = None,
) -> tuple[list[CameraLike], str]:
    """The cameras to show with an alarm at (lat, lon) and how they were matched (from the
    device link's in-memory ``index`` while it is current, else from the database)."""
    if index is not None and await index.is_current(session):
        cameras, match = index.cameras_for(
            lat, lon, radius_m=settings.alarm_camera_fallback_m, limit=MAX_CAMERAS
        )
        return list(cameras), match
    seeing = await cameras_seeing(session, lat, lon)
    if seeing:
        return list(seeing[:MAX_CAMERAS]), "fov"
    near = await nearest_cameras(session, lat, lon, radius_m=settings.alarm_camera_fallback_m)
    return list(near), ("nearest" if near else "none")


async def nearby_alarms(
    session: AsyncSession,
    *,
    lat: float,
    lon: float,
    at: datetime,
    settings: Settings,
    exclude_incident: int | None = None,
) -> list[Neighbour]:
    """Alarms within the correlation radius and time window of (lat, lon, at), newest first,
    at most ``MAX_NEARBY``; alarms of ``exclude_incident`` are left out (they are linked
    through their incident already)."""
    radius = settings.alarm_correlation_radius_m
    window = timedelta(seconds=settings.alarm_correlation_window_s)
    west, south, east, north = degree_box(lat, lon, radius)
    conn = await session.connection()
    rows = await conn.execute(
        _NEARBY if exclude_incident is None else _NEARBY_EXCEPT,
        {"first": at - window, "last": at + window, "south": south, "north": north,
         "west": west, "east": east, "incident": exclude_incident},
    )
    found = []
    for row in rows:
        if row.lat is None or row.lon is None:
            continue
        if distance_m(row.lon, row.lat, lon, lat) <= radius:
            found.append(Neighbour(row.id, row.related or {}))
            if len(found) >= MAX_NEARBY:
                break
    return found


async def correlate(
    session: AsyncSession,
    *,
    lat: float,
    lon: float,
    at: datetime,
    settings: Settings,
    exclude_incident: int | None = None,
    index: CameraIndex | None = None,
) -> Correlation:
    """The cameras and neighbours of an alarm about to be raised at (lat, lon, at)."""
    cameras, match = await cameras_for(session, lat, lon, settings=settings, index=index)
    others = await nearby_alarms(
        session, lat=lat, lon=lon, at=at, settings=settings, exclude_incident=exclude_incident
    )
    return Correlation(cameras, match, others)


async def link_back(session: AsyncSession, alarm_id: int, neighbours: list[Neighbour]) -> None:
    """Add the new alarm to each neighbour's list, so the link shows from both sides."""
    changes = []
    for other in neighbours:
        linked = list(other.related.get("nearby_alarms", []))
        if alarm_id not in linked:
            kept = [*linked, alarm_id][-MAX_NEARBY:]
            changes.append({"row_id": other.id,
                            "new_related": {**other.related, "nearby_alarms": kept}})
    if changes:
        table = table_of(Alarm)
        conn = await session.connection()
        await conn.execute(
            update(table).where(table.c.id == bindparam("row_id"))
            .values(related=bindparam("new_related")),
            changes,
        )
