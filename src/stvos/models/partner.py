"""Partners of a client (gyms, corporates, resellers): staff logins, vouchers, memberships,
products and closed billing statements."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint
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
    # What the partner pays per billable member per month, in minor units of ``currency``.
    billing_rate_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    # Membership dates and billing months are read in this zone (IANA); None: the client's.
    time_zone: Mapped[str | None] = mapped_column(String(64))


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


class VoucherStatus(StrEnum):
    """Stored states; ``expired`` is derived from ``expires_at`` when read, never stored."""

    ACTIVE = "active"
    REDEEMED = "redeemed"  # used up: redemption_count reached max_redemptions
    REVOKED = "revoked"


class Voucher(IdMixin, TenantOwned, Base):
    """A code a partner hands out; redeeming it makes the user a member of the partner."""

    __tablename__ = "vouchers"
    __table_args__ = (
        tenant_key("vouchers"),
        tenant_reference("partner_id", "partners", ondelete="CASCADE"),
        # Unique across the platform, so ``/app/join/:code`` and the universal key can find the
        # client from the code alone (and therefore unique per client too).
        UniqueConstraint("code", name="uq_vouchers_code"),
        Index("ix_vouchers_client_id_partner_id_created_at", "client_id", "partner_id", "id"),
    )

    partner_id: Mapped[int] = mapped_column(BigId)
    code: Mapped[str] = mapped_column(String(40))
    prefix: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=VoucherStatus.ACTIVE.value)
    expires_at: Mapped[datetime] = mapped_column()
    max_redemptions: Mapped[int] = mapped_column(Integer, default=1)
    redemption_count: Mapped[int] = mapped_column(Integer, default=0)
    # Days of access from redemption; None: access while the membership lasts (no end).
    access_days: Mapped[int | None] = mapped_column(Integer)
    grants_premium: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column()
    created_by_staff_id: Mapped[int | None] = mapped_column(BigId)
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_redeemed_at: Mapped[datetime | None] = mapped_column()


class VoucherRedemption(IdMixin, TenantOwned, Base):
    __tablename__ = "voucher_redemptions"
    __table_args__ = (
        tenant_key("voucher_redemptions"),
        tenant_reference("voucher_id", "vouchers", ondelete="CASCADE"),
        tenant_reference("user_id", "users", ondelete="CASCADE"),
        UniqueConstraint("client_id", "voucher_id", "user_id"),
    )

    voucher_id: Mapped[int] = mapped_column(BigId)
    user_id: Mapped[int] = mapped_column(BigId)
    redeemed_at: Mapped[datetime] = mapped_column()


class PartnerMembership(IdMixin, TenantOwned, Base):
    """A user brought by a partner: one row per partner and user, extended by later vouchers."""

    __tablename__ = "partner_memberships"
    __table_args__ = (
        tenant_key("partner_memberships"),
        tenant_reference("partner_id", "partners", ondelete="CASCADE"),
        tenant_reference("user_id", "users", ondelete="CASCADE"),
        UniqueConstraint("client_id", "partner_id", "user_id"),
        Index("ix_partner_memberships_client_id_user_id", "client_id", "user_id"),
    )

    partner_id: Mapped[int] = mapped_column(BigId)
    user_id: Mapped[int] = mapped_column(BigId)
    voucher_id: Mapped[int | None] = mapped_column(BigId)  # the first voucher redeemed
    joined_at: Mapped[datetime] = mapped_column()
    access_until: Mapped[datetime | None] = mapped_column()  # None: no end
    premium: Mapped[bool] = mapped_column(Boolean, default=False)


class PartnerProduct(IdMixin, TimestampMixin, TenantOwned, Base):
    """Something a partner offers the client's members (a gym pass, a discount, a kit bag)."""

    __tablename__ = "partner_products"
    __table_args__ = (
        tenant_key("partner_products"),
        tenant_reference("partner_id", "partners", ondelete="CASCADE"),
        Index("ix_partner_products_client_id_partner_id", "client_id", "partner_id"),
    )

    partner_id: Mapped[int] = mapped_column(BigId)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    price_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    url: Mapped[str | None] = mapped_column(String(500))
    image_url: Mapped[str | None] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class BillingStatement(IdMixin, TenantOwned, Base):
    """A closed month's billing report, kept as first computed so re-running it is identical."""

    __tablename__ = "partner_billing_statements"
    __table_args__ = (
        tenant_key("partner_billing_statements"),
        tenant_reference("partner_id", "partners", ondelete="CASCADE"),
        UniqueConstraint("client_id", "partner_id", "month"),
    )

    partner_id: Mapped[int] = mapped_column(BigId)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    closed_at: Mapped[datetime] = mapped_column()
