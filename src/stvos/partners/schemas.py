"""Wire models of partners: the studio's partner records, partner staff and their sign-in."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, EmailStr, Field, field_validator

from stvos.accounts.schemas import ClientBrief, Password, TokenPair
from stvos.kit.schemas import ApiModel, RequestModel

PartnerTypeName = Literal["gym", "corporate", "reseller"]
PartnerStatusName = Literal["active", "suspended"]

# --- money, currency and time zone (shared with products) -------------------------------------

# Amounts are stored as integer minor units in a 32-bit column; every currency here is taken to
# have 2 decimal places (GBP, EUR, USD...), so at most 2 decimals are accepted and nothing is
# ever rounded.
MAX_MONEY = Decimal("1000000")
Money = Annotated[
    Decimal,
    Field(
        ge=0,
        le=MAX_MONEY,
        decimal_places=2,
        description='A decimal amount (a number or a string, at most 2 decimals), e.g. "4.50"',
        examples=["4.50"],
    ),
]
Currency = Annotated[
    str,
    Field(
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code, 3 upper-case letters",
        examples=["GBP"],
    ),
]


def to_minor(amount: Decimal) -> int:
    """Exact: the amount was validated to at most 2 decimals."""
    return int((amount * 100).to_integral_value())


def money_text(minor: int) -> str:
    """Integer minor units as the decimal string on the wire: 450 -> ``"4.50"``."""
    whole, cents = divmod(minor, 100)
    return f"{whole}.{cents:02d}"


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _time_zone(value: str | None) -> str | None:
    """An IANA zone name the server knows (``Europe/London``); None: the client's zone."""
    if value is not None and value not in _zones():
        raise ValueError("Not a known IANA time zone (e.g. Europe/London)")
    return value


TimeZoneName = Annotated[
    str,
    Field(max_length=64, examples=["Europe/London"]),
    AfterValidator(_time_zone),
]


def _not_null(value: object) -> object:
    """Runs only on values sent (defaults are not validated): an explicit null is refused."""
    if value is None:
        raise ValueError("This field may not be null")
    return value


# --- studio back office -----------------------------------------------------------------------


class PartnerIn(RequestModel):
    name: str = Field(min_length=1, max_length=120)
    type: PartnerTypeName = "gym"
    billing_rate: Money = Field(
        default=Decimal("0"),
        description="What the partner pays per billable member per month, in `currency`",
    )
    currency: Currency = "GBP"
    time_zone: TimeZoneName | None = Field(
        default=None,
        description="Membership dates and billing months are read in this zone; "
        "null: the app's zone",
    )


class PartnerPatch(RequestModel):
    """Only the fields sent change. ``timeZone: null`` goes back to the app's zone; suspending
    (``status: suspended``) signs every staff login of the partner out."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    type: PartnerTypeName | None = None
    billing_rate: Money | None = None
    currency: Currency | None = None
    time_zone: TimeZoneName | None = None
    status: PartnerStatusName | None = None

    refuse_nulls = field_validator("name", "type", "billing_rate", "currency", "status")(_not_null)


class PartnerOut(ApiModel):
    id: int
    name: str
    type: PartnerTypeName
    status: str = Field(description="active or suspended (its staff cannot sign in)")
    billing_rate: str = Field(
        description="Per billable member per month, decimal string", examples=["4.50"]
    )
    currency: str
    time_zone: str | None = Field(description="IANA zone; null: the app's zone")
    created_at: datetime
    updated_at: datetime


class PartnerStaffIn(RequestModel):
    email: EmailStr = Field(
        description="Unique across the platform (partner staff sign in without an API key)"
    )
    password: str = Password
    name: str | None = Field(default=None, min_length=1, max_length=120)


class PartnerStaffOut(ApiModel):
    id: int
    partner_id: int
    email: str
    name: str | None
    status: str
    created_at: datetime
    last_login_at: datetime | None


# --- partner staff sign-in --------------------------------------------------------------------


class PartnerBrief(ApiModel):
    id: int
    name: str
    type: PartnerTypeName


class StaffBrief(ApiModel):
    id: int
    email: str
    name: str | None


class PartnerAuthAnswer(ApiModel):
    """Partner sign-in and refresh: who signed in, for which partner and app, and the tokens
    (flat and under ``tokens``, as for users)."""

    partner: PartnerBrief
    staff: StaffBrief
    client: ClientBrief
    access_token: str
    refresh_token: str
    tokens: TokenPair


class PartnerMeAnswer(ApiModel):
    staff: PartnerStaffOut
    partner: PartnerOut
    client: ClientBrief
