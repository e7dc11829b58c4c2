"""Wire models of the trainer catalogue: profiles, specialisations, certifications, services.

Shared by the apps' ``/trainers`` routes, the trainer portal's ``/trainer/me`` and
``/trainer/services``, and the studio's ``/manage/trainers`` (which imports the validated
profile field types from here).

Money is integer minor units in the database and a decimal string with two places on the wire
(``"45.00"``) next to its ISO currency. Every currency is treated as having two minor digits
(GBP, EUR, USD...); zero-decimal currencies are not supported yet.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, Field, HttpUrl, StringConstraints, field_validator

from stvos.content.schemas import ClassSummary
from stvos.kit.clock import utcnow
from stvos.kit.schemas import ApiModel, Page, RequestModel
from stvos.live.member_schemas import LiveClassOut

ServiceModeName = Literal["video", "in_person"]

MAX_SPECIALISATIONS = 20
MAX_CERTIFICATIONS = 20
MAX_PRICE = Decimal("100000.00")
MAX_NOTICE_MINUTES = 30 * 24 * 60


# --- specialisations --------------------------------------------------------------------------


def slugify(text: str) -> str:
    """The filter key of a specialisation: ``"Pre & Post Natal"`` -> ``"pre-post-natal"``.

    Accents are folded (``"Prénatal"`` -> ``"prenatal"``), so what people type in a search box
    finds what the studio wrote, whatever its case, spacing or punctuation.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")


def _has_slug(name: str) -> str:
    if not slugify(name):
        raise ValueError("must contain letters or digits")
    return name


SpecialisationName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=60),
    AfterValidator(_has_slug),
]
Specialisations = Annotated[
    list[SpecialisationName],
    Field(
        min_length=1,
        max_length=MAX_SPECIALISATIONS,
        description=(
            "1 to 20 names, 2 to 60 characters each; replaces the whole list. Filter apps' "
            "`/trainers?specialisation=` by any of them, in any case."
        ),
    ),
]


# --- certifications ---------------------------------------------------------------------------


class CertificationIn(RequestModel):
    name: str = Field(min_length=2, max_length=120, description="e.g. Level 3 Personal Trainer")
    issuer: str | None = Field(default=None, min_length=1, max_length=120)
    year: int | None = Field(default=None, ge=1950, description="The year it was awarded")

    @field_validator("year")
    @classmethod
    def _not_in_future(cls, value: int | None) -> int | None:
        if value is not None and value > utcnow().year:
            raise ValueError("must not be in the future")
        return value


Certifications = Annotated[list[CertificationIn], Field(max_length=MAX_CERTIFICATIONS)]


class CertificationOut(ApiModel):
    name: str
    issuer: str | None = None
    year: int | None = None


# --- time zones -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _iana_zone(name: str) -> str:
    known = _known_zones()
    if known and name not in known:
        raise ValueError("must be an IANA time zone such as Europe/London")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as Europe/London") from None
    return name


TimeZoneName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_iana_zone),
]


# --- profiles: what the apps see -------------------------------------------------------------


class FromPrice(ApiModel):
    price: str = Field(description="Decimal with two places, e.g. 25.00")
    currency: str


class ServiceOut(ApiModel):
    id: int
    trainer_id: int
    name: str
    description: str | None
    duration_minutes: int
    price: str = Field(description="Decimal with two places, e.g. 45.00")
    currency: str = Field(description="ISO 4217, e.g. GBP")
    mode: ServiceModeName
    location: str | None = Field(description="Where an in-person session happens")
    buffer_before_minutes: int
    buffer_after_minutes: int
    min_notice_minutes: int
    max_days_ahead: int
    cancellation_window_hours: int
    is_active: bool


class TrainerSummary(ApiModel):
    id: int
    name: str
    bio: str | None
    image_url: str | None
    specialisations: list[str] = Field(description="Names, as the trainer wrote them")
    certifications: list[CertificationOut]
    time_zone: str = Field(description="IANA zone of the trainer's hours (theirs or the app's)")
    is_active: bool
    services_count: int = Field(description="Active bookable services")
    from_price: FromPrice | None = Field(description="The cheapest active service, if any")


class TrainerProfile(TrainerSummary):
    services: list[ServiceOut] = Field(description="Active services, shortest first")


class TrainerMe(TrainerProfile):
    """The trainer's own profile in the portal: every service, active or not."""

    user_id: int | None
    own_time_zone: str | None = Field(
        description="The zone the trainer set; null: the app's zone (then in `timeZone`)"
    )


class TrainerMePatch(RequestModel):
    """What a trainer may change themselves; the name and active flag are the studio's."""

    bio: str | None = Field(default=None, max_length=5000)
    image_url: HttpUrl | None = Field(default=None, description="http(s) URL of a portrait")
    specialisations: Specialisations | None = Field(default=None, description="null clears")
    certifications: Certifications | None = Field(default=None, description="null clears")
    time_zone: TimeZoneName | None = Field(default=None, description="null: the app's zone")


# --- services ---------------------------------------------------------------------------------

Price = Annotated[
    Decimal,
    Field(
        ge=0,
        le=MAX_PRICE,
        decimal_places=2,
        description='Decimal, at most two places (a string like "45.00" or a number)',
    ),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, upper case")]
Duration = Annotated[int, Field(ge=5, le=480, description="Minutes, 5 to 480")]
Buffer = Annotated[int, Field(ge=0, le=240, description="Minutes kept free, 0 to 240")]
Notice = Annotated[
    int, Field(ge=0, le=MAX_NOTICE_MINUTES, description="Minutes, 0 to 43200 (30 days)")
]
DaysAhead = Annotated[int, Field(ge=1, le=365, description="Days, 1 to 365")]
CancellationWindow = Annotated[
    int, Field(ge=0, le=720, description="Hours before the start, 0 to 720")
]
Location = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class ServiceIn(RequestModel):
    name: str = Field(min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=5000)
    duration_minutes: Duration
    price: Price
    currency: Currency = "GBP"
    mode: ServiceModeName = "video"
    location: Location | None = Field(
        default=None, description="Required for in_person; not allowed for video"
    )
    buffer_before_minutes: Buffer = 0
    buffer_after_minutes: Buffer = 0
    min_notice_minutes: Notice = 120
    max_days_ahead: DaysAhead = 60
    cancellation_window_hours: CancellationWindow = 24
    is_active: bool = True


class ServicePatch(RequestModel):
    """A partial change; ``description`` and ``location`` may be set to null."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=5000)
    duration_minutes: Duration | None = None
    price: Price | None = None
    currency: Currency | None = None
    mode: ServiceModeName | None = None
    location: Location | None = None
    buffer_before_minutes: Buffer | None = None
    buffer_after_minutes: Buffer | None = None
    min_notice_minutes: Notice | None = None
    max_days_ahead: DaysAhead | None = None
    cancellation_window_hours: CancellationWindow | None = None
    is_active: bool | None = None

    @field_validator(
        "name",
        "duration_minutes",
        "price",
        "currency",
        "mode",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "min_notice_minutes",
        "max_days_ahead",
        "cancellation_window_hours",
        "is_active",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("This field may not be null")
        return value


class ServiceRemoved(ApiModel):
    id: int
    outcome: Literal["deleted", "deactivated"] = Field(
        description=(
            "`deleted` when the service was never booked; `deactivated` when bookings refer "
            "to it (kept for their history, no longer bookable)"
        )
    )
    service: ServiceOut | None = Field(description="The deactivated service; null when deleted")


class TrainerClassesPage(Page[ClassSummary]):
    """``/trainers/{id}/classes``: a page of on-demand classes, and the trainer's next group
    classes (live, with seats) beside it."""

    upcoming_group_classes: list[LiveClassOut] = Field(
        description="The trainer's next scheduled or live group classes, soonest first (at most "
        "10), with capacity and spotsLeft; empty when live classes are off for the app"
    )
