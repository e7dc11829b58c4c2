"""Watch ledger by UTC quarter hour (``period_start``), so any zone's days are exact sums.

Existing rows (one per user, class and client-local day) move to the first quarter hour of
their day, the client's local midnight.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Instant = sa.DateTime(timezone=True)


def _platform_scope() -> None:
    """Row-level security is forced on the owner too: read and write every client's rows."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT set_config('stvos.platform', 'on', true)")


def _backfill() -> None:
    bind = op.get_bind()
    _platform_scope()
    zones: dict[int, str | None] = {
        row[0]: row[1] for row in bind.execute(sa.text("SELECT id, time_zone FROM clients"))
    }
    pairs = bind.execute(sa.text("SELECT DISTINCT client_id, day FROM watch_ledger")).all()
    for client_id, day in pairs:
        if isinstance(day, str):  # SQLite hands dates back as text here
            day = datetime.strptime(day, "%Y-%m-%d").date()
        zone = ZoneInfo(zones.get(client_id) or "UTC")
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        bind.execute(
            sa.text(
                "UPDATE watch_ledger SET period_start = :start WHERE client_id = :client "
                "AND day = :day"
            ).bindparams(sa.bindparam("start", type_=Instant)),
            {"start": midnight, "client": client_id, "day": day},
        )


def upgrade(app_role: str | None = None) -> None:
    with op.batch_alter_table("watch_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("period_start", Instant, nullable=True))
    _backfill()
    with op.batch_alter_table("watch_ledger", schema=None) as batch_op:
        batch_op.alter_column("period_start", existing_type=Instant, nullable=False)
        batch_op.drop_constraint("uq_watch_ledger_client_id_user_id_class_id_day", type_="unique")
        batch_op.create_index(
            "ix_watch_ledger_client_id_user_id_period_start",
            ["client_id", "user_id", "period_start"],
            unique=False,
        )
        batch_op.create_unique_constraint(
            "uq_watch_ledger_client_id_user_id_class_id_period_start",
            ["client_id", "user_id", "class_id", "period_start"],
        )


def downgrade(app_role: str | None = None) -> None:
    # Fold the quarter hours back into one row per user, class and day.
    _platform_scope()
    op.execute(
        """
        CREATE TEMPORARY TABLE ledger_days AS
        SELECT client_id, user_id, class_id, day, min(id) AS keep,
               sum(watched_seconds) AS seconds, sum(completions) AS completions
        FROM watch_ledger GROUP BY client_id, user_id, class_id, day
        """
    )
    op.execute(
        """
        UPDATE watch_ledger SET
            watched_seconds = (SELECT seconds FROM ledger_days WHERE keep = watch_ledger.id),
            completions = (SELECT completions FROM ledger_days WHERE keep = watch_ledger.id)
        WHERE id IN (SELECT keep FROM ledger_days)
        """
    )
    op.execute("DELETE FROM watch_ledger WHERE id NOT IN (SELECT keep FROM ledger_days)")
    op.execute("DROP TABLE ledger_days")
    with op.batch_alter_table("watch_ledger", schema=None) as batch_op:
        batch_op.drop_constraint(
            "uq_watch_ledger_client_id_user_id_class_id_period_start", type_="unique"
        )
        batch_op.drop_index("ix_watch_ledger_client_id_user_id_period_start")
        batch_op.create_unique_constraint(
            "uq_watch_ledger_client_id_user_id_class_id_day",
            ["client_id", "user_id", "class_id", "day"],
        )
        batch_op.drop_column("period_start")
