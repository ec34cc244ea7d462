"""Who may view which camera, now. Owners decide: the centre's access follows the owner's
sharing policy (always / on_alarm / on_request / off); the owner's own people always see their
own cameras. Checked on every view, snapshot and clip."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.cameras.models import Camera, CameraAccessRequest
from safezone.db.base import utcnow
from safezone.incidents.models import Incident

POLICIES = ("always", "on_alarm", "on_request", "off")
# Viewers read the map only; watching people on video needs a working role.
VIDEO_ROLES = frozenset({Role.admin, Role.supervisor, Role.operator, Role.patrol, Role.partner})
OPEN_INCIDENT = ("open", "acknowledged", "dispatched")


@dataclass(frozen=True)
class ViewDecision:
    allowed: bool
    # owner | always | alarm_nearby | approved_request | role | not_linked | partner_not_owner |
    # policy_off | no_alarm_nearby | needs_request
    reason: str


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance; at a few hundred metres the sphere is well within a metre."""
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


async def alarm_nearby(session: AsyncSession, camera: Camera) -> bool:
    """An open incident within the camera's alarm radius."""
    # Degrees of latitude are ~111 km; pre-filter by a box, then measure exactly.
    dlat = camera.alarm_radius_m / 111_000 + 1e-6
    dlon = dlat / max(0.01, math.cos(math.radians(camera.lat)))
    rows = await session.execute(
        select(Incident.lat, Incident.lon).where(
            Incident.status.in_(OPEN_INCIDENT),
            Incident.lat.between(camera.lat - dlat, camera.lat + dlat),
            Incident.lon.between(camera.lon - dlon, camera.lon + dlon),
        )
    )
    return any(
        lat is not None and lon is not None
        and metres_between(camera.lat, camera.lon, lat, lon) <= camera.alarm_radius_m
        for lat, lon in rows
    )


async def approved_request(
    session: AsyncSession, camera: Camera, who: Principal, now: datetime
) -> bool:
    found = await session.scalar(
        select(CameraAccessRequest.id).where(
            CameraAccessRequest.camera_id == camera.id,
            CameraAccessRequest.requested_by == who.user_id,
            CameraAccessRequest.status == "approved",
            CameraAccessRequest.valid_until > now,
        )
    )
    return found is not None


async def can_view(
    session: AsyncSession, *, camera: Camera, who: Principal, now: datetime | None = None
) -> ViewDecision:
    """Whether ``who`` may see ``camera``'s video right now, and why."""
    now = now or utcnow()
    if who.role not in VIDEO_ROLES:
        return ViewDecision(False, "role")
    if camera.tier != "linked" or not camera.stream_url:
        return ViewDecision(False, "not_linked")
    if camera.organisation_id is not None and who.organisation_id == camera.organisation_id:
        return ViewDecision(True, "owner")
    if who.role == Role.partner:
        return ViewDecision(False, "partner_not_owner")
    policy = camera.sharing_policy
    if policy == "always":
        return ViewDecision(True, "always")
    if policy == "on_alarm":
        if await alarm_nearby(session, camera):
            return ViewDecision(True, "alarm_nearby")
        return ViewDecision(False, "no_alarm_nearby")
    if policy == "on_request":
        if await approved_request(session, camera, who, now):
            return ViewDecision(True, "approved_request")
        return ViewDecision(False, "needs_request")
    return ViewDecision(False, "policy_off")
