"""Alembic environment: always runs on a connection handed in by ``safezone.db.migrate``."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from safezone.db.base import UTCDateTime
from safezone.db.models import Base

config = context.config
connection: Connection | None = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `safezone init` (safezone.db.migrate)")


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations must not import application types: UTCDateTime is a plain timestamptz.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
)
_ = sa
with context.begin_transaction():
    context.run_migrations()
