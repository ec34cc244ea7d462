"""Apply Alembic migrations from inside the application (``safezone init`` and start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from safezone.db.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations shipped inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _upgrade(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def upgrade(db: Database) -> None:
    """Bring the database schema to the newest revision (idempotent)."""
    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade)
