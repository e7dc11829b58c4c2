"""Accounts: users, trainers (minimal), partners (minimal) and their staff, platform admins,
refresh and reset tokens, onboarding sessions, trainer invites, the mail outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stvos.migrations import rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Instant = sa.DateTime(timezone=True)
TENANT_TABLES = (
    "mail_outbox",
    "partners",
    "trainers",
    "partner_staff",
    "users",
    "onboarding_sessions",
    "password_reset_tokens",
    "refresh_tokens",
    "trainer_invites",
)


def _coach_reference_inline() -> list[sa.ForeignKeyConstraint]:
    # SQLite resolves references lazily, so the users <-> trainers cycle can be declared at
    # creation; PostgreSQL gets the users -> trainers reference once trainers exists.
    if op.get_bind().dialect.name != "sqlite":
        return []
    return [
        sa.ForeignKeyConstraint(
            ["client_id", "coach_id"],
            ["trainers.client_id", "trainers.id"],
            name=op.f("fk_users_client_id_coach_id_trainers"),
        )
    ]


def upgrade(app_role: str | None = None) -> None:
    op.create_table(
        "platform_admins",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("last_login_at", Instant, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_admins")),
        sa.UniqueConstraint("email_normalized", name=op.f("uq_platform_admins_email_normalized")),
    )
    op.create_table(
        "mail_outbox",
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("transport", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("sent_at", Instant, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_mail_outbox_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mail_outbox_client_id_created_at", ["client_id", "created_at"], unique=False
        )

    op.create_table(
        "partners",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_partners_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("client_id", "id", name="uq_partners_client_id_id"),
    )
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.create_index("ix_partners_client_id_name", ["client_id", "name"], unique=False)

    op.create_table(
        "partner_staff",
        sa.Column("partner_id", BigId, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("last_login_at", Instant, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "partner_id"],
            ["partners.client_id", "partners.id"],
            name=op.f("fk_partner_staff_client_id_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_partner_staff_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_staff")),
        sa.UniqueConstraint("client_id", "id", name="uq_partner_staff_client_id_id"),
        sa.UniqueConstraint("email_normalized", name=op.f("uq_partner_staff_email_normalized")),
    )
    with op.batch_alter_table("partner_staff", schema=None) as batch_op:
        batch_op.create_index(
            "ix_partner_staff_client_id_partner_id", ["client_id", "partner_id"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("coach_id", BigId, nullable=True),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("last_login_at", Instant, nullable=True),
        sa.Column("deleted_at", Instant, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        *_coach_reference_inline(),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_users_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint(
            "client_id", "email_normalized", name=op.f("uq_users_client_id_email_normalized")
        ),
        sa.UniqueConstraint("client_id", "id", name="uq_users_client_id_id"),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(
            "ix_users_client_id_role_status", ["client_id", "role", "status"], unique=False
        )

    op.create_table(
        "trainers",
        sa.Column("user_id", BigId, nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("image_url", sa.String(length=2048), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_trainers_client_id_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_trainers_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trainers")),
        sa.UniqueConstraint("client_id", "id", name="uq_trainers_client_id_id"),
        sa.UniqueConstraint("user_id", name=op.f("uq_trainers_user_id")),
    )
    with op.batch_alter_table("trainers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trainers_client_id_is_active", ["client_id", "is_active"], unique=False
        )

    if op.get_bind().dialect.name != "sqlite":
        op.create_foreign_key(
            op.f("fk_users_client_id_coach_id_trainers"),
            "users",
            "trainers",
            ["client_id", "coach_id"],
            ["client_id", "id"],
        )

    op.create_table(
        "onboarding_sessions",
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.Column("expires_at", Instant, nullable=False),
        sa.Column("user_id", BigId, nullable=True),
        sa.Column("merged_at", Instant, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_onboarding_sessions_client_id_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_onboarding_sessions_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_sessions")),
        sa.UniqueConstraint("public_id", name=op.f("uq_onboarding_sessions_public_id")),
    )
    with op.batch_alter_table("onboarding_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_onboarding_sessions_client_id_expires_at", ["client_id", "expires_at"], unique=False
        )

    op.create_table(
        "password_reset_tokens",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("expires_at", Instant, nullable=False),
        sa.Column("used_at", Instant, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_password_reset_tokens_client_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_password_reset_tokens_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_tokens_token_hash")),
    )
    with op.batch_alter_table("password_reset_tokens", schema=None) as batch_op:
        batch_op.create_index(
            "ix_password_reset_tokens_client_id_user_id", ["client_id", "user_id"], unique=False
        )

    op.create_table(
        "refresh_tokens",
        sa.Column("user_id", BigId, nullable=True),
        sa.Column("partner_staff_id", BigId, nullable=True),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("expires_at", Instant, nullable=False),
        sa.Column("used_at", Instant, nullable=True),
        sa.Column("revoked_at", Instant, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (partner_staff_id IS NULL)",
            name=op.f("ck_refresh_tokens_one_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "partner_staff_id"],
            ["partner_staff.client_id", "partner_staff.id"],
            name=op.f("fk_refresh_tokens_client_id_partner_staff_id_partner_staff"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_refresh_tokens_client_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_refresh_tokens_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(
            "ix_refresh_tokens_client_id_family", ["client_id", "family"], unique=False
        )
        batch_op.create_index(
            "ix_refresh_tokens_client_id_user_id", ["client_id", "user_id"], unique=False
        )

    op.create_table(
        "trainer_invites",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("trainer_id", BigId, nullable=True),
        sa.Column("created_by_user_id", BigId, nullable=True),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("expires_at", Instant, nullable=False),
        sa.Column("accepted_at", Instant, nullable=True),
        sa.Column("accepted_by_user_id", BigId, nullable=True),
        sa.Column("revoked_at", Instant, nullable=True),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "accepted_by_user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_trainer_invites_client_id_accepted_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "created_by_user_id"],
            ["users.client_id", "users.id"],
            name=op.f("fk_trainer_invites_client_id_created_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "trainer_id"],
            ["trainers.client_id", "trainers.id"],
            name=op.f("fk_trainer_invites_client_id_trainer_id_trainers"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_trainer_invites_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trainer_invites")),
        sa.UniqueConstraint("code", name=op.f("uq_trainer_invites_code")),
    )
    with op.batch_alter_table("trainer_invites", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trainer_invites_client_id_created_at", ["client_id", "created_at"], unique=False
        )

    rls.grant_tables(app_role, "platform_admins", *TENANT_TABLES)
    rls.protect_platform_table("platform_admins")
    for table in TENANT_TABLES:
        rls.protect_tenant_table(table)


def downgrade(app_role: str | None = None) -> None:
    for table in ("platform_admins", *TENANT_TABLES):
        rls.unprotect(table)
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(
            op.f("fk_users_client_id_coach_id_trainers"), "users", type_="foreignkey"
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_client_id_role_status")
    with op.batch_alter_table("trainer_invites", schema=None) as batch_op:
        batch_op.drop_index("ix_trainer_invites_client_id_created_at")

    op.drop_table("trainer_invites")
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_refresh_tokens_client_id_user_id")
        batch_op.drop_index("ix_refresh_tokens_client_id_family")

    op.drop_table("refresh_tokens")
    with op.batch_alter_table("password_reset_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_password_reset_tokens_client_id_user_id")

    op.drop_table("password_reset_tokens")
    with op.batch_alter_table("onboarding_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_onboarding_sessions_client_id_expires_at")

    op.drop_table("onboarding_sessions")
    with op.batch_alter_table("trainers", schema=None) as batch_op:
        batch_op.drop_index("ix_trainers_client_id_is_active")

    op.drop_table("trainers")
    op.drop_table("users")
    with op.batch_alter_table("partner_staff", schema=None) as batch_op:
        batch_op.drop_index("ix_partner_staff_client_id_partner_id")

    op.drop_table("partner_staff")
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_index("ix_partners_client_id_name")

    op.drop_table("partners")
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_outbox_client_id_created_at")

    op.drop_table("mail_outbox")
    op.drop_table("platform_admins")
