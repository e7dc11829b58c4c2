"""Trainers: specialisations, services, weekly availability rules, date overrides, time off,
1-on-1 bookings; certifications and time zone on trainers.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stvos.migrations import rls

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Instant = sa.DateTime(timezone=True)
TABLES = (
    "trainer_specialisations",
    "trainer_services",
    "trainer_availability_rules",
    "trainer_availability_overrides",
    "trainer_time_off",
    "bookings",
)


def upgrade(app_role: str | None = None) -> None:
    op.create_table(
        "trainer_availability_overrides",
        sa.Column("trainer_id", BigId, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "trainer_id"],
            ["trainers.client_id", "trainers.id"],
            name=op.f("fk_trainer_availability_overrides_client_id_trainer_id_trainers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_trainer_availability_overrides_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trainer_availability_overrides")),
        sa.UniqueConstraint(
            "client_id", "id", name="uq_trainer_availability_overrides_client_id_id"
        ),
        sa.UniqueConstraint(
            "client_id",
            "trainer_id",
            "day",
            name=op.f("uq_trainer_availability_overrides_client_id_trainer_id_day"),
        ),
    )
    op.create_table(
        "trainer_availability_rules",
        sa.Column("trainer_id", BigId, nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "trainer_id"],
            ["trainers.client_id", "trainers.id"],
            name=op.f("fk_trainer_availability_rules_client_id_trainer_id_trainers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_trainer_availability_rules_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trainer_availability_rules")),
    )
    with op.batch_alter_table("trainer_availability_rules", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trainer_availability_rules_client_id_trainer_id",
            ["client_id", "trainer_id"],
            unique=False,
        )

    op.create_table(
        "trainer_services",
        sa.Column("trainer_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("price_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=True),
        sa.Column("buffer_before_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=False),
        sa.Column("min_notice_minutes", sa.Integer(), nullable=False),
        sa.Column("max_days_ahead", sa.Integer(), nullable=False),
        sa.Column("cancellation_window_hours", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "trainer_id"],
            ["trainers.client_id", "trainers.id"],
            name=op.f("fk_trainer_services_client_id_trainer_id_trainers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_trainer_services_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trainer_services")),
        sa.UniqueConstraint("client_id", "id", name="uq_trainer_services_client_id_id"),
    )
    with op.batch_alter_table("trainer_services", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trainer_services_client_id_trainer_id", ["client_id", "trainer_id"], unique=False
        )

    op.create_table(
        "trainer_specialisations",
        sa.Column("trainer_id", BigId, nullable=False),
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "trainer_id"],
            ["trainers.client_id", "trainers.id"],
            name=op.f("fk_trainer_specialisations_client_id_trainer_id_trainers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_trainer_specialisations_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trainer_specialisations")),
        sa.UniqueConstraint(
            "client_id",
            "trainer_id",
            "slug",
            name=op.f("uq_trainer_specialisations_client_id_trainer_id_slug"),
        ),
    )
    with op.batch_alter_table("trainer_specialisations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trainer_specialisations_client_id_slug", ["client_id", "slug"], unique=False
        )

    op.create_table(
        "trainer_time_off",
        sa.Column("trainer_id", BigId, nullable=False),
        sa.Column("starts_at", Instant, nullable=False),
        sa.Column("ends_at", Instant, nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "trainer_id"],
            ["trainers.client_id", "trainers.id"],
            name=op.f("fk_trainer_time_off_client_id_trainer_id_trainers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_trainer_time_off_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trainer_time_off")),
        sa.UniqueConstraint("client_id", "id", name="uq_trainer_time_off_client_id_id"),
    )
    with op.batch_alter_table("trainer_time_off", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trainer_time_off_client_id_trainer_id_ends_at",
            ["client_id", "trainer_id", "ends_at"],
            unique=False,
        )

    op.create_table(
        "bookings",
        sa.Column("trainer_id", BigId, nullable=False),
        sa.Column("service_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_at", Instant, nullable=False),
        sa.Column("ends_at", Instant, nullable=False),
        sa.Column("blocked_from", Instant, nullable=False),
        sa.Column("blocked_until", Instant, nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.Column("service_name", sa.String(length=120), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("price_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cancellation_window_hours", sa.Integer(), nullable=False),
        sa.Column("room_name", sa.String(length=120), nullable=False),
        sa.Column("cancelled_at", Instant, nullable=True),
        sa.Column("cancelled_by", sa.String(length=16), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.Column("late_cancellation", sa.Boolean(), nullable=False),
        sa.Column("rescheduled_from_id", BigId, nullable=True),
        sa.Column("completed_at", Instant, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "service_id"],
            ["trainer_services.client_id", "trainer_services.id"],
            name=op.f("fk_bookings_client_id_service_id_trainer_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "trainer_id"],
            ["trainers.client_id", "trainers.id"],
            name=op.f("fk_bookings_client_id_trainer_id_trainers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_bookings_client_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_bookings_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("client_id", "id", name="uq_bookings_client_id_id"),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bookings_client_id_trainer_id_blocked_until",
            ["client_id", "trainer_id", "blocked_until"],
            unique=False,
        )
        batch_op.create_index(
            "ix_bookings_client_id_user_id_starts_at",
            ["client_id", "user_id", "starts_at"],
            unique=False,
        )
        batch_op.create_index(
            "uq_bookings_confirmed_trainer_start",
            ["client_id", "trainer_id", "starts_at"],
            unique=True,
            sqlite_where=sa.text("status = 'confirmed'"),
            postgresql_where=sa.text("status = 'confirmed'"),
        )

    with op.batch_alter_table("trainers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("certifications", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))

    rls.grant_tables(app_role, *TABLES)
    for table in TABLES:
        rls.protect_tenant_table(table)


def downgrade(app_role: str | None = None) -> None:
    for table in TABLES:
        rls.unprotect(table)
    with op.batch_alter_table("trainers", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
        batch_op.drop_column("certifications")

    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_bookings_confirmed_trainer_start",
            sqlite_where=sa.text("status = 'confirmed'"),
            postgresql_where=sa.text("status = 'confirmed'"),
        )
        batch_op.drop_index("ix_bookings_client_id_user_id_starts_at")
        batch_op.drop_index("ix_bookings_client_id_trainer_id_blocked_until")

    op.drop_table("bookings")
    with op.batch_alter_table("trainer_time_off", schema=None) as batch_op:
        batch_op.drop_index("ix_trainer_time_off_client_id_trainer_id_ends_at")

    op.drop_table("trainer_time_off")
    with op.batch_alter_table("trainer_specialisations", schema=None) as batch_op:
        batch_op.drop_index("ix_trainer_specialisations_client_id_slug")

    op.drop_table("trainer_specialisations")
    with op.batch_alter_table("trainer_services", schema=None) as batch_op:
        batch_op.drop_index("ix_trainer_services_client_id_trainer_id")

    op.drop_table("trainer_services")
    with op.batch_alter_table("trainer_availability_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_trainer_availability_rules_client_id_trainer_id")

    op.drop_table("trainer_availability_rules")
    op.drop_table("trainer_availability_overrides")
