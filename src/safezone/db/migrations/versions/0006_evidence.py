"""evidence

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-26

Evidence clips: the recorded (versus asked) window, the unavailable seconds and a note, a
heartbeat for restart recovery, and a 64-bit file size.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("clips", schema=None) as batch_op:
        batch_op.alter_column(
            "size_bytes", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=True
        )
        batch_op.add_column(sa.Column("recorded_start_at", _utc(), nullable=True))
        batch_op.add_column(sa.Column("recorded_end_at", _utc(), nullable=True))
        batch_op.add_column(sa.Column("unavailable_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("note", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", _utc(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clips", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("note")
        batch_op.drop_column("unavailable_s")
        batch_op.drop_column("recorded_end_at")
        batch_op.drop_column("recorded_start_at")
        batch_op.alter_column(
            "size_bytes", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=True
        )
