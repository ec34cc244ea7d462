"""Saved camera-wall layouts: a grid (2×2, 3×3, 4×4) and the camera in each tile, per user.

Layouts are personal: each person sees and changes only their own. A layout names cameras but
grants nothing: every tile's video is still checked against role and policy when it plays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, status
from pydantic import Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.audit.service import record
from safezone.auth.access import Access
from safezone.auth.roles import Role
from safezone.auth.service import Principal
from safezone.cameras.models import Camera, WallLayout
from safezone.cameras.policy import VIDEO_ROLES
from safezone.deps import DatabaseDep, ReadSession
from safezone.problems import Problem
from safezone.schemas import Input, ListOut, Output, PageDep


class WallLayoutIn(Input):
    name: str = Field(min_length=1, max_length=100, description="The layout's name.")
    grid: Literal[2, 3, 4] = Field(description="Tiles per side: 2 (2×2), 3 (3×3) or 4 (4×4).")
    camera_ids: list[int | None] = Field(
        default_factory=list,
        max_length=16,
        description="Camera id per tile, row by row; null for an empty tile.",
    )

    @model_validator(mode="after")
    def _fits(self) -> WallLayoutIn:
        if len(self.camera_ids) > self.grid * self.grid:
            raise ValueError(f"a {self.grid}×{self.grid} grid has {self.grid**2} tiles")
        return self


class WallLayoutOut(Output):
    id: int
    name: str
    grid: int
    camera_ids: list[int | None]
    created_at: datetime


async def _check_cameras(session: AsyncSession, ids: list[int | None], who: Principal) -> None:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return
    query = select(Camera.id).where(Camera.id.in_(wanted))
    if who.role == Role.partner:
        query = query.where(Camera.organisation_id == who.organisation_id)
    found = set((await session.scalars(query)).all())
    if missing := sorted(wanted - found):
        raise Problem(422, "unknown_camera", id=missing[0])


async def _check_name(
    session: AsyncSession, user_id: int, name: str, own_id: int | None = None
) -> None:
    found = await session.scalar(
        select(WallLayout.id).where(
            WallLayout.user_id == user_id, func.lower(WallLayout.name) == name.lower()
        )
    )
    if found is not None and found != own_id:
        raise Problem(409, "wall_layout_name_taken", name=name)


async def list_layouts(
    session: AsyncSession, *, who: Principal, limit: int, offset: int
) -> tuple[list[WallLayout], int]:
    """The person's own layouts, by name."""
    query = select(WallLayout).where(WallLayout.user_id == who.user_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(func.lower(WallLayout.name), WallLayout.id).limit(limit).offset(offset)
    )
    return list(rows.all()), int(total or 0)


async def get_layout(session: AsyncSession, *, who: Principal, layout_id: int) -> WallLayout:
    """One of the person's layouts; someone else's is "not found"."""
    row = await session.get(WallLayout, layout_id)
    if row is None or row.user_id != who.user_id:
        raise Problem(404, "entity_not_found", entity="wall_layout", id=layout_id)
    return row


async def create_layout(session: AsyncSession, *, who: Principal, data: WallLayoutIn) -> WallLayout:
    """Save a new layout for the person."""
    await _check_name(session, who.user_id, data.name)
    await _check_cameras(session, data.camera_ids, who)
    row = WallLayout(
        user_id=who.user_id, name=data.name, grid=data.grid, camera_ids=list(data.camera_ids)
    )
    session.add(row)
    await session.flush()
    await record(
        session, actor=who.actor, action="wall_layout.create", entity_type="wall_layout",
        entity_id=row.id, details={"name": row.name, "grid": row.grid, "cameras": row.camera_ids},
    )
    return row


async def replace_layout(
    session: AsyncSession, *, who: Principal, layout_id: int, data: WallLayoutIn
) -> WallLayout:
    """Overwrite a layout's name, grid and tiles."""
    row = await get_layout(session, who=who, layout_id=layout_id)
    await _check_name(session, who.user_id, data.name, own_id=row.id)
    await _check_cameras(session, data.camera_ids, who)
    row.name, row.grid, row.camera_ids = data.name, data.grid, list(data.camera_ids)
    await session.flush()
    await record(
        session, actor=who.actor, action="wall_layout.update", entity_type="wall_layout",
        entity_id=row.id, details={"name": row.name, "grid": row.grid, "cameras": row.camera_ids},
    )
    return row


async def delete_layout(session: AsyncSession, *, who: Principal, layout_id: int) -> None:
    """Remove one of the person's layouts."""
    row = await get_layout(session, who=who, layout_id=layout_id)
    await session.delete(row)
    await record(
        session, actor=who.actor, action="wall_layout.delete", entity_type="wall_layout",
        entity_id=layout_id, details={"name": row.name},
    )


router = APIRouter(prefix="/wall-layouts", tags=["camera wall"])
Owner = Annotated[Principal, Depends(Access(VIDEO_ROLES))]


@router.get("", response_model=ListOut[WallLayoutOut], summary="My saved camera-wall layouts")
async def list_wall_layouts(session: ReadSession, who: Owner, page: PageDep) -> dict[str, Any]:
    rows, total = await list_layouts(session, who=who, limit=page.limit, offset=page.offset)
    return {"data": rows, "count": total, "limit": page.limit, "offset": page.offset}


@router.get("/{layout_id}", response_model=WallLayoutOut, summary="One of my layouts")
async def get_wall_layout(session: ReadSession, who: Owner, layout_id: int) -> WallLayout:
    return await get_layout(session, who=who, layout_id=layout_id)


@router.post("", response_model=WallLayoutOut, status_code=201, summary="Save a new layout")
async def create_wall_layout(db: DatabaseDep, who: Owner, body: WallLayoutIn) -> WallLayout:
    async with db.write() as session:
        return await create_layout(session, who=who, data=body)


@router.put("/{layout_id}", response_model=WallLayoutOut, summary="Overwrite one of my layouts")
async def replace_wall_layout(
    db: DatabaseDep, who: Owner, layout_id: int, body: WallLayoutIn
) -> WallLayout:
    async with db.write() as session:
        return await replace_layout(session, who=who, layout_id=layout_id, data=body)


@router.delete(
    "/{layout_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete one of my layouts"
)
async def delete_wall_layout(db: DatabaseDep, who: Owner, layout_id: int) -> None:
    async with db.write() as session:
        await delete_layout(session, who=who, layout_id=layout_id)
