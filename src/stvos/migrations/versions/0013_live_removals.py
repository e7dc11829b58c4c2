"""A member removed from a live class's room by its trainer or staff cannot join it again.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Instant = sa.DateTime(timezone=True)


def upgrade(app_role: str | None = None) -> None:
    with op.batch_alter_table("live_class_registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removed_at", Instant, nullable=True))


def downgrade(app_role: str | None = None) -> None:
    with op.batch_alter_table("live_class_registrations", schema=None) as batch_op:
        batch_op.drop_column("removed_at")
