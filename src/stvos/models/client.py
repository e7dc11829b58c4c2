"""Clients (tenants) and the keys their apps call the API with."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from stvos.kit.orm import Base, IdMixin, TenantOwned, TimestampMixin, tenant_key
from stvos.kit.policy import ALL_FEATURES, Feature

__all__ = ["ALL_FEATURES", "ApiKey", "Client", "ClientStatus", "Feature", "PlatformKey"]


class ClientStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


# Keys of ``Client.settings`` (per-client switches that need no column of their own).
LIVE_MEMBERS_CAN_PUBLISH = "liveMembersCanPublish"  # live class members may publish a/v


class Client(IdMixin, TimestampMixin, Base):
    """A tenant: a studio, gym chain or wellness brand with its own white-label app.

    Not :class:`TenantOwned` (it *is* the tenant) but protected by row-level security on its
    own ``id``: a client scope sees only its own row.
    """

    __tablename__ = "clients"
    __table_args__ = (
        # At most one default client: a partial unique index on both databases.
        Index(
            "uq_clients_one_default",
            "is_default",
            unique=True,
            sqlite_where=text("is_default = 1"),
            postgresql_where=text("is_default"),
        ),
    )

    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ClientStatus.ACTIVE.value)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_voucher: Mapped[bool] = mapped_column(Boolean, default=False)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    logo_url: Mapped[str | None] = mapped_column(String(2048))
    splash_screen_url: Mapped[str | None] = mapped_column(String(2048))
    # Colour roles -> "#RRGGBB", e.g. {"primary": "#FF5A1F", "background": "#0B0B0F"}.
    colors: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    enabled_features: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(ALL_FEATURES))
    # Per-client override of the platform rate limit; NULL means the platform default.
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    rate_limit_burst: Mapped[int | None] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    @property
    def is_active(self) -> bool:
        return self.status == ClientStatus.ACTIVE.value


class ApiKey(IdMixin, TimestampMixin, TenantOwned, Base):
    """A client's API key. Only a SHA-256 of the key is stored; the key is shown once."""

    __tablename__ = "api_keys"
    __table_args__ = (tenant_key("api_keys"),)

    name: Mapped[str] = mapped_column(String(120), default="default")
    # The first characters, safe to show in lists ("fytos_Ab3x...").
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class PlatformKey(IdMixin, TimestampMixin, Base):
    """Platform-wide credentials (the universal API key). Not tenant-owned."""

    __tablename__ = "platform_keys"

    kind: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column()
