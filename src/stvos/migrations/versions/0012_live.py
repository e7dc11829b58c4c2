"""Live classes: weekly series, dated classes with seat and waitlist counters, registrations,
attendance from LiveKit webhooks; the watch ledger also holds live minutes (live_class_id).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stvos.migrations import rls

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Instant = sa.DateTime(timezone=True)
TABLES = (
    "live_class_series",
    "live_classes",
    "live_class_registrations",
    "live_class_attendance",
)


def upgrade(app_role: str | None = None) -> None:
    op.create_table(
        "live_class_series",
        sa.Column("trainer_id", BigId, nullable=False),
        sa.Column("category_id", BigId, nullable=True),
        sa.Column("title", sa.String(length=160), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("local_start_time", sa.Time(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("intensity", sa.String(length=16), nullable=True),
        sa.Column("is_premium", sa.Boolean(), nullable=False),
        sa.Column("created_by_user_id", BigId, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "category_id"],
            ["categories.client_id", "categories.id"],
            name=op.f("fk_live_class_series_client_id_category_id_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "trainer_id"],
            ["trainers.client_id", "trainers.id"],
            name=op.f("fk_live_class_series_client_id_trainer_id_trainers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_live_class_series_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_class_series")),
        sa.UniqueConstraint("client_id", "id", name="uq_live_class_series_client_id_id"),
    )
    op.create_table(
        "live_classes",
        sa.Column("series_id", BigId, nullable=True),
        sa.Column("trainer_id", BigId, nullable=False),
        sa.Column("category_id", BigId, nullable=True),
        sa.Column("title", sa.String(length=160), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("starts_at", Instant, nullable=False),
        sa.Column("ends_at", Instant, nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("intensity", sa.String(length=16), nullable=True),
        sa.Column("is_premium", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("registered_count", sa.Integer(), nullable=False),
        sa.Column("waitlist_seq", sa.Integer(), nullable=False),
        sa.Column("room_name", sa.String(length=120), nullable=False),
        sa.Column("room_sid", sa.String(length=64), nullable=True),
        sa.Column("started_at", Instant, nullable=True),
        sa.Column("ended_at", Instant, nullable=True),
        sa.Column("cancelled_at", Instant, nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "category_id"],
            ["categories.client_id", "categories.id"],
            name=op.f("fk_live_classes_client_id_category_id_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "series_id"],
            ["live_class_series.client_id", "live_class_series.id"],
            name=op.f("fk_live_classes_client_id_series_id_live_class_series"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "trainer_id"],
            ["trainers.client_id", "trainers.id"],
            name=op.f("fk_live_classes_client_id_trainer_id_trainers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_live_classes_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_classes")),
        sa.UniqueConstraint("client_id", "id", name="uq_live_classes_client_id_id"),
        sa.UniqueConstraint("room_name", name="uq_live_classes_room_name"),
    )
    with op.batch_alter_table("live_classes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_live_classes_client_id_starts_at", ["client_id", "starts_at"], unique=False
        )
        batch_op.create_index(
            "ix_live_classes_client_id_trainer_id_starts_at",
            ["client_id", "trainer_id", "starts_at"],
            unique=False,
        )

    op.create_table(
        "live_class_attendance",
        sa.Column("live_class_id", BigId, nullable=False),
        sa.Column("identity", sa.String(length=120), nullable=False),
        sa.Column("user_id", BigId, nullable=True),
        sa.Column("first_joined_at", Instant, nullable=False),
        sa.Column("open_since", Instant, nullable=True),
        sa.Column("last_left_at", Instant, nullable=True),
        sa.Column("seconds_present", sa.Integer(), nullable=False),
        sa.Column("joins", sa.Integer(), nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "live_class_id"],
            ["live_classes.client_id", "live_classes.id"],
            name=op.f("fk_live_class_attendance_client_id_live_class_id_live_classes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_live_class_attendance_client_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_live_class_attendance_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_class_attendance")),
        sa.UniqueConstraint("client_id", "id", name="uq_live_class_attendance_client_id_id"),
        sa.UniqueConstraint(
            "client_id",
            "live_class_id",
            "identity",
            name=op.f("uq_live_class_attendance_client_id_live_class_id_identity"),
        ),
    )
    op.create_table(
        "live_class_registrations",
        sa.Column("live_class_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("waitlist_seq", sa.Integer(), nullable=True),
        sa.Column("registered_at", Instant, nullable=False),
        sa.Column("promoted_at", Instant, nullable=True),
        sa.Column("cancelled_at", Instant, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "live_class_id"],
            ["live_classes.client_id", "live_classes.id"],
            name=op.f("fk_live_class_registrations_client_id_live_class_id_live_classes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_live_class_registrations_client_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_live_class_registrations_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_class_registrations")),
        sa.UniqueConstraint("client_id", "id", name="uq_live_class_registrations_client_id_id"),
        sa.UniqueConstraint(
            "client_id",
            "live_class_id",
            "user_id",
            name=op.f("uq_live_class_registrations_client_id_live_class_id_user_id"),
        ),
    )
    with op.batch_alter_table("live_class_registrations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_live_class_registrations_class_status_seq",
            ["client_id", "live_class_id", "status", "waitlist_seq"],
            unique=False,
        )

    with op.batch_alter_table("watch_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("live_class_id", BigId, nullable=True))
        batch_op.alter_column("class_id", existing_type=BigId, nullable=True)
        batch_op.create_unique_constraint(
            batch_op.f("uq_watch_ledger_client_id_user_id_live_class_id_period_start"),
            ["client_id", "user_id", "live_class_id", "period_start"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_watch_ledger_client_id_live_class_id_live_classes"),
            "live_classes",
            ["client_id", "live_class_id"],
            ["client_id", "id"],
            ondelete="CASCADE",
        )
        batch_op.create_check_constraint(
            "ck_watch_ledger_one_class_kind", "(class_id IS NULL) <> (live_class_id IS NULL)"
        )

    rls.grant_tables(app_role, *TABLES)
    for table in TABLES:
        rls.protect_tenant_table(table)


def downgrade(app_role: str | None = None) -> None:
    for table in TABLES:
        rls.unprotect(table)
    op.execute("DELETE FROM watch_ledger WHERE live_class_id IS NOT NULL")
    with op.batch_alter_table("watch_ledger", schema=None) as batch_op:
        batch_op.drop_constraint("ck_watch_ledger_one_class_kind", type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_watch_ledger_client_id_live_class_id_live_classes"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("uq_watch_ledger_client_id_user_id_live_class_id_period_start"),
            type_="unique",
        )
        batch_op.alter_column("class_id", existing_type=BigId, nullable=False)
        batch_op.drop_column("live_class_id")

    with op.batch_alter_table("live_class_registrations", schema=None) as batch_op:
        batch_op.drop_index("ix_live_class_registrations_class_status_seq")

    op.drop_table("live_class_registrations")
    op.drop_table("live_class_attendance")
    with op.batch_alter_table("live_classes", schema=None) as batch_op:
        batch_op.drop_index("ix_live_classes_client_id_trainer_id_starts_at")
        batch_op.drop_index("ix_live_classes_client_id_starts_at")

    op.drop_table("live_classes")
    op.drop_table("live_class_series")
