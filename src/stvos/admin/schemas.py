"""Wire models of the platform admin API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import EmailStr, Field, StringConstraints, field_validator

from stvos.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from stvos.kit.schemas import ApiModel, RequestModel
from stvos.models.client import Feature
from stvos.tenancy.schemas import Branding
from stvos.tenancy.service import MAX_ASSET_URL_LENGTH, MAX_RATE_LIMIT, slugify

ClientStatusName = Literal["active", "suspended"]
StaffRole = Literal["client_admin", "trainer", "user"]
ColourRole = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")]
AssetUrl = Field(
    default=None,
    max_length=MAX_ASSET_URL_LENGTH,
    description="An http(s) URL, or a path on this server such as an uploaded image's URL",
)
RateLimit = Field(
    default=None,
    ge=1,
    le=MAX_RATE_LIMIT,
    description="Per-client override; null means the platform default",
)
MAX_COLOUR_ROLES = 32


# --- sign-in ----------------------------------------------------------------------------------


class AdminLoginIn(RequestModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class AdminOut(ApiModel):
    id: int
    email: str
    name: str | None


class AdminLoginAnswer(ApiModel):
    access_token: str
    expires_in: int = Field(description="Seconds until the access token expires")
    admin: AdminOut


class AdminMe(ApiModel):
    admin: AdminOut


# --- clients ----------------------------------------------------------------------------------


class BrandingIn(RequestModel):
    colors: dict[ColourRole, str] = Field(
        max_length=MAX_COLOUR_ROLES, description="Colour roles -> hex, e.g. primary -> #FF5A1F"
    )


class BrandingPatch(RequestModel):
    colors: dict[ColourRole, str | None] = Field(
        max_length=MAX_COLOUR_ROLES,
        description="Merged into the current colours; a role set to null is removed",
    )


class ClientCreate(RequestModel):
    name: str = Field(min_length=1, max_length=120)
    slug: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Lowercase letters, digits and hyphens (not all digits); derived from the "
        "name when absent",
    )
    time_zone: str = Field(default="UTC", max_length=64, description="IANA zone")
    requires_voucher: bool = False
    enabled_features: list[Feature] | None = Field(
        default=None, description="Absent: every feature"
    )
    branding: BrandingIn | None = None
    logo: str | None = AssetUrl
    splash_screen: str | None = AssetUrl

    @field_validator("slug")
    @classmethod
    def _canonical_slug(cls, value: str | None) -> str | None:
        if value is not None and slugify(value) != value:
            raise ValueError("use lowercase letters, digits and single hyphens, not only digits")
        return value


class ClientUpdate(RequestModel):
    """PATCH: absent fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    time_zone: str | None = Field(default=None, max_length=64)
    requires_voucher: bool | None = None
    enabled_features: list[Feature] | None = None
    branding: BrandingPatch | None = None
    logo: str | None = AssetUrl
    splash_screen: str | None = AssetUrl
    is_default: bool | None = Field(
        default=None, description="true makes this the one default client; false unsets it"
    )
    status: ClientStatusName | None = Field(
        default=None, description="suspended: the client's keys answer 403 CLIENT_SUSPENDED"
    )
    rate_limit_per_minute: int | None = RateLimit
    rate_limit_burst: int | None = RateLimit
    live_members_can_publish: bool | None = Field(
        default=None,
        description="true: members of live classes may publish camera and microphone "
        "(default false: they watch, listen and chat)",
    )

    @field_validator(
        "name", "time_zone", "requires_voucher", "enabled_features", "branding", "is_default",
        "status", "live_members_can_publish",
    )  # fmt: skip
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Runs only for fields that were sent: null is refused where it would mean nothing.
        if value is None:
            raise ValueError("may not be null")
        return value


class AdminClient(ApiModel):
    id: int
    name: str
    slug: str
    status: str
    is_default: bool
    requires_voucher: bool
    time_zone: str
    logo: str | None
    splash_screen: str | None
    branding: Branding
    enabled_features: list[str]
    rate_limit_per_minute: int | None
    rate_limit_burst: int | None
    live_members_can_publish: bool
    live_api_keys: int = Field(description="Keys that are not revoked")
    created_at: datetime
    updated_at: datetime


class ClientAnswer(ApiModel):
    client: AdminClient


# --- API keys ---------------------------------------------------------------------------------


class ApiKeyCreate(RequestModel):
    name: str = Field(default="default", min_length=1, max_length=120)


class ApiKeyOut(ApiModel):
    id: int
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedApiKey(ApiModel):
    id: int
    name: str
    prefix: str
    api_key: str | None = Field(
        description="The key itself: shown this once, stored only as a hash (null when an "
        "Idempotency-Key retry replays the answer)"
    )
    created_at: datetime


class CreatedClientAnswer(ApiModel):
    client: AdminClient
    api_key: IssuedApiKey


class UniversalKeyAnswer(ApiModel):
    universal_key: str | None = Field(
        description="Shown this once; the previous universal key is revoked (null when an "
        "Idempotency-Key retry replays the answer)"
    )
    prefix: str


# --- staff ------------------------------------------------------------------------------------


class StaffCreate(RequestModel):
    email: EmailStr
    password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)
    name: str | None = Field(default=None, min_length=1, max_length=120)
    role: StaffRole = "client_admin"


class StaffUser(ApiModel):
    id: int
    client_id: int
    email: str
    name: str | None
    role: str
    status: str
    created_at: datetime


class StaffAnswer(ApiModel):
    user: StaffUser
