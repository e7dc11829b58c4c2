"""Wire models of the trainer portal's calendar (/trainer/availability, /trainer/time-off),
its bookings and clients (/trainer/bookings, /trainer/clients), and video joins.

Local wall times are ``HH:MM`` (24-hour; an end may be ``24:00``, the end of the day) and are
always answered next to the IANA ``timeZone`` they are read in: the trainer's own zone, or the
studio's when the trainer has none. A window never crosses midnight (split it into two days).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from stvos.kit.schemas import ApiModel, RequestModel
from stvos.trainers.booking_schemas import BookingOut

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_WEEKLY_RULES = 28  # four windows a day on average; more is a data-entry accident
MAX_DAY_WINDOWS = 8
MAX_TIME_OFF = timedelta(days=366)
MIDNIGHT = time(0)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

BookingWhen = Literal["upcoming", "past", "all"]
BookingStatusFilter = Literal["confirmed", "cancelled", "completed", "no_show"]


def parse_hhmm(value: object, *, end: bool = False) -> time:
    """``HH:MM`` as a time; an ``end`` may be ``24:00`` (the end of the day), kept as 00:00."""
    if isinstance(value, str) and end and value.strip() == "24:00":
        return MIDNIGHT
    if not isinstance(value, str) or not _HHMM.match(value.strip()):
        limit = "24:00" if end else "23:59"
        raise ValueError(f"Use a 24-hour local time HH:MM, from 00:00 to {limit}")
    hours, minutes = value.strip().split(":")
    return time(int(hours), int(minutes))


def minutes_of(value: time, *, end: bool = False) -> int:
    """Minutes since local midnight; an end of 00:00 is the end of the day (1440)."""
    if end and value == MIDNIGHT:
        return 24 * 60
    return value.hour * 60 + value.minute


def hhmm(value: time, *, end: bool = False) -> str:
    if end and value == MIDNIGHT:
        return "24:00"
    return f"{value.hour:02d}:{value.minute:02d}"


def check_no_overlap(windows: list[tuple[time, time]], where: str) -> None:
    """Windows of one day (each start < end) must not overlap; touching is fine."""
    ordered = sorted((minutes_of(s), minutes_of(e, end=True), s, e) for s, e in windows)
    for previous, following in pairwise(ordered):
        if following[0] < previous[1]:
            raise ValueError(
                f"Windows on {where} overlap ({hhmm(following[2])} starts before "
                f"{hhmm(previous[3], end=True)})"
            )


class WindowIn(RequestModel):
    start: time = Field(description="Local start, HH:MM", json_schema_extra={"example": "09:00"})
    end: time = Field(
        description="Local end, HH:MM after start; 24:00 is the end of the day",
        json_schema_extra={"example": "12:30"},
    )

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: object) -> time:
        return parse_hhmm(value)

    @field_validator("end", mode="before")
    @classmethod
    def _end(cls, value: object) -> time:
        return parse_hhmm(value, end=True)

    @model_validator(mode="after")
    def _ordered(self) -> WindowIn:
        if minutes_of(self.start) >= minutes_of(self.end, end=True):
            raise ValueError("end must be after start (a window cannot cross midnight)")
        return self


class WindowOut(ApiModel):
    start: str = Field(description="Local start, HH:MM")
    end: str = Field(description="Local end, HH:MM")


# --- weekly rules -----------------------------------------------------------------------------


class WeeklyRuleIn(WindowIn):
    weekday: int = Field(
        description='0 = Monday ... 6 = Sunday, or the English day name ("monday")',
        json_schema_extra={"example": 0},
    )

    @field_validator("weekday", mode="before")
    @classmethod
    def _weekday(cls, value: object) -> int:
        if isinstance(value, str):
            name = value.strip().lower()
            if name in WEEKDAYS:
                return WEEKDAYS.index(name)
            if name.isdigit():
                value = int(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
            raise ValueError('Use 0 (Monday) to 6 (Sunday) or a day name such as "monday"')
        return value


class WeeklyRulesIn(RequestModel):
    """The whole week: it replaces every existing rule at once. An empty list clears the week."""

    rules: list[WeeklyRuleIn] = Field(max_length=MAX_WEEKLY_RULES)

    @field_validator("rules")
    @classmethod
    def _no_overlaps(cls, rules: list[WeeklyRuleIn]) -> list[WeeklyRuleIn]:
        for weekday, name in enumerate(WEEKDAYS):
            windows = [(r.start, r.end) for r in rules if r.weekday == weekday]
            check_no_overlap(windows, name.capitalize())
        return rules


class WeeklyRuleOut(ApiModel):
    weekday: int = Field(description="0 = Monday ... 6 = Sunday")
    day: str = Field(description="The weekday's English name")
    start: str
    end: str


class WeeklyRulesOut(ApiModel):
    time_zone: str = Field(description="The IANA zone the local times are in")
    rules: list[WeeklyRuleOut]


# --- date overrides ---------------------------------------------------------------------------


class OverrideBody(RequestModel):
    windows: list[WindowIn] = Field(
        max_length=MAX_DAY_WINDOWS, description="That day's hours; an empty list blocks the day"
    )
    note: str | None = Field(default=None, max_length=200)

    @field_validator("windows")
    @classmethod
    def _no_overlaps(cls, windows: list[WindowIn]) -> list[WindowIn]:
        check_no_overlap([(w.start, w.end) for w in windows], "this day")
        return windows


class OverrideIn(OverrideBody):
    day: date = Field(description="The local date, YYYY-MM-DD")


class OverrideOut(ApiModel):
    day: date
    windows: list[WindowOut]
    blocked: bool = Field(description="True when the day has no hours at all")
    note: str | None
    time_zone: str


# --- time off ---------------------------------------------------------------------------------


class TimeOffIn(RequestModel):
    starts_at: AwareDatetime = Field(description="ISO-8601 instant with a zone, e.g. ...Z")
    ends_at: AwareDatetime
    reason: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _range(self) -> TimeOffIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("endsAt must be after startsAt")
        if self.ends_at - self.starts_at > MAX_TIME_OFF:
            raise ValueError("Time off can be at most one year long; add several ranges")
        return self


class TimeOffOut(ApiModel):
    id: int
    starts_at: datetime
    ends_at: datetime
    reason: str | None
    overlapping_booking_ids: list[int] = Field(
        default_factory=list,
        description=(
            "Confirmed bookings inside this range (answered on creation): time off does not "
            "cancel them; cancel them with POST /trainer/bookings/{id}/cancel if needed"
        ),
    )


# --- bookings, clients ------------------------------------------------------------------------


class CancelIn(RequestModel):
    reason: str | None = Field(default=None, max_length=500)


class MemberBrief(ApiModel):
    id: int
    name: str | None
    email: str


class TrainerBookingOut(BookingOut):
    """A booking as the trainer sees it: the shared booking shape plus who booked."""

    member: MemberBrief | None = Field(description="The member who booked")


class ClientOut(ApiModel):
    """A member who has booked this trainer (``client`` in the coaching sense)."""

    id: int
    name: str | None
    email: str
    bookings_count: int = Field(description="Bookings with this trainer that were not cancelled")
    last_session_at: datetime | None = Field(
        description="Start of the latest session already begun (not cancelled)"
    )
    next_session_at: datetime | None = Field(description="Start of the next confirmed session")


class JoinOut(ApiModel):
    token: str = Field(description="LiveKit access token (JWT) for this room")
    url: str = Field(description="The LiveKit server to connect to (ws:// or wss://)")
    room: str
    identity: str = Field(description="The participant identity inside the room")
    expires_at: datetime = Field(
        description="Connect before this; a connected participant is not removed at expiry"
    )
    role: Literal["member", "trainer"]
