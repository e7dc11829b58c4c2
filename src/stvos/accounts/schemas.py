"""Wire models of accounts: sign-up, sign-in, tokens, the user and their profile."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, EmailStr, Field, field_validator
from pydantic.alias_generators import to_camel

from stvos.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from stvos.kit.schemas import ApiModel, RequestModel

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ShortText = Field(min_length=1, max_length=100)
Password = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)


class Profile(RequestModel):
    """What the apps and the AI plans know about a member. Every field is optional."""

    age: int | None = Field(default=None, ge=13, le=120)
    gender: Literal["male", "female", "non_binary", "other", "prefer_not_to_say"] | None = None
    height: float | None = Field(default=None, ge=50, le=272, description="centimetres")
    weight: float | None = Field(default=None, ge=20, le=500, description="kilograms")
    fitness_level: Literal["beginner", "intermediate", "advanced"] | None = None
    fitness_goal: str | None = Field(default=None, max_length=100)
    time_zone: str | None = Field(default=None, description="IANA zone, e.g. Europe/London")
    units: Literal["metric", "imperial"] | None = None
    goals: list[str] | None = Field(default=None, max_length=20)
    equipment: list[str] | None = Field(default=None, max_length=50)
    injuries: list[str] | None = Field(default=None, max_length=20)
    dietary_restrictions: list[str] | None = Field(default=None, max_length=20)
    available_days: list[Weekday] | None = Field(default=None, max_length=7)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown IANA time zone") from None
        return value

    @field_validator("goals", "equipment", "injuries", "dietary_restrictions")
    @classmethod
    def _short_items(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [item.strip() for item in value]
        if any(not item or len(item) > 100 for item in cleaned):
            raise ValueError("items must be 1 to 100 characters")
        return list(dict.fromkeys(cleaned))

    @field_validator("available_days")
    @classmethod
    def _distinct_days(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))


class NotificationSettings(RequestModel):
    email: bool | None = None
    push: bool | None = None
    workout_reminders: bool | None = None
    class_reminders: bool | None = None
    marketing: bool | None = None


DEFAULT_NOTIFICATIONS = {
    "email": True,
    "push": True,
    "workout_reminders": True,
    "class_reminders": True,
    "marketing": False,
}


class UserSettings(RequestModel):
    notifications: NotificationSettings | None = None


class RegisterIn(RequestModel):
    email: EmailStr
    password: str = Password
    name: str | None = Field(default=None, min_length=1, max_length=120)
    voucher_code: str | None = Field(default=None, min_length=1, max_length=64)
    session_id: str | None = Field(
        default=None, min_length=1, max_length=40, description="An onboarding session to merge"
    )
    coach_id: int | None = Field(default=None, ge=1, description="A trainer of this client")
    profile: Profile | None = None
    settings: UserSettings | None = None


class LoginIn(RequestModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class RefreshIn(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class LogoutIn(RequestModel):
    refresh_token: str | None = Field(default=None, max_length=200)


class ForgotPasswordIn(RequestModel):
    email: EmailStr


class ResetPasswordIn(RequestModel):
    token: str = Field(min_length=1, max_length=200, description="The code from the reset mail")
    password: str = Password


class ChangePasswordIn(RequestModel):
    current_password: str = Field(min_length=1, max_length=MAX_LENGTH)
    new_password: str = Password


class UserUpdate(RequestModel):
    """PUT /users/me: partial. Email, role, client and coach are not the member's to change."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    profile: Profile | None = None
    settings: UserSettings | None = None


# --- answers ----------------------------------------------------------------------------------


class UserSummary(ApiModel):
    id: int
    email: str
    name: str | None
    role: str


class CoachOut(ApiModel):
    id: int
    name: str


class ProfileOut(ApiModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    age: int | None = None
    gender: str | None = None
    height: float | None = None
    weight: float | None = None
    fitness_level: str | None = None
    fitness_goal: str | None = None
    time_zone: str | None = None
    units: str | None = None
    goals: list[str] = Field(default_factory=list)
    equipment: list[str] = Field(default_factory=list)
    injuries: list[str] = Field(default_factory=list)
    dietary_restrictions: list[str] = Field(default_factory=list)
    available_days: list[str] = Field(default_factory=list)


class NotificationsOut(ApiModel):
    email: bool
    push: bool
    workout_reminders: bool
    class_reminders: bool
    marketing: bool


class SettingsOut(ApiModel):
    notifications: NotificationsOut


class UserOut(UserSummary):
    status: str
    profile: ProfileOut
    settings: SettingsOut
    coach: CoachOut | None
    premium_until: datetime | None = Field(
        description="Premium content access until then; null: none"
    )
    created_at: datetime
    last_login_at: datetime | None


class TokenPair(ApiModel):
    access_token: str
    refresh_token: str
    expires_in: int = Field(description="Seconds until the access token expires")


class ClientBrief(ApiModel):
    id: int
    name: str
    branding: dict[str, dict[str, str]]


class ClientWithFeatures(ClientBrief):
    slug: str
    logo: str | None
    enabled_features: list[str]


class AuthAnswer(ApiModel):
    """Sign-up and sign-in: the tokens both flat and under ``tokens`` (published shape)."""

    user: UserSummary
    access_token: str
    refresh_token: str
    tokens: TokenPair


class LoginAnswer(AuthAnswer):
    client: ClientBrief


class MeAnswer(ApiModel):
    user: UserOut
    client: ClientWithFeatures


class UserAnswer(ApiModel):
    user: UserOut


class Message(ApiModel):
    message: str


class MessageWithTokens(AuthAnswer):
    message: str
