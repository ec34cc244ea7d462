"""The partner network."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.audit.service import Actor, record
from safezone.orgs.models import Contact, Organisation
from safezone.orgs.schemas import OrganisationCreate, OrganisationUpdate
from safezone.problems import Problem


async def list_organisations(
    session: AsyncSession, *, limit: int, offset: int, only_id: int | None = None
) -> tuple[list[Organisation], int]:
    query = select(Organisation)
    if only_id is not None:
        query = query.where(Organisation.id == only_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Organisation.id).limit(limit).offset(offset))
    return list(rows.all()), int(total or 0)


async def get_organisation(session: AsyncSession, org_id: int) -> Organisation:
    org = await session.get(Organisation, org_id)
    if org is None:
        raise Problem(404, "entity_not_found", entity="organisation", id=org_id)
    return org


async def create_organisation(
    session: AsyncSession, *, actor: Actor, data: OrganisationCreate
) -> Organisation:
    values = data.model_dump(exclude={"contacts"})
    org = Organisation(**values, contacts=[Contact(**c.model_dump()) for c in data.contacts])
    session.add(org)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="organisation.create",
        entity_type="organisation",
        entity_id=org.id,
        details={"name_th": org.name_th, "kind": org.kind.value, "contacts": len(data.contacts)},
    )
    return org


async def update_organisation(
    session: AsyncSession, *, actor: Actor, org_id: int, data: OrganisationUpdate
) -> Organisation:
    org = await get_organisation(session, org_id)
    values = data.model_dump(exclude_unset=True, exclude={"contacts"})
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if getattr(org, key) != value:
            changes[key] = {"from": str(getattr(org, key)), "to": str(value)}
            setattr(org, key, value)
    if data.contacts is not None:
        org.contacts = [Contact(**c.model_dump()) for c in data.contacts]
        changes["contacts"] = len(data.contacts)
    if changes:
        await session.flush()
        await record(
            session,
            actor=actor,
            action="organisation.update",
            entity_type="organisation",
            entity_id=org.id,
            details={"changes": changes},
        )
    return org


async def delete_organisation(session: AsyncSession, *, actor: Actor, org_id: int) -> None:
    org = await get_organisation(session, org_id)
    name = org.name_th
    try:
        await session.delete(org)
        await session.flush()
    except IntegrityError as exc:
        raise Problem(409, "in_use", entity="organisation", id=org_id) from exc
    await record(
        session,
        actor=actor,
        action="organisation.delete",
        entity_type="organisation",
        entity_id=org_id,
        details={"name_th": name},
    )
