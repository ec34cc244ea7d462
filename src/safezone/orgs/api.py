"""Partner organisations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status

from safezone.auth.access import Access
from safezone.auth.roles import ALL_ROLES, EDITORS, Role
from safezone.auth.service import Principal
from safezone.deps import DatabaseDep, ReadSession
from safezone.orgs import service
from safezone.orgs.models import Organisation
from safezone.orgs.schemas import OrganisationCreate, OrganisationOut, OrganisationUpdate
from safezone.problems import Problem
from safezone.schemas import ListOut, PageDep

router = APIRouter(tags=["organisations"])
Reader = Annotated[Principal, Depends(Access(ALL_ROLES))]
Editor = Annotated[Principal, Depends(Access(EDITORS))]


def _own_only(who: Principal) -> int | None:
    # Partners see their own organisation and nobody else's contacts.
    return who.organisation_id if who.role == Role.partner else None


@router.get("/organisations", response_model=ListOut[OrganisationOut], summary="Partner network")
async def list_organisations(session: ReadSession, who: Reader, page: PageDep) -> dict[str, Any]:
    rows, total = await service.list_organisations(
        session, limit=page.limit, offset=page.offset, only_id=_own_only(who)
    )
    return {"data": rows, "count": total, "limit": page.limit, "offset": page.offset}


@router.get("/organisations/{org_id}", response_model=OrganisationOut, summary="One organisation")
async def get_organisation(session: ReadSession, who: Reader, org_id: int) -> Organisation:
    only = _own_only(who)
    if only is not None and only != org_id:
        raise Problem(404, "entity_not_found", entity="organisation", id=org_id)
    return await service.get_organisation(session, org_id)


@router.post(
    "/organisations", response_model=OrganisationOut, status_code=201, summary="Add a partner"
)
async def create_organisation(
    db: DatabaseDep, who: Editor, body: OrganisationCreate
) -> Organisation:
    async with db.write() as session:
        return await service.create_organisation(session, actor=who.actor, data=body)


@router.patch("/organisations/{org_id}", response_model=OrganisationOut, summary="Change a partner")
async def update_organisation(
    db: DatabaseDep, who: Editor, org_id: int, body: OrganisationUpdate
) -> Organisation:
    async with db.write() as session:
        return await service.update_organisation(session, actor=who.actor, org_id=org_id, data=body)


@router.delete(
    "/organisations/{org_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a partner"
)
async def delete_organisation(db: DatabaseDep, who: Editor, org_id: int) -> None:
    async with db.write() as session:
        await service.delete_organisation(session, actor=who.actor, org_id=org_id)
