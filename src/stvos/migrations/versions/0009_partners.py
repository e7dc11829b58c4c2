"""Partners: vouchers, redemptions, memberships, products, closed billing statements; billing
rate, currency and time zone on partners.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stvos.migrations import rls

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Instant = sa.DateTime(timezone=True)
TABLES = (
    "vouchers",
    "voucher_redemptions",
    "partner_memberships",
    "partner_products",
    "partner_billing_statements",
)


def upgrade(app_role: str | None = None) -> None:
    op.create_table(
        "partner_billing_statements",
        sa.Column("partner_id", BigId, nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("closed_at", Instant, nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "partner_id"],
            ["partners.client_id", "partners.id"],
            name=op.f("fk_partner_billing_statements_client_id_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_partner_billing_statements_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_billing_statements")),
        sa.UniqueConstraint("client_id", "id", name="uq_partner_billing_statements_client_id_id"),
        sa.UniqueConstraint(
            "client_id",
            "partner_id",
            "month",
            name=op.f("uq_partner_billing_statements_client_id_partner_id_month"),
        ),
    )
    op.create_table(
        "partner_products",
        sa.Column("partner_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("price_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("image_url", sa.String(length=500), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "partner_id"],
            ["partners.client_id", "partners.id"],
            name=op.f("fk_partner_products_client_id_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_partner_products_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_products")),
        sa.UniqueConstraint("client_id", "id", name="uq_partner_products_client_id_id"),
    )
    with op.batch_alter_table("partner_products", schema=None) as batch_op:
        batch_op.create_index(
            "ix_partner_products_client_id_partner_id", ["client_id", "partner_id"], unique=False
        )

    op.create_table(
        "vouchers",
        sa.Column("partner_id", BigId, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", Instant, nullable=False),
        sa.Column("max_redemptions", sa.Integer(), nullable=False),
        sa.Column("redemption_count", sa.Integer(), nullable=False),
        sa.Column("access_days", sa.Integer(), nullable=True),
        sa.Column("grants_premium", sa.Boolean(), nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("created_by_staff_id", BigId, nullable=True),
        sa.Column("revoked_at", Instant, nullable=True),
        sa.Column("last_redeemed_at", Instant, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "partner_id"],
            ["partners.client_id", "partners.id"],
            name=op.f("fk_vouchers_client_id_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_vouchers_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
        sa.UniqueConstraint("client_id", "id", name="uq_vouchers_client_id_id"),
        sa.UniqueConstraint("code", name="uq_vouchers_code"),
    )
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_vouchers_client_id_partner_id_created_at",
            ["client_id", "partner_id", "id"],
            unique=False,
        )

    op.create_table(
        "partner_memberships",
        sa.Column("partner_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("voucher_id", BigId, nullable=True),
        sa.Column("joined_at", Instant, nullable=False),
        sa.Column("access_until", Instant, nullable=True),
        sa.Column("premium", sa.Boolean(), nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "partner_id"],
            ["partners.client_id", "partners.id"],
            name=op.f("fk_partner_memberships_client_id_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_partner_memberships_client_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_partner_memberships_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_memberships")),
        sa.UniqueConstraint("client_id", "id", name="uq_partner_memberships_client_id_id"),
        sa.UniqueConstraint(
            "client_id",
            "partner_id",
            "user_id",
            name=op.f("uq_partner_memberships_client_id_partner_id_user_id"),
        ),
    )
    with op.batch_alter_table("partner_memberships", schema=None) as batch_op:
        batch_op.create_index(
            "ix_partner_memberships_client_id_user_id", ["client_id", "user_id"], unique=False
        )

    op.create_table(
        "voucher_redemptions",
        sa.Column("voucher_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("redeemed_at", Instant, nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_voucher_redemptions_client_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "voucher_id"],
            ["vouchers.client_id", "vouchers.id"],
            name=op.f("fk_voucher_redemptions_client_id_voucher_id_vouchers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_voucher_redemptions_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_redemptions")),
        sa.UniqueConstraint("client_id", "id", name="uq_voucher_redemptions_client_id_id"),
        sa.UniqueConstraint(
            "client_id",
            "voucher_id",
            "user_id",
            name=op.f("uq_voucher_redemptions_client_id_voucher_id_user_id"),
        ),
    )
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("billing_rate_minor", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("currency", sa.String(length=3), nullable=False, server_default="GBP")
        )
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))

    rls.grant_tables(app_role, *TABLES)
    for table in TABLES:
        rls.protect_tenant_table(table)


def downgrade(app_role: str | None = None) -> None:
    for table in TABLES:
        rls.unprotect(table)
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
        batch_op.drop_column("currency")
        batch_op.drop_column("billing_rate_minor")

    op.drop_table("voucher_redemptions")
    with op.batch_alter_table("partner_memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_partner_memberships_client_id_user_id")

    op.drop_table("partner_memberships")
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.drop_index("ix_vouchers_client_id_partner_id_created_at")

    op.drop_table("vouchers")
    with op.batch_alter_table("partner_products", schema=None) as batch_op:
        batch_op.drop_index("ix_partner_products_client_id_partner_id")

    op.drop_table("partner_products")
    op.drop_table("partner_billing_statements")
