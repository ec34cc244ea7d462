"""Alarms as the consoles and the API see them: the alarm with its box and its cameras.

One shape everywhere (the ``alarm.new`` push, the snapshot a console gets on connect, and
``GET /api/v1/alarms``), so the console has one renderer. Built in bulk: one query for the
boxes and one for the cameras of any number of alarms.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.models import Alarm
from safezone.cameras.models import Camera
from safezone.geo.area import distance_m
from safezone.sos.models import SosBox

OPEN_STATUSES = ("new", "acknowledged")


class Place(Protocol):
    """What every point on an alarm's panel has (a camera or a box, row or snapshot)."""

    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def name_th(self) -> str: ...
    @property
    def name_en(self) -> str: ...
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def status(self) -> str: ...


class CameraLike(Place, Protocol):
    """What a camera view needs: a ``Camera`` row or a ``cameras.coverage.SeeingCamera``."""

    @property
    def tier(self) -> str: ...
    @property
    def sharing_policy(self) -> str: ...


class BoxViewLike(Place, Protocol):
    """What a box view needs: a ``SosBox`` row or the device link's snapshot of one."""

    @property
    def address(self) -> str | None: ...
    @property
    def zone_id(self) -> int | None: ...
    @property
    def has_camera(self) -> bool: ...
    @property
    def battery_pct(self) -> float | None: ...
    @property
    def mains_ok(self) -> bool | None: ...
    @property
    def last_heartbeat_at(self) -> datetime | None: ...


def box_view(box: BoxViewLike) -> dict[str, Any]:
    """The box facts an operator needs at a glance (no secrets, no provisioning data)."""
    return {
        "id": box.id,
        "code": box.code,
        "name_th": box.name_th,
        "name_en": box.name_en,
        "address": box.address,
        "lat": box.lat,
        "lon": box.lon,
        "zone_id": box.zone_id,
        "status": box.status,
        "has_camera": box.has_camera,
        "battery_pct": box.battery_pct,
        "mains_ok": box.mains_ok,
        "last_heartbeat_at": box.last_heartbeat_at,
    }


def camera_view(camera: CameraLike, lat: float | None, lon: float | None) -> dict[str, Any]:
    """A camera next to an alarm: where it is, whether it works, how far from the alarm."""
    dist = None
    if lat is not None and lon is not None:
        dist = round(distance_m(camera.lon, camera.lat, lon, lat), 1)
    return {
        "id": camera.id,
        "code": camera.code,
        "name_th": camera.name_th,
        "name_en": camera.name_en,
        "lat": camera.lat,
        "lon": camera.lon,
        "status": camera.status,
        "tier": camera.tier,
        "sharing_policy": camera.sharing_policy,
        "distance_m": dist,
    }


def alarm_view(
    alarm: Alarm, box: BoxViewLike | None, cameras: Sequence[CameraLike] = ()
) -> dict[str, Any]:
    """One alarm with its box and cameras, JSON-ready apart from datetimes."""
    related = alarm.related or {}
    return {
        "id": alarm.id,
        "event_id": alarm.event_id,
        "kind": alarm.kind,
        "silent": alarm.silent,
        "priority": alarm.priority,
        "status": alarm.status,
        "lat": alarm.lat,
        "lon": alarm.lon,
        "zone_id": alarm.zone_id,
        "incident_id": alarm.incident_id,
        "device_time": alarm.device_time,
        "raised_at": alarm.raised_at,
        "acknowledged_at": alarm.acknowledged_at,
        "acknowledged_by": alarm.acknowledged_by,
        "escalated_at": alarm.escalated_at,
        "escalations": alarm.escalations,
        "cancelled_at": alarm.cancelled_at,
        "resolved_at": alarm.resolved_at,
        "camera_match": related.get("camera_match", "none"),
        "nearby_alarms": list(related.get("nearby_alarms", [])),
        "box": box_view(box) if box is not None else None,
        "cameras": [camera_view(c, alarm.lat, alarm.lon) for c in cameras],
    }


async def alarm_views(session: AsyncSession, alarms: Iterable[Alarm]) -> list[dict[str, Any]]:
    """``alarm_view`` for many alarms with two queries in all."""
    alarms = list(alarms)
    box_ids = {a.box_id for a in alarms if a.box_id is not None}
    camera_ids = {int(c) for a in alarms for c in (a.related or {}).get("cameras", [])}
    boxes: dict[int, SosBox] = {}
    cameras: dict[int, Camera] = {}
    if box_ids:
        rows_b = await session.scalars(select(SosBox).where(SosBox.id.in_(box_ids)))
        boxes = {b.id: b for b in rows_b}
    if camera_ids:
        rows = await session.scalars(select(Camera).where(Camera.id.in_(camera_ids)))
        cameras = {c.id: c for c in rows}
    out = []
    for alarm in alarms:
        ids = [int(c) for c in (alarm.related or {}).get("cameras", [])]
        box = boxes.get(alarm.box_id) if alarm.box_id is not None else None
        out.append(alarm_view(alarm, box, [cameras[i] for i in ids if i in cameras]))
    return out


async def open_alarms(session: AsyncSession, *, limit: int = 500) -> list[dict[str, Any]]:
    """Every alarm still waiting for someone (new or acknowledged), most urgent first."""
    rows = await session.scalars(
        select(Alarm)
        .where(Alarm.status.in_(OPEN_STATUSES))
        .order_by(Alarm.priority, Alarm.raised_at.desc(), Alarm.id.desc())
        .limit(limit)
    )
    return await alarm_views(session, rows)
