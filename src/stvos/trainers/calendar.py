"""The availability engine: a trainer's bookable slots for one service over a window of time.

Slots are computed, never stored. :func:`available_slots` reads what it needs in four
statements whatever the window's length (weekly rules, the overrides of the window's days, the
time off and the confirmed bookings overlapping it), then works in memory:

1. Each local day of the window takes its hours from its override if it has one (an empty
   override blocks the day), else from the weekly rules of its weekday.
2. Each window of local wall time becomes a UTC interval in the trainer's IANA zone
   (:func:`local_edge`). Daylight saving: an edge in the spring-forward gap moves to the
   transition itself; in the autumn's repeated hour a start takes its first occurrence and an
   end its second, so the hour is bookable in both occurrences (distinct UTC starts, distinct
   slot ids). Overlapping windows are merged.
3. Candidate starts are the quarter hours inside each window whose service fits wholly in it.
   Every zone's offset is a whole number of quarter hours, so a UTC quarter hour is a local one.
4. A candidate stays when ``[start - buffer_before, end + buffer_after)`` touches no other
   confirmed booking's ``[blocked_from, blocked_until)`` and no time off, it starts no earlier
   than ``now + min_notice`` and before ``now + max_days_ahead`` days.

A ``slotId`` is the start's minutes since the Unix epoch: stable, so a client books what it
listed, and booking re-validates it with :func:`is_bookable`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.zones import zone_named
from stvos.models import (
    AvailabilityOverride,
    AvailabilityRule,
    Booking,
    BookingStatus,
    Client,
    TimeOff,
    Trainer,
    TrainerService,
)

STEP = timedelta(minutes=15)
MAX_WINDOW = timedelta(days=62)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# slotIds this engine can mean: 2000-01-01 .. 2200-01-01 (keeps junk ids out of datetime math).
_MIN_SLOT_ID = int((datetime(2000, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds()) // 60
_MAX_SLOT_ID = int((datetime(2200, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds()) // 60

Interval = tuple[datetime, datetime]
LocalWindow = tuple[time, time | None]  # end None: the end of the day (24:00)


# --- slots ------------------------------------------------------------------------------------


def slot_id(start: datetime) -> int:
    """The stable id of a slot: whole minutes since the Unix epoch of its UTC start."""
    return int((start.astimezone(UTC) - _EPOCH).total_seconds()) // 60


def slot_start(slot_id: int) -> datetime:
    """The UTC start a slot id names; ValueError for ids no slot can have."""
    if not _MIN_SLOT_ID <= slot_id <= _MAX_SLOT_ID:
        raise ValueError("not a slot id")
    return _EPOCH + timedelta(minutes=slot_id)


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime

    @property
    def slot_id(self) -> int:
        return slot_id(self.start)


# --- zones ------------------------------------------------------------------------------------


class _HasZone(Protocol):
    @property
    def time_zone(self) -> str | None: ...


def trainer_zone(trainer: Trainer, client: _HasZone | None) -> ZoneInfo:
    """The zone of the trainer's weekly hours: their own, else their client's, else UTC."""
    return (
        zone_named(trainer.time_zone)
        or zone_named(client.time_zone if client is not None else None)
        or ZoneInfo("UTC")
    )


def local_edge(day: date, wall: time | None, zone: ZoneInfo, *, end: bool) -> datetime:
    """The UTC instant of local ``wall`` time on ``day`` (None: midnight after the day).

    An instant in the spring-forward gap does not exist: it becomes the transition instant.
    A repeated (autumn) wall time is read as its first occurrence for a window's start and its
    second for an end, so a window covers both occurrences of the repeated hour.
    """
    if wall is None:
        day, wall = day + timedelta(days=1), time(0)
        end = False  # midnight is where the next day starts: its first occurrence
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return first
    if first.astimezone(zone).replace(tzinfo=None) == naive:  # repeated: a real, twice-read time
        return max(first, second) if end else min(first, second)
    # A gap: fold=1 reads it with the offset after the change (an instant before it), fold=0
    # with the offset before (an instant after it). Narrow down to the change, to the second.
    before_offset = (second - timedelta(seconds=1)).astimezone(zone).utcoffset()
    low, high = second, first
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before_offset:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


# --- pure computation ---------------------------------------------------------------------------


def _wall(text: str) -> time | None:
    """``HH:MM`` of an override window; ``24:00`` is the end of the day."""
    if text in ("24:00", "24:00:00"):
        return None
    return time.fromisoformat(text)


def _day_windows(
    day: date,
    rules: Mapping[int, Sequence[LocalWindow]],
    overrides: Mapping[date, Sequence[LocalWindow]],
) -> Sequence[LocalWindow]:
    if day in overrides:
        return overrides[day]
    return rules.get(day.weekday(), ())


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint union of half-open intervals (touching ones join)."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _ceil_step(moment: datetime) -> datetime:
    floor = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    return floor if floor == moment else floor + STEP


@dataclass(frozen=True, slots=True)
class Calendar:
    """What the database says about a trainer's time, ready for :func:`compute_slots`."""

    zone: ZoneInfo
    rules: Mapping[int, Sequence[LocalWindow]]  # weekday (0 = Monday) -> local windows
    overrides: Mapping[date, Sequence[LocalWindow]]  # local day -> windows; () blocks it
    busy: Sequence[Interval]  # time off and other bookings' blocked ranges, UTC


def open_windows(calendar: Calendar, start: datetime, end: datetime) -> list[Interval]:
    """The trainer's working hours overlapping ``[start, end)`` as merged UTC intervals."""
    zone = calendar.zone
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date() + timedelta(days=1)
    intervals: list[Interval] = []
    day = first_day
    while day <= last_day:
        for wall_start, wall_end in _day_windows(day, calendar.rules, calendar.overrides):
            if wall_end is not None and wall_end <= wall_start:
                continue  # an empty (or inverted) window: nothing open
            opens = local_edge(day, wall_start, zone, end=False)
            closes = local_edge(day, wall_end, zone, end=True)
            if opens < end and closes > start:
                intervals.append((opens, closes))
        day += timedelta(days=1)
    return _merge(intervals)


def compute_slots(
    calendar: Calendar,
    *,
    duration: timedelta,
    buffer_before: timedelta,
    buffer_after: timedelta,
    start: datetime,
    end: datetime,
    earliest: datetime,
    latest: datetime,
) -> list[Slot]:
    """Slots starting in ``[max(start, earliest), min(end, latest))``, soonest first."""
    low, high = max(start, earliest), min(end, latest)
    if low >= high or duration <= timedelta(0):
        return []
    busy = _merge(calendar.busy)
    busy_ends = [b[1] for b in busy]
    slots: list[Slot] = []
    for opens, closes in open_windows(calendar, low, high):
        candidate = _ceil_step(max(opens, low))
        while candidate < high and candidate + duration <= closes:
            finish = candidate + duration
            taken_from, taken_until = candidate - buffer_before, finish + buffer_after
            # The first busy range ending after taken_from is the only one that can overlap.
            index = bisect.bisect_right(busy_ends, taken_from)
            if index < len(busy) and busy[index][0] < taken_until:
                # Skip to the first quarter hour whose taken range clears this busy range.
                candidate = max(candidate + STEP, _ceil_step(busy[index][1] + buffer_before))
                continue
            slots.append(Slot(candidate, finish))
            candidate += STEP
    return slots


# --- reading the calendar -----------------------------------------------------------------------


def _rules_of(rows: Iterable[AvailabilityRule]) -> dict[int, list[LocalWindow]]:
    rules: dict[int, list[LocalWindow]] = {}
    for rule in rows:
        wall_end: time | None = None if rule.end_time == time(0) else rule.end_time
        rules.setdefault(rule.weekday, []).append((rule.start_time, wall_end))
    return rules


def _overrides_of(rows: Iterable[AvailabilityOverride]) -> dict[date, list[LocalWindow]]:
    overrides: dict[date, list[LocalWindow]] = {}
    for row in rows:
        windows: list[LocalWindow] = []
        for window in row.windows or []:
            try:
                opens = _wall(str(window["start"]))
                closes = _wall(str(window["end"]))
            except (KeyError, TypeError, ValueError):
                continue  # a malformed stored window opens nothing
            if opens is not None:
                windows.append((opens, closes))
        overrides[row.day] = windows
    return overrides


async def _client_zone_name(session: AsyncSession, client_id: int) -> str | None:
    name: str | None = await session.scalar(select(Client.time_zone).where(Client.id == client_id))
    return name


async def load_calendar(
    session: AsyncSession,
    trainer: Trainer,
    start: datetime,
    end: datetime,
    *,
    zone: ZoneInfo,
    ignore_booking_id: int | None = None,
) -> Calendar:
    """The rules, overrides, time off and bookings that matter for ``[start, end)``: four
    statements, whatever the window's length."""
    rules = await session.scalars(
        select(AvailabilityRule).where(AvailabilityRule.trainer_id == trainer.id)
    )
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date() + timedelta(days=1)
    overrides = await session.scalars(
        select(AvailabilityOverride).where(
            AvailabilityOverride.trainer_id == trainer.id,
            AvailabilityOverride.day >= first_day,
            AvailabilityOverride.day <= last_day,
        )
    )
    time_off = await session.execute(
        select(TimeOff.starts_at, TimeOff.ends_at).where(
            TimeOff.trainer_id == trainer.id, TimeOff.ends_at > start, TimeOff.starts_at < end
        )
    )
    booked = select(Booking.blocked_from, Booking.blocked_until).where(
        Booking.trainer_id == trainer.id,
        Booking.status == BookingStatus.CONFIRMED.value,
        Booking.blocked_until > start,
        Booking.blocked_from < end,
    )
    if ignore_booking_id is not None:
        booked = booked.where(Booking.id != ignore_booking_id)
    bookings = await session.execute(booked)
    busy: list[Interval] = [(row[0], row[1]) for row in time_off]
    busy.extend((row[0], row[1]) for row in bookings)
    return Calendar(
        zone=zone, rules=_rules_of(rules), overrides=_overrides_of(overrides), busy=busy
    )


async def available_slots(
    session: AsyncSession,
    trainer: Trainer,
    service: TrainerService,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    ignore_booking_id: int | None = None,
    zone: ZoneInfo | None = None,
) -> list[Slot]:
    """Bookable slots of ``service`` starting in ``[start, end)``, soonest first.

    ``zone``: the trainer's zone when the caller knows it (:func:`trainer_zone`); otherwise it
    is the trainer's own or read from their client (one more statement). ``ignore_booking_id``
    leaves that booking out of the busy time (rescheduling it). An inactive trainer or service,
    or a service of another trainer, has no slots.
    """
    if not (trainer.is_active and service.is_active and service.trainer_id == trainer.id):
        return []
    earliest = now + timedelta(minutes=max(service.min_notice_minutes, 0))
    latest = now + timedelta(days=max(service.max_days_ahead, 0))
    low, high = max(start, earliest), min(end, latest)
    if low >= high:
        return []
    if zone is None:
        zone = zone_named(trainer.time_zone)
        if zone is None:
            zone = zone_named(await _client_zone_name(session, trainer.client_id)) or ZoneInfo(
                "UTC"
            )
    duration = timedelta(minutes=service.duration_minutes)
    before = timedelta(minutes=max(service.buffer_before_minutes, 0))
    after = timedelta(minutes=max(service.buffer_after_minutes, 0))
    calendar = await load_calendar(
        session,
        trainer,
        low - before,
        high + duration + after,
        zone=zone,
        ignore_booking_id=ignore_booking_id,
    )
    return compute_slots(
        calendar,
        duration=duration,
        buffer_before=before,
        buffer_after=after,
        start=low,
        end=high,
        earliest=earliest,
        latest=latest,
    )


async def is_bookable(
    session: AsyncSession,
    trainer: Trainer,
    service: TrainerService,
    start: datetime,
    now: datetime,
    *,
    ignore_booking_id: int | None = None,
    zone: ZoneInfo | None = None,
) -> bool:
    """Whether ``start`` is, right now, one of the service's slots (the same rules as listing)."""
    start = start.astimezone(UTC)
    slots = await available_slots(
        session,
        trainer,
        service,
        start,
        start + timedelta(seconds=1),
        now,
        ignore_booking_id=ignore_booking_id,
        zone=zone,
    )
    return any(slot.start == start for slot in slots)
