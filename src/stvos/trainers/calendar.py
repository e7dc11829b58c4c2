"""The availability engine: a trainer's bookable slots for one service over a window of time.

Slots are computed, never stored. :func:`bookable_slot_ids` reads what it needs in one
statement whatever the window's length (a ``UNION ALL`` of the weekly rules, the overrides of
the window's days, the time off and the confirmed bookings overlapping it), then works in
memory:

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

Steps 3 and 4 work in integer microseconds since the epoch, not datetimes: a busy range rules
out one open interval of starts, those intervals are sorted like the busy ranges, so the free
starts of a window are whole runs of quarter hours between them (``range`` s), and a 30-day
answer costs a few operations per window and busy range rather than several per candidate.

A ``slotId`` is the start's minutes since the Unix epoch: stable, so a client books what it
listed, and booking re-validates it with :func:`is_bookable`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

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
_US = timedelta(microseconds=1)
_MINUTE_US = 60_000_000
_STEP_US = STEP // _US
_STEP_MINUTES = STEP // timedelta(minutes=1)

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


def _micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch (exact: a datetime's own resolution)."""
    return (moment - _EPOCH) // _US


def _ceil_step(micros: int) -> int:
    """The first quarter hour (UTC) at or after ``micros``."""
    return -(-micros // _STEP_US) * _STEP_US


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


def trainer_zone(trainer: _HasZone, client: _HasZone | None) -> ZoneInfo:
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


def slot_ids(
    calendar: Calendar,
    *,
    duration: timedelta,
    buffer_before: timedelta,
    buffer_after: timedelta,
    start: datetime,
    end: datetime,
    earliest: datetime,
    latest: datetime,
) -> list[int]:
    """Ids of the slots starting in ``[max(start, earliest), min(end, latest))``, soonest first.

    A quarter hour ``c`` is ruled out by a busy range ``[b0, b1)`` exactly when ``c - before <
    b1`` and ``b0 < c + duration + after``: when it lies strictly between ``b0 - duration -
    after`` and ``b1 + before``. The merged busy ranges are disjoint and sorted, so both ends
    of those open intervals grow; each window's free starts are the runs of quarter hours
    before, between and after the intervals that reach into it.
    """
    low, high = max(start, earliest), min(end, latest)
    if low >= high or duration <= timedelta(0):
        return []
    length = duration // _US
    before, after = buffer_before // _US, buffer_after // _US
    # (last free start before the range, first free start after it), in microseconds; an
    # empty open interval (only with negative buffers, which callers clamp) rules out nothing
    blocked = [
        (free_until, free_from)
        for free_until, free_from in (
            (_micros(busy_from) - length - after, _micros(busy_until) + before)
            for busy_from, busy_until in _merge(calendar.busy)
        )
        if free_until < free_from
    ]
    low_us, high_us = _micros(low), _micros(high)
    ids: list[int] = []
    passed = 0  # blocked intervals before this one end before every later candidate
    for opens, closes in open_windows(calendar, low, high):
        candidate = _ceil_step(max(_micros(opens), low_us))
        last = min(high_us - 1, _micros(closes) - length)  # starts before high, ends in time
        while passed < len(blocked) and blocked[passed][1] <= candidate:
            passed += 1
        index = passed
        while candidate <= last and index < len(blocked):
            free_until, free_from = blocked[index]
            if free_from > candidate:
                if free_until >= candidate:
                    stop = min(free_until, last) // _MINUTE_US + 1
                    ids.extend(range(candidate // _MINUTE_US, stop, _STEP_MINUTES))
                candidate = max(candidate, _ceil_step(free_from))
            index += 1
        if candidate <= last:
            ids.extend(range(candidate // _MINUTE_US, last // _MINUTE_US + 1, _STEP_MINUTES))
    return ids


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
    ids = slot_ids(
        calendar,
        duration=duration,
        buffer_before=buffer_before,
        buffer_after=buffer_after,
        start=start,
        end=end,
        earliest=earliest,
        latest=latest,
    )
    starts = [_EPOCH + timedelta(minutes=i) for i in ids]
    return [Slot(begins, begins + duration) for begins in starts]


# --- reading the calendar -----------------------------------------------------------------------

_RULE, _OVERRIDE, _BUSY = 0, 1, 2
# The columns of the calendar statement. Each part of its UNION ALL fills its own columns and
# leaves the others NULL, cast to the column's type: PostgreSQL types each column of a UNION
# once, and the first part's types are the ones SQLAlchemy reads every row's values with.
_CALENDAR_COLUMNS: dict[str, QueryableAttribute[Any]] = {
    "weekday": AvailabilityRule.weekday,
    "opens": AvailabilityRule.start_time,
    "closes": AvailabilityRule.end_time,
    "day": AvailabilityOverride.day,
    "windows": AvailabilityOverride.windows,
    "busy_from": TimeOff.starts_at,
    "busy_until": TimeOff.ends_at,
}
_CalendarModel = type[AvailabilityRule] | type[AvailabilityOverride] | type[TimeOff] | type[Booking]


def _part(
    kind: int,
    model: _CalendarModel,
    *conditions: ColumnElement[bool],
    **given: QueryableAttribute[Any],
) -> Select[*tuple[Any, ...]]:
    """One part of the calendar statement: ``model`` 's rows of the client and trainer."""
    columns: list[ColumnElement[Any]] = [literal_column(str(kind), Integer).label("kind")]
    for name, column in _CALENDAR_COLUMNS.items():
        value = given.get(name)
        columns.append((cast(null(), column.type) if value is None else value).label(name))
    return select(*columns).where(
        model.client_id == bindparam("client_id"),
        model.trainer_id == bindparam("trainer_id"),
        *conditions,
    )


def _calendar_statement(*, ignoring_a_booking: bool) -> CompoundSelect[*tuple[Any, ...]]:
    """Everything that shapes a trainer's time in ``[:start, :end)``, tagged by ``kind``: the
    weekly rules, the overrides of the days ``:first_day .. :last_day``, the time off and the
    confirmed bookings overlapping the window (but ``:ignore_booking_id``, when
    ``ignoring_a_booking``), each part explicitly of ``:client_id`` and ``:trainer_id``.

    Built once (building it cost more than running it) and run as Core on the session's
    connection, beside the ORM's tenant filter rather than through it, like the heartbeat's
    statements: the filter and the ORM's execution cost ~0.3 ms of CPU per statement, twice
    the statement's own. Every part names its client by construction (:func:`_part`), and
    row-level security still applies on PostgreSQL.
    """
    start: BindParameter[datetime] = bindparam("start")
    end: BindParameter[datetime] = bindparam("end")
    rules = _part(
        _RULE,
        AvailabilityRule,
        weekday=AvailabilityRule.weekday,
        opens=AvailabilityRule.start_time,
        closes=AvailabilityRule.end_time,
    )
    overrides = _part(
        _OVERRIDE,
        AvailabilityOverride,
        AvailabilityOverride.day >= bindparam("first_day"),
        AvailabilityOverride.day <= bindparam("last_day"),
        day=AvailabilityOverride.day,
        windows=AvailabilityOverride.windows,
    )
    time_off = _part(
        _BUSY,
        TimeOff,
        TimeOff.ends_at > start,
        TimeOff.starts_at < end,
        busy_from=TimeOff.starts_at,
        busy_until=TimeOff.ends_at,
    )
    booked = _part(
        _BUSY,
        Booking,
        Booking.status == BookingStatus.CONFIRMED.value,
        Booking.blocked_until > start,
        Booking.blocked_from < end,
        busy_from=Booking.blocked_from,
        busy_until=Booking.blocked_until,
    )
    if ignoring_a_booking:
        booked = booked.where(Booking.id != bindparam("ignore_booking_id"))
    # The rules part comes first: its columns carry the types every row is read with.
    return union_all(rules, overrides, time_off, booked)


_CALENDAR = _calendar_statement(ignoring_a_booking=False)
_CALENDAR_IGNORING_A_BOOKING = _calendar_statement(ignoring_a_booking=True)


def _override_windows(stored: Any) -> list[LocalWindow]:
    windows: list[LocalWindow] = []
    for window in stored or []:
        try:
            opens = _wall(str(window["start"]))
            closes = _wall(str(window["end"]))
        except (KeyError, TypeError, ValueError):
            continue  # a malformed stored window opens nothing
        if opens is not None:
            windows.append((opens, closes))
    return windows


async def _client_zone_name(session: AsyncSession, client_id: int) -> str | None:
    name: str | None = await session.scalar(select(Client.time_zone).where(Client.id == client_id))
    return name


async def load_calendar(
    session: AsyncSession,
    client_id: int,
    trainer_id: int,
    start: datetime,
    end: datetime,
    *,
    zone: ZoneInfo,
    ignore_booking_id: int | None = None,
) -> Calendar:
    """The rules, overrides, time off and bookings of the trainer that matter for ``[start,
    end)``: one statement, whatever the window's length.

    It runs on the session's connection, which does not flush the session first as its own
    queries do: changes still pending in the session are flushed here.
    """
    if session.new or session.dirty or session.deleted:
        await session.flush()
    params: dict[str, Any] = {
        "client_id": client_id,
        "trainer_id": trainer_id,
        "start": start,
        "end": end,
        "first_day": start.astimezone(zone).date() - timedelta(days=1),
        "last_day": end.astimezone(zone).date() + timedelta(days=1),
    }
    statement = _CALENDAR
    if ignore_booking_id is not None:
        statement = _CALENDAR_IGNORING_A_BOOKING
        params["ignore_booking_id"] = ignore_booking_id
    rules: dict[int, list[LocalWindow]] = {}
    overrides: dict[date, list[LocalWindow]] = {}
    busy: list[Interval] = []
    connection = await session.connection()
    rows = await connection.execute(statement, params)
    for kind, weekday, opens, closes, day, windows, busy_from, busy_until in rows:
        if kind == _BUSY:
            busy.append((busy_from, busy_until))
        elif kind == _RULE:
            rules.setdefault(weekday, []).append((opens, None if closes == time(0) else closes))
        else:
            overrides[day] = _override_windows(windows)
    return Calendar(zone=zone, rules=rules, overrides=overrides, busy=busy)


class ServiceTerms(Protocol):
    """What the engine applies of a service: a :class:`TrainerService`, or a row of its
    columns."""

    @property
    def duration_minutes(self) -> int: ...
    @property
    def buffer_before_minutes(self) -> int: ...
    @property
    def buffer_after_minutes(self) -> int: ...
    @property
    def min_notice_minutes(self) -> int: ...
    @property
    def max_days_ahead(self) -> int: ...


async def bookable_slot_ids(
    session: AsyncSession,
    *,
    client_id: int,
    trainer_id: int,
    terms: ServiceTerms,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    now: datetime,
    ignore_booking_id: int | None = None,
) -> list[int]:
    """Ids of the slots starting in ``[start, end)`` of a service with ``terms`` (each lasts its
    ``duration_minutes``), soonest first: the engine itself, for a caller that has checked the
    trainer and the service are active and belong together, and knows the trainer's ``zone``.

    ``ignore_booking_id`` leaves that booking out of the busy time (rescheduling it).
    """
    earliest = now + timedelta(minutes=max(terms.min_notice_minutes, 0))
    latest = now + timedelta(days=max(terms.max_days_ahead, 0))
    low, high = max(start, earliest), min(end, latest)
    if low >= high:
        return []
    duration = timedelta(minutes=terms.duration_minutes)
    before = timedelta(minutes=max(terms.buffer_before_minutes, 0))
    after = timedelta(minutes=max(terms.buffer_after_minutes, 0))
    calendar = await load_calendar(
        session,
        client_id,
        trainer_id,
        low - before,
        high + duration + after,
        zone=zone,
        ignore_booking_id=ignore_booking_id,
    )
    return slot_ids(
        calendar,
        duration=duration,
        buffer_before=before,
        buffer_after=after,
        start=low,
        end=high,
        earliest=earliest,
        latest=latest,
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
    if zone is None:
        zone = zone_named(trainer.time_zone)
        if zone is None:
            zone = zone_named(await _client_zone_name(session, trainer.client_id)) or ZoneInfo(
                "UTC"
            )
    ids = await bookable_slot_ids(
        session,
        client_id=trainer.client_id,
        trainer_id=trainer.id,
        terms=service,
        zone=zone,
        start=start,
        end=end,
        now=now,
        ignore_booking_id=ignore_booking_id,
    )
    duration = timedelta(minutes=service.duration_minutes)
    starts = [_EPOCH + timedelta(minutes=i) for i in ids]
    return [Slot(begins, begins + duration) for begins in starts]


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
