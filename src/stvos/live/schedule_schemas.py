"""Wire models of the live class schedule (``/manage/live-classes``, ``/trainer/live-classes``).

A class is scheduled either once (``startsAt``, an ISO-8601 instant) or as a weekly ``series``
(weekdays at one local ``HH:MM`` wall time in the trainer's IANA zone, from ``startsOn`` to
``until``), which is expanded into dated classes at once.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from stvos.kit.schemas import ApiModel, RequestModel
from stvos.trainers.portal_schemas import WEEKDAYS, parse_hhmm

_MAX_ID = 2**63 - 1

Intensity = Literal["low", "medium", "high"]
LiveStatusName = Literal["scheduled", "live", "ended", "cancelled"]


def _instant_text(value: Any) -> Any:
    """Instants are ISO-8601 strings, never bare numbers of seconds."""
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("must be an ISO-8601 instant such as 2026-01-05T09:00:00Z")
    return value


def weekday_number(value: object) -> int:
    """0 (Monday) .. 6 (Sunday), or an English day name."""
    if isinstance(value, str):
        name = value.strip().lower()
        if name in WEEKDAYS:
            return WEEKDAYS.index(name)
        if name.isdigit():
            value = int(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
        raise ValueError('Use 0 (Monday) to 6 (Sunday) or a day name such as "monday"')
    return value


class SeriesIn(RequestModel):
    """Every chosen weekday from ``startsOn`` to ``until`` (inclusive), at ``localTime`` in the
    trainer's time zone. A wall time that does not exist on a spring-forward day is read with
    the offset before the change (RFC 5545), so it lands just after the gap; a repeated
    (autumn) wall time is its first occurrence."""

    weekdays: list[int] = Field(
        min_length=1,
        max_length=7,
        description='0 = Monday ... 6 = Sunday, or day names ("monday")',
        json_schema_extra={"example": [0, 2, 4]},
    )
    local_time: time = Field(
        description="Local start, HH:MM", json_schema_extra={"example": "07:00"}
    )
    starts_on: date = Field(description="First day (YYYY-MM-DD), in the trainer's zone")
    until: date = Field(description="Last day (inclusive), at most 6 months ahead")

    @field_validator("weekdays", mode="before")
    @classmethod
    def _weekdays(cls, value: object) -> object:
        if isinstance(value, list):
            return [weekday_number(item) for item in value]
        return value

    @field_validator("weekdays")
    @classmethod
    def _unique(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("a weekday is listed twice")
        return sorted(value)

    @field_validator("local_time", mode="before")
    @classmethod
    def _local_time(cls, value: object) -> time:
        return parse_hhmm(value)

    @model_validator(mode="after")
    def _ordered(self) -> SeriesIn:
        if self.until < self.starts_on:
            raise ValueError("until must not be before startsOn")
        return self


class ClassFields(RequestModel):
    title: str = Field(min_length=1, max_length=160)
    description: str | None = Field(default=None, max_length=5000)
    category_id: int | None = Field(default=None, ge=1, le=_MAX_ID)
    starts_at: AwareDatetime | None = Field(
        default=None, description="A one-off class's start (ISO-8601 instant, in the future)"
    )
    duration_minutes: int = Field(ge=10, le=240)
    capacity: int = Field(ge=1, le=1000, description="Seats; registrations beyond it queue")
    intensity: Intensity | None = None
    is_premium: bool = False
    series: SeriesIn | None = Field(default=None, description="Instead of startsAt: weekly")

    _instant = field_validator("starts_at", mode="before")(_instant_text)

    @model_validator(mode="after")
    def _one_or_series(self) -> ClassFields:
        if (self.starts_at is None) == (self.series is None):
            raise ValueError("give exactly one of startsAt (one class) or series (weekly)")
        return self


class TrainerLiveClassIn(ClassFields):
    """A trainer schedules their own classes."""


class ManageLiveClassIn(ClassFields):
    """Studio staff schedule a class for one of the studio's trainers."""

    trainer_id: int = Field(ge=1, le=_MAX_ID)


_NOT_NULL = ("title", "starts_at", "duration_minutes", "capacity", "is_premium")


class LiveClassPatch(RequestModel):
    """Partial: only the fields sent change (``description``, ``categoryId`` and ``intensity``
    may be null to clear them). Only a scheduled class can be changed."""

    title: str | None = Field(default=None, min_length=1, max_length=160)
    description: str | None = Field(default=None, max_length=5000)
    category_id: int | None = Field(default=None, ge=1, le=_MAX_ID)
    starts_at: AwareDatetime | None = None
    duration_minutes: int | None = Field(default=None, ge=10, le=240)
    capacity: int | None = Field(default=None, ge=1, le=1000)
    intensity: Intensity | None = None
    is_premium: bool | None = None

    _instant = field_validator("starts_at", mode="before")(_instant_text)

    @model_validator(mode="after")
    def _sensible(self) -> LiveClassPatch:
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        for name in _NOT_NULL:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class CancelIn(RequestModel):
    reason: str = Field(min_length=1, max_length=500, description="Told to the members")


# --- answers ----------------------------------------------------------------------------------


class TrainerBrief(ApiModel):
    id: int
    name: str
    image_url: str | None = None


class CategoryBrief(ApiModel):
    id: int
    name: str


class LiveClassOut(ApiModel):
    id: int
    series_id: int | None
    title: str
    description: str | None
    trainer: TrainerBrief
    category: CategoryBrief | None
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    time_zone: str = Field(description="The trainer's IANA zone")
    local_start: str = Field(description="Start in the trainer's zone, YYYY-MM-DDTHH:MM")
    capacity: int
    registered_count: int
    spots_left: int
    waitlist_count: int
    intensity: str | None
    is_premium: bool
    status: LiveStatusName
    started_at: datetime | None
    ended_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime


class CancelledOut(LiveClassOut):
    notified: int = Field(description="Members (registered or waiting) mailed about it")


class SeriesOut(ApiModel):
    id: int
    weekdays: list[int]
    days: list[str]
    local_time: str
    time_zone: str
    starts_on: date
    until: date


class ScheduledOut(ApiModel):
    """What was scheduled: one class, or every dated class of a new series."""

    series: SeriesOut | None
    classes: list[LiveClassOut]


class DeletedOut(ApiModel):
    id: int
    deleted: bool = True
