"""Wire models of vouchers: generating, listing and revoking codes (partner staff), and checking
or redeeming them (apps and the public join page)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from stvos.kit.schemas import ApiModel, RequestModel
from stvos.tenancy.schemas import PublicClient

VoucherStatusName = Literal["active", "redeemed", "expired", "revoked"]

STATUS_RULE = (
    "`revoked` if the partner revoked it; else `redeemed` once `redemptionCount` reached "
    "`maxRedemptions`; else `expired` once `expiresAt` has passed; else `active`."
)

# --- partner staff ----------------------------------------------------------------------------


class VoucherBatchIn(RequestModel):
    quantity: int = Field(ge=1, le=500, description="How many codes to generate (1..500)")
    prefix: str = Field(
        pattern=r"^[A-Za-z0-9]{1,12}$",
        description="1..12 letters or digits; stored and shown in upper case (`PREFIX-XXXXXX`)",
    )
    expires_at: AwareDatetime = Field(
        description="When the codes stop working: in the future and at most 5 years ahead"
    )
    max_redemptions: int = Field(
        default=1, ge=1, le=10_000, description="Users who may redeem each code (default 1)"
    )
    access_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="Days of membership from redemption; null: no end",
    )
    grants_premium: bool = Field(
        default=False, description="Redeeming also unlocks premium classes for the access period"
    )


class VoucherOut(ApiModel):
    id: int
    code: str
    prefix: str
    status: VoucherStatusName = Field(description=STATUS_RULE)
    expires_at: datetime
    max_redemptions: int
    redemption_count: int
    access_days: int | None
    grants_premium: bool
    created_at: datetime
    last_redeemed_at: datetime | None
    revoked_at: datetime | None


class VoucherBatchOut(ApiModel):
    """The codes made by one ``POST /partner/vouchers`` (all of them, in one transaction)."""

    quantity: int
    vouchers: list[VoucherOut]


class VoucherStats(ApiModel):
    total: int
    active: int
    redeemed: int
    expired: int
    revoked: int
    redemptions: int = Field(description="Redemptions made in all (multi-use codes count each)")
    redemption_rate: float = Field(
        description="Share of codes that are used up (`redeemed / total`), a fraction from 0 "
        "to 1 rounded to 4 places; 0 when there are no codes"
    )


# --- apps and the join page -------------------------------------------------------------------


class VoucherCheckIn(RequestModel):
    code: str = Field(min_length=1, max_length=64, description="Case and spaces do not matter")


class VoucherPartner(ApiModel):
    id: int
    name: str


class VoucherCheck(ApiModel):
    """A redeemable code, as ``POST /auth/voucher/validate`` answers it."""

    valid: Literal[True] = True
    code: str
    expires_at: datetime
    access_days: int | None
    grants_premium: bool
    partner: VoucherPartner


class JoinPartner(ApiModel):
    name: str


class JoinPage(ApiModel):
    """What the public join link shows: the code's state and the app it belongs to."""

    code: str
    valid: bool = Field(description="True when signing up with this code would succeed now")
    status: VoucherStatusName = Field(description=STATUS_RULE)
    reason: str | None = Field(
        description="When not valid, the error code sign-up would give (`VOUCHER_EXPIRED`, "
        "`VOUCHER_REVOKED`, `VOUCHER_ALREADY_REDEEMED`, `INVALID_VOUCHER`)"
    )
    expires_at: datetime
    access_days: int | None
    grants_premium: bool
    client: PublicClient
    partner: JoinPartner
