"""Partners of a client (gyms, corporates, resellers) and their staff logins.

The partners capability adds vouchers, memberships and billing on top of these tables.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String
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


class PartnerType(StrEnum):
    GYM = "gym"
    CORPORATE = "corporate"
    RESELLER = "reseller"


class Partner(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "partners"
    __table_args__ = (
        tenant_key("partners"),
        Index("ix_partners_client_id_name", "client_id", "name"),
    )

    name: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(16), default=PartnerType.GYM.value)
    status: Mapped[str] = mapped_column(String(16), default="active")


class PartnerStaff(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "partner_staff"
    __table_args__ = (
        tenant_key("partner_staff"),
        tenant_reference("partner_id", "partners", ondelete="CASCADE"),
        Index("ix_partner_staff_client_id_partner_id", "client_id", "partner_id"),
    )

    partner_id: Mapped[int] = mapped_column(BigId)
    email: Mapped[str] = mapped_column(String(320))
    # Unique across the platform: partner staff sign in without an API key.
    email_normalized: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="active")
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column()
