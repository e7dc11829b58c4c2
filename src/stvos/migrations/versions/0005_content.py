"""Content: platform categories, client categories, on-demand classes; users.premium_until.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stvos.migrations import rls

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Instant = sa.DateTime(timezone=True)


def upgrade(app_role: str | None = None) -> None:
    op.create_table(
        "platform_categories",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("image_url", sa.String(length=2048), nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_categories")),
        sa.UniqueConstraint("slug", name=op.f("uq_platform_categories_slug")),
    )
    op.create_table(
        "categories",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("image_url", sa.String(length=2048), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("platform_category_id", BigId, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_categories_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["platform_category_id"],
            ["platform_categories.id"],
            name=op.f("fk_categories_platform_category_id_platform_categories"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("client_id", "id", name="uq_categories_client_id_id"),
        sa.UniqueConstraint(
            "client_id",
            "platform_category_id",
            name=op.f("uq_categories_client_id_platform_category_id"),
        ),
        sa.UniqueConstraint("client_id", "slug", name=op.f("uq_categories_client_id_slug")),
    )
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.create_index(
            "ix_categories_client_id_is_active_sort_order",
            ["client_id", "is_active", "sort_order"],
            unique=False,
        )

    op.create_table(
        "on_demand_classes",
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("thumbnail_url", sa.String(length=2048), nullable=True),
        sa.Column("video_url", sa.String(length=2048), nullable=False),
        sa.Column("video_provider", sa.String(length=16), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("intensity", sa.String(length=8), nullable=False),
        sa.Column("is_premium", sa.Boolean(), nullable=False),
        sa.Column("equipment", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("trainer_id", BigId, nullable=True),
        sa.Column("category_id", BigId, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("published_at", Instant, nullable=True),
        sa.Column("is_featured", sa.Boolean(), nullable=False),
        sa.Column("featured_order", sa.Integer(), nullable=False),
        sa.Column("play_count", sa.Integer(), nullable=False),
        sa.Column("search_people", sa.String(length=400), nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "category_id"],
            ["categories.client_id", "categories.id"],
            name=op.f("fk_on_demand_classes_client_id_category_id_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "trainer_id"],
            ["trainers.client_id", "trainers.id"],
            name=op.f("fk_on_demand_classes_client_id_trainer_id_trainers"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_on_demand_classes_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_on_demand_classes")),
        sa.UniqueConstraint("client_id", "id", name="uq_on_demand_classes_client_id_id"),
    )
    with op.batch_alter_table("on_demand_classes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_on_demand_classes_client_id_category_id", ["client_id", "category_id"], unique=False
        )
        batch_op.create_index(
            "ix_on_demand_classes_client_id_is_featured_featured_order",
            ["client_id", "is_featured", "featured_order"],
            unique=False,
        )
        batch_op.create_index(
            "ix_on_demand_classes_client_id_status_published_at",
            ["client_id", "status", "published_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_on_demand_classes_client_id_trainer_id", ["client_id", "trainer_id"], unique=False
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("premium_until", Instant, nullable=True))

    rls.grant_tables(app_role, "platform_categories", "categories", "on_demand_classes")
    rls.protect_shared_table("platform_categories")
    rls.protect_tenant_table("categories")
    rls.protect_tenant_table("on_demand_classes")


def downgrade(app_role: str | None = None) -> None:
    for table in ("on_demand_classes", "categories", "platform_categories"):
        rls.unprotect(table)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("premium_until")

    with op.batch_alter_table("on_demand_classes", schema=None) as batch_op:
        batch_op.drop_index("ix_on_demand_classes_client_id_trainer_id")
        batch_op.drop_index("ix_on_demand_classes_client_id_status_published_at")
        batch_op.drop_index("ix_on_demand_classes_client_id_is_featured_featured_order")
        batch_op.drop_index("ix_on_demand_classes_client_id_category_id")

    op.drop_table("on_demand_classes")
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.drop_index("ix_categories_client_id_is_active_sort_order")

    op.drop_table("categories")
    op.drop_table("platform_categories")
