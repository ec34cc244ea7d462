"""The migrations build exactly the schema the models describe, on this backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from safezone.db.engine import Database
from safezone.db.migrate import upgrade
from safezone.db.models import Base


async def test_models_match_migrations(db: Database) -> None:
    def diff(conn: Connection) -> list[object]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_upgrade_is_idempotent(db: Database) -> None:
    await upgrade(db)
    await upgrade(db)
