"""Dependency aliases shared by the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.db.engine import Database
from safezone.settings import Settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_db(request).session() as session:
        yield session


DatabaseDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ReadSession = Annotated[AsyncSession, Depends(read_session)]
