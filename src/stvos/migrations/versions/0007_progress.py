"""Progress logging: workouts, meals and water per member, with their local date.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stvos.migrations import rls

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Instant = sa.DateTime(timezone=True)


def upgrade(app_role: str | None = None) -> None:
    op.create_table(
        "progress_entries",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", Instant, nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("calories_burned", sa.Integer(), nullable=True),
        sa.Column("calories_in", sa.Integer(), nullable=True),
        sa.Column("protein_g", sa.Float(), nullable=True),
        sa.Column("carbs_g", sa.Float(), nullable=True),
        sa.Column("fat_g", sa.Float(), nullable=True),
        sa.Column("water_ml", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.CheckConstraint(
            "kind IN ('workout', 'nutrition', 'water')", name=op.f("ck_progress_entries_kind")
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_progress_entries_client_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_progress_entries_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_entries")),
    )
    with op.batch_alter_table("progress_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_progress_entries_client_id_user_id_local_date",
            ["client_id", "user_id", "local_date"],
            unique=False,
        )
        batch_op.create_index(
            "ix_progress_entries_client_id_user_id_occurred_at",
            ["client_id", "user_id", "occurred_at"],
            unique=False,
        )

    rls.grant_tables(app_role, "progress_entries")
    rls.protect_tenant_table("progress_entries")


def downgrade(app_role: str | None = None) -> None:
    rls.unprotect("progress_entries")
    with op.batch_alter_table("progress_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_progress_entries_client_id_user_id_occurred_at")
        batch_op.drop_index("ix_progress_entries_client_id_user_id_local_date")

    op.drop_table("progress_entries")
