"""Evidence clips: requests, chain of custody, retention.

Every custody event (clip.create, clip.complete, clip.fail, clip.view, clip.download,
clip.export, clip.purge) is an audit-chain entry with the clip's SHA-256 where it has one, so a
bundle can prove which file was recorded, who touched it and when.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.audit.models import AuditEntry
from safezone.audit.service import SYSTEM, Actor, record
from safezone.auth.service import Principal
from safezone.cameras.models import Camera
from safezone.cameras.policy import can_view
from safezone.db.base import utcnow
from safezone.evidence.models import Clip
from safezone.evidence.schemas import ClipCreate
from safezone.incidents.models import Incident
from safezone.problems import Problem
from safezone.settings import Settings

ENTITY = "clip"
# A clip may be booked ahead, but not so far that it is forgotten.
MAX_LEAD = timedelta(hours=1)
# Pre-roll this close to "now" is simply live: connecting takes about this long anyway.
LIVE_SLACK_S = 1.0
VIEW_AUDIT_EVERY = timedelta(minutes=1)
CLOSED_INCIDENT = "closed"
DENIALS = ("role", "partner_not_owner", "policy_off", "no_alarm_nearby", "needs_request")


def evidence_dir(settings: Settings) -> Path:
    """Where clip files live."""
    return settings.data_dir / "evidence"


def clip_path(settings: Settings, clip_id: str) -> Path:
    return evidence_dir(settings) / f"{clip_id}.mp4"


def custody_details(clip: Clip, **extra: Any) -> dict[str, Any]:
    """What every custody entry says about the clip."""
    return {"camera": clip.camera_code, "sha256": clip.sha256, **extra}


async def create_clip(
    session: AsyncSession,
    *,
    camera_id: int,
    body: ClipCreate,
    who: Principal,
    settings: Settings,
    buffered_since: float | None,
    now: datetime | None = None,
) -> Clip:
    """Book a clip of ``camera_id`` for the asked window (checked against role and policy).

    ``buffered_since`` is the oldest moment the camera's rolling buffer holds (None: no
    buffer). A window reaching further back is recorded from what exists; the clip's note
    says so, and ``unavailable_s`` says how much is missing.
    """
    now = now or utcnow()
    camera = await session.get(Camera, camera_id)
    if camera is None:
        raise Problem(404, "entity_not_found", entity="camera", id=camera_id)
    decision = await can_view(session, camera=camera, who=who, now=now)
    if not decision.allowed:
        if decision.reason == "not_linked":
            raise Problem(409, "clip_camera_not_linked", camera=camera.code)
        reason = decision.reason if decision.reason in DENIALS else "policy_off"
        raise Problem(403, f"clip_denied.{reason}", camera=camera.code)
    start, end = body.start.astimezone(now.tzinfo), body.end.astimezone(now.tzinfo)
    if end <= start:
        raise Problem(422, "clip_window_order")
    longest = settings.evidence_max_clip_minutes
    if end - start > timedelta(minutes=longest):
        raise Problem(422, "clip_too_long", minutes=f"{longest:g}")
    if start > now + MAX_LEAD:
        raise Problem(422, "clip_too_far_ahead", minutes=int(MAX_LEAD.total_seconds() // 60))
    busy = await session.scalar(
        select(func.count()).select_from(Clip).where(Clip.status.in_(("pending", "recording")))
    )
    if int(busy or 0) >= settings.evidence_max_active_clips:
        raise Problem(429, "clip_too_many", limit=settings.evidence_max_active_clips)
    if body.incident_id is not None and await session.get(Incident, body.incident_id) is None:
        raise Problem(422, "clip_unknown_incident", id=body.incident_id)
    note, unavailable = _preroll(start, end, now, buffered_since)
    if end <= now and (buffered_since is None or buffered_since >= end.timestamp()):
        raise Problem(422, "clip_window_gone", camera=camera.code)
    clip = Clip(
        id=str(uuid.uuid4()),
        camera_id=camera.id,
        camera_code=camera.code,
        incident_id=body.incident_id,
        requested_by=who.user_id,
        reason=body.reason,
        start_at=start,
        end_at=end,
        status="pending",
        created_at=now,
        retain_until=now + timedelta(days=settings.evidence_retention_days),
        unavailable_s=unavailable,
        note=note,
        heartbeat_at=now,
    )
    session.add(clip)
    await session.flush()
    await record(
        session,
        actor=who.actor,
        action="clip.create",
        entity_type=ENTITY,
        entity_id=clip.id,
        details=custody_details(
            clip,
            start=start.isoformat(),
            end=end.isoformat(),
            reason=body.reason,
            incident_id=body.incident_id,
            access=decision.reason,
            note=note,
        ),
    )
    return clip


def _preroll(
    start: datetime, end: datetime, now: datetime, buffered_since: float | None
) -> tuple[str | None, float | None]:
    """The note and the seconds of the window's past part that no buffer holds."""
    lead = now.timestamp() - start.timestamp()
    if lead <= LIVE_SLACK_S:
        return None, None
    reachable = end.timestamp() if end <= now else now.timestamp()
    if buffered_since is None:
        return "preroll_unavailable", round(min(lead, reachable - start.timestamp()), 1)
    missing = buffered_since - start.timestamp()
    if missing <= LIVE_SLACK_S:
        return None, None
    return "preroll_partial", round(min(missing, end.timestamp() - start.timestamp()), 1)


async def list_clips(
    session: AsyncSession,
    *,
    limit: int,
    offset: int,
    camera_id: int | None = None,
    incident_id: int | None = None,
    status: str | None = None,
) -> tuple[list[Clip], int]:
    """Clips, newest first, with the total that match."""
    query = select(Clip)
    if camera_id is not None:
        query = query.where(Clip.camera_id == camera_id)
    if incident_id is not None:
        query = query.where(Clip.incident_id == incident_id)
    if status is not None:
        query = query.where(Clip.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(Clip.created_at.desc(), Clip.id).limit(limit).offset(offset)
    )
    return list(rows.all()), int(total or 0)


async def get_clip(session: AsyncSession, *, clip_id: str) -> Clip:
    """The clip, or a 404 problem."""
    clip = await session.get(Clip, clip_id)
    if clip is None:
        raise Problem(404, "entity_not_found", entity="clip", id=clip_id)
    return clip


def require_file(clip: Clip, settings: Settings) -> Path:
    """The clip's file, or the problem that says why there is none to serve."""
    if clip.status == "purged":
        raise Problem(410, "clip_purged", id=clip.id)
    if clip.status != "complete" or not clip.path:
        raise Problem(409, "clip_not_ready", id=clip.id, status=clip.status)
    path = evidence_dir(settings) / Path(clip.path).name
    if not path.is_file():
        raise Problem(410, "clip_file_missing", id=clip.id)
    return path


async def record_custody(
    session: AsyncSession, *, clip: Clip, actor: Actor, action: str, **extra: Any
) -> AuditEntry:
    """Append one custody event for ``clip`` to the audit chain."""
    return await record(
        session,
        actor=actor,
        action=action,
        entity_type=ENTITY,
        entity_id=clip.id,
        details=custody_details(clip, **extra),
    )


async def viewed_recently(
    session: AsyncSession, *, clip: Clip, who: Principal, now: datetime | None = None
) -> bool:
    """Whether ``who``'s playback of ``clip`` was audited within the last minute."""
    now = now or utcnow()
    recent = await session.scalar(
        select(AuditEntry.id)
        .where(
            AuditEntry.action == "clip.view",
            AuditEntry.entity_type == ENTITY,
            AuditEntry.entity_id == clip.id,
            AuditEntry.actor_id == who.user_id,
            AuditEntry.at > now - VIEW_AUDIT_EVERY,
        )
        .limit(1)
    )
    return recent is not None


async def record_view(
    session: AsyncSession, *, clip: Clip, who: Principal, now: datetime | None = None
) -> bool:
    """Audit a playback, at most once a minute per person and clip (a player sends many
    range requests). Returns whether an entry was written."""
    if await viewed_recently(session, clip=clip, who=who, now=now):
        return False
    await record_custody(session, clip=clip, actor=who.actor, action="clip.view")
    return True


async def custody_entries(session: AsyncSession, *, clip_id: str) -> list[AuditEntry]:
    """Every audit entry about the clip, oldest first."""
    rows = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == ENTITY, AuditEntry.entity_id == clip_id)
        .order_by(AuditEntry.id)
    )
    return list(rows.all())


async def complete_clip(
    session: AsyncSession,
    *,
    clip_id: str,
    path: Path,
    size: int,
    sha256: str,
    duration_s: float,
    recorded_start: datetime,
    recorded_end: datetime,
    stopped_early: str | None,
    now: datetime | None = None,
) -> Clip:
    """Mark a recorded clip complete and write its clip.complete custody entry."""
    clip = await get_clip(session, clip_id=clip_id)
    clip.status = "complete"
    clip.path = path.name
    clip.size_bytes, clip.sha256, clip.duration_s = size, sha256, round(duration_s, 3)
    clip.recorded_start_at, clip.recorded_end_at = recorded_start, recorded_end
    clip.completed_at = now or utcnow()
    missing = max(0.0, (recorded_start - clip.start_at).total_seconds()) + max(
        0.0, (clip.end_at - recorded_end).total_seconds()
    )
    clip.unavailable_s = round(missing, 1)
    if clip.note is None and stopped_early and missing > 1.0:
        clip.note = "stream_ended"
    elif clip.note is None and missing > 1.0:
        clip.note = "partial"
    await record_custody(
        session,
        clip=clip,
        actor=SYSTEM,
        action="clip.complete",
        size_bytes=size,
        duration_s=clip.duration_s,
        recorded_start=recorded_start.isoformat(),
        recorded_end=recorded_end.isoformat(),
        unavailable_s=clip.unavailable_s,
        note=clip.note,
    )
    return clip


async def fail_clip(session: AsyncSession, *, clip_id: str, error: str) -> Clip:
    """Mark a clip failed with a readable reason (and say so in the audit chain)."""
    clip = await get_clip(session, clip_id=clip_id)
    clip.status, clip.error = "failed", error[:2000]
    clip.completed_at = utcnow()
    await record_custody(session, clip=clip, actor=SYSTEM, action="clip.fail", error=error[:300])
    return clip


async def orphaned(
    session: AsyncSession, *, active: set[str], stale_before: datetime
) -> list[Clip]:
    """Unfinished clips that no running process is looking after (a stale heartbeat)."""
    rows = await session.scalars(
        select(Clip).where(
            Clip.status.in_(("pending", "recording")),
            or_(Clip.heartbeat_at.is_(None), Clip.heartbeat_at < stale_before),
        )
    )
    return [c for c in rows.all() if c.id not in active]


async def claim(
    session: AsyncSession, *, clip: Clip, now: datetime
) -> bool:
    """Take over an orphaned clip; False when another process got there first."""
    cond = (
        Clip.heartbeat_at.is_(None)
        if clip.heartbeat_at is None
        else Clip.heartbeat_at == clip.heartbeat_at
    )
    result = await session.execute(
        update(Clip)
        .where(Clip.id == clip.id, Clip.status.in_(("pending", "recording")), cond)
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def beat(session: AsyncSession, *, clip_ids: list[str], now: datetime) -> None:
    """Refresh the heartbeat of the clips this process is recording."""
    if clip_ids:
        await session.execute(
            update(Clip)
            .where(Clip.id.in_(clip_ids))
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )


async def release(session: AsyncSession, *, clip_ids: list[str]) -> None:
    """Give up unfinished clips (shutdown) so that another start takes them over at once."""
    await session.execute(
        update(Clip)
        .where(Clip.id.in_(clip_ids), Clip.status.in_(("pending", "recording")))
        .values(heartbeat_at=None)
        .execution_options(synchronize_session=False)
    )


async def purge_expired(
    session: AsyncSession, *, now: datetime | None = None, dry_run: bool = False
) -> list[Clip]:
    """Clips past retention and not attached to an incident that is still open: marked
    ``purged`` (row and custody trail kept) with a clip.purge entry. The caller deletes the
    files once this transaction has committed. ``dry_run`` only lists them."""
    now = now or utcnow()
    open_incident = (
        select(Incident.id)
        .where(Incident.id == Clip.incident_id, Incident.status != CLOSED_INCIDENT)
        .exists()
    )
    rows = await session.scalars(
        select(Clip)
        .where(Clip.status == "complete", Clip.retain_until < now, ~open_incident)
        .order_by(Clip.retain_until)
    )
    clips = list(rows.all())
    if dry_run:
        return clips
    for clip in clips:
        clip.status = "purged"
        await record_custody(
            session,
            clip=clip,
            actor=SYSTEM,
            action="clip.purge",
            retain_until=clip.retain_until.isoformat() if clip.retain_until else None,
        )
    return clips
