"""Trainer profiles (the minimum accounts need; the trainers capability extends them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String, Text
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


class Trainer(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "trainers"
    __table_args__ = (
        tenant_key("trainers"),
        # The use_alter breaks the users <-> trainers cycle when creating tables.
        tenant_reference("user_id", "users", use_alter=True),
        Index("ix_trainers_client_id_is_active", "client_id", "is_active"),
    )

    # The trainer's own login, once they accepted an invite.
    user_id: Mapped[int | None] = mapped_column(BigId, unique=True)
    name: Mapped[str] = mapped_column(String(120))
    bio: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2048))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class TrainerInvite(IdMixin, TenantOwned, Base):
    """A one-time code that lets a trainer create their account (``/invite/*``)."""

    __tablename__ = "trainer_invites"
    __table_args__ = (
        tenant_reference("trainer_id", "trainers"),
        tenant_reference("created_by_user_id", "users"),
        tenant_reference("accepted_by_user_id", "users"),
        Index("ix_trainer_invites_client_id_created_at", "client_id", "created_at"),
    )

    # Globally unique: /invite/check has no API key, so the code alone names the client.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(120))
    # Link to an existing trainer profile; when NULL, accepting creates one.
    trainer_id: Mapped[int | None] = mapped_column(BigId)
    created_by_user_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column()
    accepted_by_user_id: Mapped[int | None] = mapped_column(BigId)
    revoked_at: Mapped[datetime | None] = mapped_column()
