"""Rows the alarm tests build on: boxes, cameras and box events, as the device link stores them."""

from __future__ import annotations

import itertools
import math
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from safezone.alarms.effects import Effect, Push
from safezone.alarms.pipeline import on_box_event
from safezone.cameras.models import Camera
from safezone.db.base import utcnow
from safezone.db.engine import Database
from safezone.settings import Settings
from safezone.sos.models import BoxEvent, SosBox

# The Sadet intersection, Bangkok (approximately).
LAT, LON = 13.7540, 100.5050
_seq = itertools.count(1)


def north_of(lat: float, metres: float) -> float:
    """Latitude ``metres`` north (≈111.32 km per degree here; good to a few cm at 300 m)."""
    return lat + metres / 110_574.0


def east_of(lat: float, lon: float, metres: float) -> float:
    return lon + metres / (111_320.0 * math.cos(math.radians(lat)))


async def add_box(
    session: AsyncSession, code: str, *, lat: float = LAT, lon: float = LON,
    zone_id: int | None = None,
) -> SosBox:
    box = SosBox(code=code, name_th=f"ตู้ {code}", name_en=f"Box {code}", lat=lat, lon=lon,
                 zone_id=zone_id, address="แยกเสด็จ", status="online", mains_ok=True)
    session.add(box)
    await session.flush()
    return box


async def add_camera(session: AsyncSession, code: str, *, lat: float, lon: float,
                     **fields: Any) -> Camera:
    values: dict[str, Any] = {"tier": "linked", "status": "online", **fields}
    camera = Camera(code=code, name_th=f"กล้อง {code}", name_en=f"Camera {code}", lat=lat,
                    lon=lon, **values)
    session.add(camera)
    await session.flush()
    return camera


async def add_event(
    session: AsyncSession, box: SosBox, kind: str, *, at: datetime | None = None,
    payload: dict[str, Any] | None = None,
) -> BoxEvent:
    """A box event stored as the device link stores one (new, deduplicated by event_id)."""
    event = BoxEvent(event_id=str(uuid.uuid4()), box_id=box.id, seq=next(_seq), kind=kind,
                     device_time=at or utcnow(), received_at=at or utcnow(),
                     payload=payload or {})
    session.add(event)
    await session.flush()
    return event


async def deliver(
    db: Database, settings: Settings, box_id: int, kind: str, *, at: datetime | None = None,
    payload: dict[str, Any] | None = None,
) -> tuple[BoxEvent, list[Effect]]:
    """One event through the pipeline in its own write transaction (as the link does)."""
    async with db.write() as session:
        box = await session.get(SosBox, box_id)
        assert box is not None
        event = await add_event(session, box, kind, at=at, payload=payload)
        effects = await on_box_event(session, box=box, event=event, settings=settings)
    return event, effects


def pushes(effects: list[Effect], type: str | None = None) -> list[Push]:
    return [e for e in effects if isinstance(e, Push) and (type is None or e.type == type)]
