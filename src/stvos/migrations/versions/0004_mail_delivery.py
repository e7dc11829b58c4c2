"""Mail delivery bookkeeping: attempts, next attempt, claims; an index for the dispatcher.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Instant = sa.DateTime(timezone=True)


def upgrade(app_role: str | None = None) -> None:
    with op.batch_alter_table("mail_outbox") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", Instant, nullable=True))
        batch.add_column(sa.Column("claimed_until", Instant, nullable=True))
    with op.batch_alter_table("mail_outbox") as batch:
        batch.alter_column("attempts", server_default=None)
    op.create_index(
        "ix_mail_outbox_status_next_attempt_at", "mail_outbox", ["status", "next_attempt_at"]
    )


def downgrade(app_role: str | None = None) -> None:
    op.drop_index("ix_mail_outbox_status_next_attempt_at", table_name="mail_outbox")
    with op.batch_alter_table("mail_outbox") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
