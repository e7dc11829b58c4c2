"""Wire models of availability and 1-on-1 bookings (``/trainers/{id}/availability``,
``/trainers/{id}/book``, ``/bookings/*``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from stvos.kit.schemas import ApiModel, RequestModel

_MAX_ID = 2**63 - 1

BookingWhen = Literal["upcoming", "past"]
BookingStatusName = Literal["confirmed", "cancelled", "completed", "no_show"]


def _instant_text(value: Any) -> Any:
    """``startTime`` is an ISO-8601 instant string, never a bare number of seconds."""
    if value is not None and not isinstance(value, str):
        raise ValueError("must be an ISO-8601 instant such as 2026-01-05T09:00:00Z")
    return value


class _SlotChoice(RequestModel):
    """Exactly one of ``slotId`` (from the availability answer) or ``startTime``."""

    slot_id: int | None = Field(
        default=None, ge=1, le=_MAX_ID, description="A slotId from the availability answer"
    )
    start_time: AwareDatetime | None = Field(
        default=None, description="The slot's start as an ISO-8601 instant (instead of slotId)"
    )

    _instant = field_validator("start_time", mode="before")(_instant_text)

    @model_validator(mode="after")
    def _exactly_one(self) -> _SlotChoice:
        if (self.slot_id is None) == (self.start_time is None):
            raise ValueError("give exactly one of slotId or startTime")
        return self


class BookIn(_SlotChoice):
    service_id: int = Field(ge=1, le=_MAX_ID)
    notes: str | None = Field(default=None, max_length=2000)


class RescheduleIn(_SlotChoice):
    pass


class CancelIn(RequestModel):
    reason: str | None = Field(default=None, max_length=500)


class SlotOut(ApiModel):
    slot_id: int = Field(description="Stable id of this start time; book it with slotId")
    start: datetime
    end: datetime


class AvailabilityOut(ApiModel):
    trainer_id: int
    service_id: int
    duration_minutes: int
    time_zone: str = Field(description="The trainer's IANA zone (their weekly hours are in it)")
    viewer_time_zone: str = Field(description="The zone dates in from/to were read in")
    from_: datetime = Field(alias="from", description="Start of the window searched (UTC)")
    to: datetime = Field(description="End of the window searched (UTC, exclusive)")
    slots: list[SlotOut]


class TrainerRef(ApiModel):
    id: int
    name: str | None
    image_url: str | None


class BookingOut(ApiModel):
    id: int
    trainer_id: int
    user_id: int
    service_id: int
    status: str
    scheduled_date: datetime = Field(description="The session's start (UTC), as published")
    start_time: datetime
    end_time: datetime
    duration_minutes: int
    time_zone: str | None = Field(description="The trainer's IANA zone")
    mode: str
    price: str = Field(description='Decimal string, e.g. "45.00"')
    currency: str
    notes: str | None
    service_name: str
    trainer: TrainerRef
    room: str | None = Field(description="The video room of a video session")
    cancellation_window_hours: int
    cancellation_deadline: datetime = Field(
        description="Cancelling after this is recorded as a late cancellation"
    )
    can_cancel_freely: bool
    late_cancellation: bool
    cancelled_at: datetime | None
    cancelled_by: str | None
    cancel_reason: str | None
    completed_at: datetime | None
    rescheduled_from_id: int | None
    created_at: datetime
