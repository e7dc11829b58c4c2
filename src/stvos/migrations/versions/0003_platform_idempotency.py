"""Idempotency records of platform-scope callers (platform admins act for no client).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stvos.migrations import rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Instant = sa.DateTime(timezone=True)
TABLE = "platform_idempotency_records"


def upgrade(app_role: str | None = None) -> None:
    op.create_table(
        TABLE,
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_headers", sa.JSON(), nullable=False),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("expires_at", Instant, nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_idempotency_records")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_platform_idempotency_records_scope_key")),
    )
    op.create_index(op.f("ix_platform_idempotency_records_expires_at"), TABLE, ["expires_at"])
    rls.grant_tables(app_role, TABLE)
    rls.protect_platform_table(TABLE)


def downgrade(app_role: str | None = None) -> None:
    rls.unprotect(TABLE)
    op.drop_index(op.f("ix_platform_idempotency_records_expires_at"), table_name=TABLE)
    op.drop_table(TABLE)
