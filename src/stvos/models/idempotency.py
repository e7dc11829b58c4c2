"""Stored answers of unsafe requests made with an ``Idempotency-Key``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stvos.kit.orm import Base, BigId, IdMixin, TenantOwned, tenant_reference


class IdempotencyRecord(IdMixin, TenantOwned, Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("client_id", "scope", "key"),
        # API keys are revoked, never deleted, so the reference stays valid.
        tenant_reference("api_key_id", "api_keys"),
    )

    # Who may replay: "user:42", "partner:7" or "client" for key-only routes, so two users of
    # one client who pick the same key never see each other's answers.
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    # The key that made the request (NULL under the universal key).
    api_key_id: Mapped[int | None] = mapped_column(BigId)
    method: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    # NULL while the first request is still running.
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)


class PlatformIdempotencyRecord(IdMixin, Base):
    """The same stored answers for platform-scope callers (platform admins), who act for no
    client. Not tenant-owned: only the platform scope reads or writes it (row-level security)."""

    __tablename__ = "platform_idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    scope: Mapped[str] = mapped_column(String(64))  # "admin:3"
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)
