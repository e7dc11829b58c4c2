"""End users of a client's app (members, trainers, studio staff) and their credentials."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stvos.kit.orm import (
    Base,
    BigId,
    IdMixin,
    TenantOwned,
    TimestampMixin,
    tenant_key,
    tenant_reference,
)


class Role(StrEnum):
    USER = "user"
    TRAINER = "trainer"
    CLIENT_ADMIN = "client_admin"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    DELETED = "deleted"


class User(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "users"
    __table_args__ = (
        tenant_key("users"),
        # Case-insensitive uniqueness per client: the same person may join two clients.
        UniqueConstraint("client_id", "email_normalized"),
        tenant_reference("coach_id", "trainers"),
        Index("ix_users_client_id_role_status", "client_id", "role", "status"),
    )

    email: Mapped[str] = mapped_column(String(320))
    email_normalized: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16), default=Role.USER.value)
    status: Mapped[str] = mapped_column(String(16), default=AccountStatus.ACTIVE.value)
    # Profile and settings as the apps send them (validated by accounts.schemas).
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    coach_id: Mapped[int | None] = mapped_column(BigId)
    # Bumped to end every access token at once (password change, disable, delete).
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column()
    # Premium content access until then (granted by staff or partner vouchers); NULL: none.
    premium_until: Mapped[datetime | None] = mapped_column()

    @property
    def is_active(self) -> bool:
        return self.status == AccountStatus.ACTIVE.value


class RefreshToken(IdMixin, TenantOwned, Base):
    """One opaque refresh token (stored hashed). Rotation keeps a family; reuse kills it."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        tenant_reference("user_id", "users", ondelete="CASCADE"),
        tenant_reference("partner_staff_id", "partner_staff", ondelete="CASCADE"),
        CheckConstraint("(user_id IS NULL) <> (partner_staff_id IS NULL)", name="one_subject"),
        Index("ix_refresh_tokens_client_id_family", "client_id", "family"),
        Index("ix_refresh_tokens_client_id_user_id", "client_id", "user_id"),
    )

    user_id: Mapped[int | None] = mapped_column(BigId)
    partner_staff_id: Mapped[int | None] = mapped_column(BigId)
    family: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    # Set when this token was exchanged for the next one; presenting it again is reuse.
    used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class PasswordResetToken(IdMixin, TenantOwned, Base):
    __tablename__ = "password_reset_tokens"
    __table_args__ = (
        tenant_reference("user_id", "users", ondelete="CASCADE"),
        Index("ix_password_reset_tokens_client_id_user_id", "client_id", "user_id"),
    )

    user_id: Mapped[int] = mapped_column(BigId)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
