"""Asking an owner for access to an ``on_request`` camera, and the owner's decision.

Station staff ask with a reason; a partner of the owning organisation (or an admin) approves
for 1–72 hours or refuses. Every step is in the audit chain. ``view_decision`` tells the
console whether the caller may view now, and whether a "request access" button makes sense.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.assets.kinds import BY_PATH
from safezone.assets.service import get_asset
from safezone.audit.service import record
from safezone.auth.roles import EDITORS, STAFF, Role
from safezone.auth.service import Principal
from safezone.cameras.models import Camera, CameraAccessRequest
from safezone.cameras.policy import can_view
from safezone.db.base import utcnow
from safezone.problems import Problem

CAMERA = BY_PATH["cameras"]


async def get_camera(session: AsyncSession, *, who: Principal, camera_id: int) -> Camera:
    """The camera ``who`` may see in the registry, or 404."""
    camera = await get_asset(session, kind=CAMERA, who=who, asset_id=camera_id)
    if not isinstance(camera, Camera):  # pragma: no cover - the camera kind's model
        raise Problem(404, "entity_not_found", entity="camera", id=camera_id)
    return camera


def out(row: CameraAccessRequest, now: datetime | None = None) -> dict[str, Any]:
    """A request as the API shows it, with ``active`` computed for now."""
    now = now or utcnow()
    active = row.status == "approved" and row.valid_until is not None and row.valid_until > now
    return {
        "id": row.id, "camera_id": row.camera_id, "requested_by": row.requested_by,
        "reason": row.reason, "status": row.status, "requested_at": row.requested_at,
        "decided_by": row.decided_by, "decided_at": row.decided_at,
        "valid_until": row.valid_until, "active": active,
    }


async def _pending(session: AsyncSession, camera_id: int, user_id: int) -> int | None:
    found = await session.scalar(
        select(CameraAccessRequest.id).where(
            CameraAccessRequest.camera_id == camera_id,
            CameraAccessRequest.requested_by == user_id,
            CameraAccessRequest.status == "pending",
        )
    )
    return int(found) if found is not None else None


async def request_access(
    session: AsyncSession, *, who: Principal, camera_id: int, reason: str
) -> CameraAccessRequest:
    """A pending request from ``who`` (station staff) to view an ``on_request`` camera."""
    camera = await get_camera(session, who=who, camera_id=camera_id)
    if camera.sharing_policy != "on_request":
        raise Problem(409, "camera_not_on_request", policy=camera.sharing_policy)
    if (pending := await _pending(session, camera.id, who.user_id)) is not None:
        raise Problem(409, "camera_request_pending", id=pending)
    row = CameraAccessRequest(camera_id=camera.id, requested_by=who.user_id, reason=reason)
    session.add(row)
    await session.flush()
    await record(
        session, actor=who.actor, action="camera_access.request", entity_type="camera",
        entity_id=camera.id, details={"request_id": row.id, "reason": reason},
    )
    return row


async def decide(
    session: AsyncSession, *, who: Principal, request_id: int, approve: bool, hours: int
) -> CameraAccessRequest:
    """The owner's (or an admin's) answer to a pending request."""
    row = await session.get(CameraAccessRequest, request_id, with_for_update=True)
    camera = await session.get(Camera, row.camera_id) if row is not None else None
    if row is None or camera is None:
        raise Problem(404, "entity_not_found", entity="camera_access_request", id=request_id)
    if who.role == Role.partner and camera.organisation_id != who.organisation_id:
        # Another organisation's request is none of this partner's business: not found.
        raise Problem(404, "entity_not_found", entity="camera_access_request", id=request_id)
    if who.role not in (Role.admin, Role.partner):  # pragma: no cover - the route's Access
        raise Problem(403, "forbidden")
    if row.status != "pending":
        raise Problem(409, "camera_request_decided", status=row.status)
    now = utcnow()
    row.status = "approved" if approve else "denied"
    row.decided_by, row.decided_at = who.user_id, now
    row.valid_until = now + timedelta(hours=hours) if approve else None
    await session.flush()
    await record(
        session, actor=who.actor,
        action=f"camera_access.{'approve' if approve else 'deny'}", entity_type="camera",
        entity_id=camera.id,
        details={"request_id": row.id, "requested_by": row.requested_by,
                 "valid_until": row.valid_until.isoformat() if row.valid_until else None},
    )
    return row


def _visible(who: Principal) -> Select[Any]:
    query = select(CameraAccessRequest)
    if who.role in EDITORS:
        return query  # admins and supervisors oversee every request
    if who.role == Role.partner:
        own = select(Camera.id).where(Camera.organisation_id == who.organisation_id)
        return query.where(CameraAccessRequest.camera_id.in_(own))
    return query.where(CameraAccessRequest.requested_by == who.user_id)


async def list_requests(
    session: AsyncSession, *, who: Principal, limit: int, offset: int,
    status: str | None = None, camera_id: int | None = None,
) -> tuple[list[CameraAccessRequest], int]:
    """Requests ``who`` may see: owners their cameras', requesters their own; newest first."""
    query = _visible(who)
    if status is not None:
        query = query.where(CameraAccessRequest.status == status)
    if camera_id is not None:
        query = query.where(CameraAccessRequest.camera_id == camera_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(CameraAccessRequest.requested_at.desc(), CameraAccessRequest.id.desc())
        .limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


async def view_decision(
    session: AsyncSession, *, who: Principal, camera_id: int
) -> dict[str, Any]:
    """May ``who`` view the camera now, why, and may they ask for access."""
    camera = await get_camera(session, who=who, camera_id=camera_id)
    now = utcnow()
    decision = await can_view(session, camera=camera, who=who, now=now)
    pending = await _pending(session, camera.id, who.user_id)
    valid_until = await session.scalar(
        select(func.max(CameraAccessRequest.valid_until)).where(
            CameraAccessRequest.camera_id == camera.id,
            CameraAccessRequest.requested_by == who.user_id,
            CameraAccessRequest.status == "approved",
            CameraAccessRequest.valid_until > now,
        )
    )
    return {
        "camera_id": camera.id, "allowed": decision.allowed, "reason": decision.reason,
        "sharing_policy": camera.sharing_policy,
        "can_request": decision.reason == "needs_request" and who.role in STAFF
        and pending is None,
        "pending_request_id": pending,
        "valid_until": valid_until if decision.reason == "approved_request" else None,
    }
