"""Wire models of partners: the studio's partner records, partner staff and their sign-in."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field

from stvos.accounts.schemas import ClientBrief, Password, TokenPair
from stvos.kit.schemas import ApiModel, RequestModel

PartnerTypeName = Literal["gym", "corporate", "reseller"]

# --- studio back office -----------------------------------------------------------------------


class PartnerIn(RequestModel):
    name: str = Field(min_length=1, max_length=120)
    type: PartnerTypeName = "gym"


class PartnerOut(ApiModel):
    id: int
    name: str
    type: PartnerTypeName
    status: str
    created_at: datetime


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
