"""Reading and verifying the audit chain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select

from safezone.audit import service
from safezone.audit.models import AuditEntry
from safezone.auth.access import Access
from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.deps import ReadSession
from safezone.schemas import ListOut, Output, PageDep

router = APIRouter(prefix="/audit", tags=["audit"])
Auditor = Annotated[Principal, Depends(Access({Role.admin, Role.supervisor}))]


class AuditEntryOut(Output):
    id: int
    at: datetime
    actor_id: int | None
    actor: str
    action: str
    entity_type: str | None
    entity_id: str | None
    details: dict[str, Any]
    client: str | None
    prev_hash: str
    hash: str


class VerdictOut(Output):
    ok: bool
    checked: int
    bad_id: int | None
    reason: str | None
    head_hash: str | None


@router.get("", response_model=ListOut[AuditEntryOut], summary="Audit entries, newest first")
async def list_entries(
    session: ReadSession,
    _: Auditor,
    page: PageDep,
    action: Annotated[str | None, Query(max_length=60, description="Prefix, e.g. 'auth.'")] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    entity_type: Annotated[str | None, Query(max_length=60)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if entity_type:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(AuditEntry.id.desc()).limit(page.limit).offset(page.offset)
    )
    return {"data": rows.all(), "count": total, "limit": page.limit, "offset": page.offset}


@router.get("/verify", response_model=VerdictOut, summary="Walk the hash chain")
async def verify(
    session: ReadSession, _: Annotated[Principal, Depends(Access({Role.admin}))]
) -> service.Verdict:
    return await service.verify(session)
