"""Uptime and the "linked and online" headline, from the monitor's status transitions.

Uptime is the share of *known* time a camera was ``online`` in a window: every
``CameraStatusChange`` opens an interval that lasts until the next one (or the window's end).
Time in ``unknown`` (before the first probe, or while no monitor was running) counts neither
way, so a restart of the server does not make a camera look broken.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.cameras.health_rules import STATES, UP
from safezone.cameras.models import Camera, CameraStatusChange
from safezone.orgs.models import Organisation

DAY = timedelta(hours=24)
WEEK = timedelta(days=7)
TRANSITIONS_SHOWN = 20
NO_OWNER = ("ไม่ระบุเจ้าของ", "No owner")


@dataclass(frozen=True)
class Uptime:
    up_s: float
    known_s: float

    @property
    def ratio(self) -> float | None:
        """Share of known time online (0..1); None when nothing is known in the window."""
        return self.up_s / self.known_s if self.known_s > 0 else None

    def __add__(self, other: Uptime) -> Uptime:
        return Uptime(self.up_s + other.up_s, self.known_s + other.known_s)


NOTHING = Uptime(0.0, 0.0)


def uptime_of(
    initial: str | None,
    changes: Sequence[tuple[datetime, str]],
    *,
    start: datetime,
    end: datetime,
) -> Uptime:
    """Uptime over [start, end) given the status in force before the first change
    (``initial``, None: unknown) and the changes in time order (those before ``start`` only set
    the status in force at ``start``)."""
    status, at = initial, start
    up = known = 0.0
    for when, new in (*changes, (end, None)):
        if when <= start:
            status = new
            continue
        when = min(when, end)
        if when > at and status is not None and status != "unknown":
            span = (when - at).total_seconds()
            known += span
            up += span if status in UP else 0.0
        at, status = max(at, when), new
        if at >= end:
            break
    return Uptime(up, known)


async def uptimes(
    session: AsyncSession, *, camera_ids: Iterable[int], end: datetime
) -> dict[int, tuple[Uptime, Uptime]]:
    """(last 24 h, last 7 d) uptime of each camera, ending at ``end``."""
    ids = list(camera_ids)
    if not ids:
        return {}
    start = end - WEEK
    c = CameraStatusChange
    latest = (
        select(c.camera_id, func.max(c.at).label("at"))
        .where(c.camera_id.in_(ids), c.at <= start)
        .group_by(c.camera_id)
        .subquery()
    )
    initial: dict[int, str] = {}
    rows = await session.execute(
        select(c.camera_id, c.status)
        .join(latest, and_(c.camera_id == latest.c.camera_id, c.at == latest.c.at))
        .order_by(c.id)
    )
    for camera_id, status in rows:
        initial[camera_id] = status  # ties at one instant: the later row wins
    changes: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    later = await session.execute(
        select(c.camera_id, c.at, c.status)
        .where(c.camera_id.in_(ids), c.at > start, c.at <= end)
        .order_by(c.camera_id, c.at, c.id)
    )
    for camera_id, at, status in later:
        changes[camera_id].append((at, status))
    return {
        i: (
            uptime_of(initial.get(i), changes[i], start=end - DAY, end=end),
            uptime_of(initial.get(i), changes[i], start=start, end=end),
        )
        for i in ids
    }


def _linked() -> Any:
    return and_(Camera.tier == "linked", Camera.stream_url.is_not(None))


async def summary(
    session: AsyncSession, *, who: Principal, zone_id: int | None, now: datetime
) -> dict[str, Any]:
    """The zone's linked cameras: how many are online now, by status, and per owner."""
    query = select(Camera.id, Camera.status, Camera.organisation_id).where(_linked())
    if zone_id is not None:
        query = query.where(Camera.zone_id == zone_id)
    if who.role == Role.partner:
        query = query.where(Camera.organisation_id == who.organisation_id)
    cameras = (await session.execute(query)).all()
    by_status = dict.fromkeys(STATES, 0)
    for row in cameras:
        by_status[row.status] = by_status.get(row.status, 0) + 1
    linked, online = len(cameras), by_status["online"]
    times = await uptimes(session, camera_ids=[r.id for r in cameras], end=now)
    groups: dict[int | None, list[Any]] = defaultdict(list)
    for row in cameras:
        groups[row.organisation_id].append(row)
    names = {
        o.id: (o.name_th, o.name_en)
        for o in await session.scalars(
            select(Organisation).where(Organisation.id.in_([k for k in groups if k is not None]))
        )
    }
    owners: list[dict[str, Any]] = []
    for org_id, rows in groups.items():
        day = sum((times[r.id][0] for r in rows), NOTHING)
        week = sum((times[r.id][1] for r in rows), NOTHING)
        name_th, name_en = names.get(org_id, NO_OWNER) if org_id is not None else NO_OWNER
        owners.append(
            {
                "organisation_id": org_id,
                "name_th": name_th,
                "name_en": name_en,
                "cameras": len(rows),
                "online": sum(1 for r in rows if r.status == "online"),
                "uptime_24h": day.ratio,
                "uptime_7d": week.ratio,
            }
        )
    owners.sort(key=lambda o: (-o["cameras"], o["name_en"]))
    return {
        "zone_id": zone_id,
        "at": now,
        "linked": linked,
        "online": online,
        "ratio": online / linked if linked else None,
        "by_status": by_status,
        "owners": owners,
    }


async def camera_health(session: AsyncSession, *, camera: Camera, now: datetime) -> dict[str, Any]:
    """One camera's current health, uptime and latest transitions."""
    day, week = (await uptimes(session, camera_ids=[camera.id], end=now))[camera.id]
    transitions = (
        await session.execute(
            select(CameraStatusChange.at, CameraStatusChange.status, CameraStatusChange.detail)
            .where(CameraStatusChange.camera_id == camera.id)
            .order_by(CameraStatusChange.at.desc(), CameraStatusChange.id.desc())
            .limit(TRANSITIONS_SHOWN)
        )
    ).all()
    return {
        "id": camera.id,
        "code": camera.code,
        "name_th": camera.name_th,
        "name_en": camera.name_en,
        "linked": camera.tier == "linked" and bool(camera.stream_url),
        "status": camera.status,
        "status_since": camera.status_since,
        "detail": camera.status_detail,
        "tamper": camera.tamper,
        "codec": camera.codec,
        "width": camera.width,
        "height": camera.height,
        "fps": camera.fps,
        "last_probe_at": camera.last_probe_at,
        "last_ok_at": camera.last_ok_at,
        "snapshot_at": camera.snapshot_at,
        "reference_at": camera.reference_at,
        "uptime_24h": day.ratio,
        "uptime_7d": week.ratio,
        "transitions": [{"at": t.at, "status": t.status, "detail": t.detail} for t in transitions],
    }
