"""CRUD routes for every point-asset kind, generated from the kind registry.

No ``from __future__ import annotations`` here: the route signatures use each kind's own
schema classes, which FastAPI must see as real objects, not strings.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from safezone.assets import service
from safezone.assets.kinds import KINDS, AssetKind
from safezone.assets.models import PointAsset
from safezone.auth.access import Access
from safezone.auth.roles import ALL_ROLES, EDITORS, Role
from safezone.auth.service import Principal
from safezone.deps import DatabaseDep, ReadSession, SettingsDep
from safezone.schemas import ListOut, PageDep

Reader = Annotated[Principal, Depends(Access(ALL_ROLES))]
# Partners register and maintain their own organisation's assets (e.g. a shop's cameras).
Writer = Annotated[Principal, Depends(Access(EDITORS | {Role.partner}))]


def presented(kind: AssetKind, who: Principal, row: PointAsset) -> Any:
    """The row as ``kind.out``, with owner-only fields blanked for everyone else."""
    out = kind.out.model_validate(row)
    if not kind.owner_only_fields or who.role in EDITORS:
        return out
    if row.organisation_id is not None and row.organisation_id == who.organisation_id:
        return out
    return out.model_copy(update=dict.fromkeys(kind.owner_only_fields))


def asset_router(kind: AssetKind) -> APIRouter:
    """List / get / create / update / delete routes for one asset kind."""
    router = APIRouter(
        prefix=f"/{kind.path}",
        tags=[kind.path],
        # Distinct operation ids per kind keep the OpenAPI document valid.
        generate_unique_id_function=lambda route: f"{route.name}_{kind.name}",
    )
    create_schema, update_schema, out_schema = kind.create, kind.update, kind.out

    @router.get("", response_model=ListOut[out_schema], summary=f"List {kind.title_en}")  # type: ignore[valid-type]
    async def list_assets(
        session: ReadSession,
        who: Reader,
        page: PageDep,
        zone_id: Annotated[int | None, Query()] = None,
        organisation_id: Annotated[int | None, Query()] = None,
        q: Annotated[str | None, Query(max_length=100, description="Search name or code")] = None,
    ) -> dict[str, Any]:
        rows, total = await service.list_assets(
            session,
            kind=kind,
            who=who,
            limit=page.limit,
            offset=page.offset,
            zone_id=zone_id,
            organisation_id=organisation_id,
            q=q,
        )
        data = [presented(kind, who, row) for row in rows]
        return {"data": data, "count": total, "limit": page.limit, "offset": page.offset}

    @router.get("/{asset_id}", response_model=out_schema, summary=f"One of {kind.title_en}")
    async def get_asset(session: ReadSession, who: Reader, asset_id: int) -> Any:
        row = await service.get_asset(session, kind=kind, who=who, asset_id=asset_id)
        return presented(kind, who, row)

    @router.post("", response_model=out_schema, status_code=201, summary=f"Add to {kind.title_en}")
    async def create_asset(
        db: DatabaseDep,
        settings: SettingsDep,
        who: Writer,
        body: create_schema,  # type: ignore[valid-type]
    ) -> PointAsset:
        async with db.write() as session:
            return await service.create_asset(
                session, kind=kind, who=who, data=body, settings=settings
            )

    @router.patch(
        "/{asset_id}", response_model=out_schema, summary=f"Change one of {kind.title_en}"
    )
    async def update_asset(
        db: DatabaseDep,
        settings: SettingsDep,
        who: Writer,
        asset_id: int,
        body: update_schema,  # type: ignore[valid-type]
    ) -> PointAsset:
        async with db.write() as session:
            return await service.update_asset(
                session, kind=kind, who=who, asset_id=asset_id, data=body, settings=settings
            )

    @router.delete(
        "/{asset_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary=f"Delete one of {kind.title_en}",
    )
    async def delete_asset(db: DatabaseDep, who: Writer, asset_id: int) -> None:
        async with db.write() as session:
            await service.delete_asset(session, kind=kind, who=who, asset_id=asset_id)

    return router


routers = [asset_router(kind) for kind in KINDS]
