"""Playback: sessions, per-class progress (coverage bitmap, resume, completion), watch ledger.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stvos.migrations import rls

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Instant = sa.DateTime(timezone=True)
TABLES = ("playback_sessions", "class_progress", "watch_ledger")


def upgrade(app_role: str | None = None) -> None:
    op.create_table(
        "class_progress",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("class_id", BigId, nullable=False),
        sa.Column("covered", sa.LargeBinary(), nullable=False),
        sa.Column("covered_buckets", sa.Integer(), nullable=False),
        sa.Column("resume_position", sa.Integer(), nullable=False),
        sa.Column("resume_session_id", BigId, nullable=True),
        sa.Column("last_watched_at", Instant, nullable=False),
        sa.Column("completed_at", Instant, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "class_id"],
            ["on_demand_classes.client_id", "on_demand_classes.id"],
            name=op.f("fk_class_progress_client_id_class_id_on_demand_classes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_class_progress_client_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_class_progress_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_progress")),
        sa.UniqueConstraint(
            "client_id",
            "user_id",
            "class_id",
            name=op.f("uq_class_progress_client_id_user_id_class_id"),
        ),
    )
    with op.batch_alter_table("class_progress", schema=None) as batch_op:
        batch_op.create_index(
            "ix_class_progress_client_id_user_id_last_watched_at",
            ["client_id", "user_id", "last_watched_at"],
            unique=False,
        )

    op.create_table(
        "playback_sessions",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("class_id", BigId, nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", Instant, nullable=False),
        sa.Column("last_heartbeat_at", Instant, nullable=False),
        sa.Column("ended_at", Instant, nullable=True),
        sa.Column("position_seconds", sa.Integer(), nullable=False),
        sa.Column("credited_seconds", sa.Integer(), nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "class_id"],
            ["on_demand_classes.client_id", "on_demand_classes.id"],
            name=op.f("fk_playback_sessions_client_id_class_id_on_demand_classes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_playback_sessions_client_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_playback_sessions_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playback_sessions")),
        sa.UniqueConstraint("client_id", "id", name="uq_playback_sessions_client_id_id"),
    )
    with op.batch_alter_table("playback_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_playback_sessions_client_id_user_id_started_at",
            ["client_id", "user_id", "started_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_playback_sessions_status_last_heartbeat_at",
            ["status", "last_heartbeat_at"],
            unique=False,
        )

    op.create_table(
        "watch_ledger",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("class_id", BigId, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("watched_seconds", sa.Integer(), nullable=False),
        sa.Column("completions", sa.Integer(), nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "class_id"],
            ["on_demand_classes.client_id", "on_demand_classes.id"],
            name=op.f("fk_watch_ledger_client_id_class_id_on_demand_classes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_watch_ledger_client_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_watch_ledger_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_ledger")),
        sa.UniqueConstraint(
            "client_id",
            "user_id",
            "class_id",
            "day",
            name=op.f("uq_watch_ledger_client_id_user_id_class_id_day"),
        ),
    )
    with op.batch_alter_table("watch_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_watch_ledger_client_id_day", ["client_id", "day"], unique=False)

    rls.grant_tables(app_role, *TABLES)
    for table in TABLES:
        rls.protect_tenant_table(table)


def downgrade(app_role: str | None = None) -> None:
    for table in TABLES:
        rls.unprotect(table)
    with op.batch_alter_table("watch_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_watch_ledger_client_id_day")

    op.drop_table("watch_ledger")
    with op.batch_alter_table("playback_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_playback_sessions_status_last_heartbeat_at")
        batch_op.drop_index("ix_playback_sessions_client_id_user_id_started_at")

    op.drop_table("playback_sessions")
    with op.batch_alter_table("class_progress", schema=None) as batch_op:
        batch_op.drop_index("ix_class_progress_client_id_user_id_last_watched_at")

    op.drop_table("class_progress")
