"""Wire models of the studio's trainer profiles (``/manage/trainers``) and trainer invites.

The profile field types (specialisations, certifications, time zone) are the catalogue's, so
the studio and the trainer portal validate them alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field, HttpUrl, field_validator

from stvos.accounts.schemas import AuthAnswer, ClientBrief, Password
from stvos.kit.schemas import ApiModel, RequestModel
from stvos.trainers.catalog_schemas import (
    CertificationOut,
    Certifications,
    Specialisations,
    TimeZoneName,
)

InviteStatus = Literal["pending", "accepted", "expired", "revoked"]

# --- trainer profiles -------------------------------------------------------------------------


class TrainerIn(RequestModel):
    name: str = Field(min_length=1, max_length=120)
    bio: str | None = Field(default=None, max_length=5000)
    image_url: HttpUrl | None = Field(default=None, description="http(s) URL of a portrait")
    specialisations: Specialisations | None = Field(
        default=None, description="1 to 20 names, 2 to 60 characters each; null: none"
    )
    certifications: Certifications = Field(
        default_factory=list, description="[{name, issuer?, year?}]"
    )
    time_zone: TimeZoneName | None = Field(
        default=None, description="IANA zone of the trainer's hours; null: the app's zone"
    )


class TrainerPatch(RequestModel):
    """A partial change (PATCH); a new name reaches the search text of the trainer's classes."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    bio: str | None = Field(default=None, max_length=5000)
    image_url: HttpUrl | None = Field(default=None, description="http(s) URL of a portrait")
    is_active: bool | None = None
    specialisations: Specialisations | None = Field(
        default=None, description="Replaces the whole list; null clears it"
    )
    certifications: Certifications | None = Field(
        default=None, description="Replaces the whole list; null clears it"
    )
    time_zone: TimeZoneName | None = Field(default=None, description="null: the app's zone")

    @field_validator("name", "is_active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("This field may not be null")
        return value


class TrainerReplace(TrainerIn):
    """The whole profile (PUT): fields left out are cleared (the time zone: the app's)."""

    is_active: bool = True


class TrainerOut(ApiModel):
    id: int
    name: str
    bio: str | None
    image_url: str | None
    is_active: bool
    user_id: int | None = Field(description="The trainer's own login, once an invite is accepted")
    specialisations: list[str] = Field(description="Names, in the order given")
    certifications: list[CertificationOut]
    time_zone: str | None = Field(description="IANA zone of the trainer's hours; null: the app's")
    created_at: datetime


class TrainerBrief(ApiModel):
    id: int
    name: str


# --- invites ----------------------------------------------------------------------------------


class TrainerInviteIn(RequestModel):
    email: EmailStr | None = Field(
        default=None, description="When set, only this email (any case) may accept the invite"
    )
    name: str | None = Field(default=None, min_length=1, max_length=120)
    trainer_id: int | None = Field(
        default=None,
        ge=1,
        le=2**63 - 1,
        description="An existing trainer profile to link; without it, accepting creates one",
    )
    expires_in_days: int = Field(default=7, ge=1, le=30)


class TrainerInviteOut(ApiModel):
    id: int
    code: str
    email: str | None
    name: str | None
    trainer_id: int | None
    status: InviteStatus
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    accepted_by_user_id: int | None
    revoked_at: datetime | None


class InviteCodeIn(RequestModel):
    code: str = Field(min_length=1, max_length=32, description="e.g. TRN-7KQ2-M9XD (any case)")


class InvitedTrainer(ApiModel):
    name: str


class InviteCheckAnswer(ApiModel):
    valid: bool = Field(description="True when the invite can be accepted now")
    status: InviteStatus
    expires_at: datetime
    client: ClientBrief
    trainer: InvitedTrainer | None = Field(
        default=None, description="Only while the invite is pending"
    )
    email: str | None = Field(
        default=None, description="The invited email, only while the invite is pending"
    )


class InviteAcceptIn(RequestModel):
    code: str = Field(min_length=1, max_length=32)
    email: EmailStr
    password: str = Password
    name: str = Field(min_length=1, max_length=120)


class InviteAcceptAnswer(AuthAnswer):
    """Like sign-up: the new trainer user and tokens bound to the invite's client."""

    client: ClientBrief
    trainer: TrainerBrief
