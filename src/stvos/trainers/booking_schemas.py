"""Wire models of availability and 1-on-1 bookings (``/trainers/{id}/availability``,
``/trainers/{id}/book``, ``/bookings/*``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, Field, TypeAdapter, field_validator, model_validator

from stvos.kit.schemas import ApiModel, Envelope, RequestModel

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


class _AvailabilityHead(ApiModel):
    trainer_id: int
    service_id: int
    duration_minutes: int
    time_zone: str = Field(description="The trainer's IANA zone (their weekly hours are in it)")
    viewer_time_zone: str = Field(description="The zone dates in from/to were read in")
    from_: datetime = Field(alias="from", description="Start of the window searched (UTC)")
    to: datetime = Field(description="End of the window searched (UTC, exclusive)")


class AvailabilityOut(_AvailabilityHead):
    slots: list[SlotOut]


# --- availability on the wire: hundreds of slots without a model each -----------------------


# A SlotOut as sent: {"slotId": int, "start": str, "end": str}, its instants already ISO-8601
# text. Plain dicts: Pydantic writes them in its core without a schema per key.
SlotWire = dict[str, Any]


class AvailabilityWire(_AvailabilityHead):
    """:class:`AvailabilityOut` (the documented answer) with its slots in their wire form.

    A 30-day answer has ~750 slots: two datetimes, a dict and a validated model for each,
    then the envelope validated and serialised, cost ~1.7 ms of CPU (of a 7.7 ms request);
    precomputed text in plain dicts costs ~0.4 ms. The head is the documented model's own; a
    test pins the bytes to ``Envelope[AvailabilityOut]``'s."""

    slots: list[SlotWire]


_AVAILABILITY_JSON = TypeAdapter(Envelope[AvailabilityWire])
_EPOCH_DAY = date(1970, 1, 1)
_DAY_MINUTES = 1440
# "THH:MM:00Z" for every minute of a day: how Pydantic writes a whole-minute UTC datetime.
_CLOCK = [f"T{hour:02d}:{minute:02d}:00Z" for hour in range(24) for minute in range(60)]


def _day_text(day: int) -> str:
    return (_EPOCH_DAY + timedelta(days=day)).isoformat()


def slot_wire(slot_ids: Iterable[int], duration_minutes: int) -> list[SlotWire]:
    """Slots by id (minutes since the epoch, UTC; soonest first) as the wire has them, byte for
    byte what :class:`SlotOut` serialises to: a day's date is written when the day changes, a
    time of day looked up."""
    slots: list[SlotWire] = []
    day: int | None = None
    end_day: int | None = None
    day_text = end_day_text = ""
    for slot_id in slot_ids:
        start_day, minute = divmod(slot_id, _DAY_MINUTES)
        if start_day != day:
            day, day_text = start_day, _day_text(start_day)
        finish_day, end_minute = divmod(slot_id + duration_minutes, _DAY_MINUTES)
        if finish_day != end_day:
            end_day, end_day_text = finish_day, _day_text(finish_day)
        slots.append(
            {
                "slotId": slot_id,
                "start": day_text + _CLOCK[minute],
                "end": end_day_text + _CLOCK[end_minute],
            }
        )
    return slots


def availability_json(answer: Mapping[str, Any]) -> bytes:
    """The ``Envelope[AvailabilityOut]`` JSON of a service answer whose slots are ``slot_ids``
    (see :func:`stvos.trainers.availability.bookable_slots`)."""
    head = {name: answer[name] for name in _AvailabilityHead.model_fields}
    data = AvailabilityWire.model_construct(
        **head, slots=slot_wire(answer["slot_ids"], answer["duration_minutes"])
    )
    envelope = Envelope[AvailabilityWire].model_construct(data=data)
    return _AVAILABILITY_JSON.dump_json(envelope, by_alias=True)


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
