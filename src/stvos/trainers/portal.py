"""The trainer portal's calendar and bookings, and joining a booking's video room.

Everything here acts for **the caller's trainer profile**: the :class:`Trainer` whose
``user_id`` is the signed-in ``trainer`` user. A trainer login without a profile is refused with
``403 FORBIDDEN`` (the studio has to link one); another trainer's rules, overrides, time off and
bookings are invisible (``404``), and other clients' rows are never reached (tenant filter).

Writes to a trainer's calendar lock the trainer row first (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite's write transactions are serial anyway). That is the same lock bookings take,
so replacing the week, upserting an override or adding time off is serialised with bookings of
that trainer and with each other: two concurrent "replace the week" requests cannot interleave
into a mix of both weeks.

State changes of a booking are conditional updates (``... WHERE status = 'confirmed'``), so a
trainer marking a session completed cannot race a member cancelling it into an impossible state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.integrations.livekit import LiveKitRooms, RoomToken
from stvos.integrations.mail import Mailer
from stvos.kit.clock import utcnow
from stvos.kit.errors import Conflict, ValidationFailed
from stvos.kit.policy import ClientContext
from stvos.kit.schemas import PageParams
from stvos.models import (
    AvailabilityOverride,
    AvailabilityRule,
    Booking,
    BookingStatus,
    ServiceMode,
    TimeOff,
    Trainer,
    User,
)
from stvos.trainers import bookings
from stvos.trainers.calendar import trainer_zone
from stvos.trainers.errors import (
    BookingNotFound,
    BookingStateConflict,
    BookingWindowClosed,
    NotAVideoSession,
    NoTrainerProfile,
    OverrideNotFound,
    TimeOffNotFound,
)
from stvos.trainers.portal_schemas import (
    WEEKDAYS,
    BookingStatusFilter,
    BookingWhen,
    OverrideBody,
    TimeOffIn,
    WeeklyRuleIn,
    hhmm,
)

# A join token stays usable this long after the session's end (running over is common).
JOIN_TOKEN_MARGIN = timedelta(minutes=15)
# Overrides further ahead than this are data-entry mistakes (years typed wrong).
MAX_OVERRIDE_DAYS_AHEAD = 2 * 366


# --- the caller's trainer ---------------------------------------------------------------------


async def my_trainer(session: AsyncSession, user_id: int, *, lock: bool = False) -> Trainer:
    """The trainer profile of the signed-in trainer; ``lock`` serialises calendar writes."""
    query = select(Trainer).where(Trainer.user_id == user_id)
    if lock:
        query = query.with_for_update()
    trainer = await session.scalar(query)
    if trainer is None:
        raise NoTrainerProfile()
    return trainer


def zone_name(trainer: Trainer, client: ClientContext) -> str:
    """The IANA zone the trainer's wall times are in: their own, else the studio's (as the
    availability engine reads them)."""
    return trainer_zone(trainer, client).key


def local_today(zone: str, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(zone)).date()


# --- weekly rules -----------------------------------------------------------------------------


async def weekly_rules(session: AsyncSession, trainer: Trainer) -> list[AvailabilityRule]:
    rows = await session.scalars(
        select(AvailabilityRule)
        .where(AvailabilityRule.trainer_id == trainer.id)
        .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time, AvailabilityRule.id)
    )
    return list(rows)


async def replace_weekly_rules(
    session: AsyncSession, trainer: Trainer, rules: list[WeeklyRuleIn]
) -> list[AvailabilityRule]:
    """Replace the whole week in one transaction (the body was fully validated before this)."""
    await session.execute(
        delete(AvailabilityRule)
        .where(AvailabilityRule.trainer_id == trainer.id)
        .execution_options(synchronize_session=False)
    )
    session.add_all(
        AvailabilityRule(
            trainer_id=trainer.id, weekday=rule.weekday, start_time=rule.start, end_time=rule.end
        )
        for rule in rules
    )
    await session.flush()
    return await weekly_rules(session, trainer)


def rule_out(rule: AvailabilityRule) -> dict[str, Any]:
    return {
        "weekday": rule.weekday,
        "day": WEEKDAYS[rule.weekday],
        "start": hhmm(rule.start_time),
        "end": hhmm(rule.end_time, end=True),
    }


# --- date overrides ---------------------------------------------------------------------------


def override_out(override: AvailabilityOverride, zone: str) -> dict[str, Any]:
    windows = [{"start": w["start"], "end": w["end"]} for w in override.windows or []]
    return {
        "day": override.day,
        "windows": windows,
        "blocked": not windows,
        "note": override.note,
        "time_zone": zone,
    }


def _check_override_day(day: date, zone: str) -> None:
    today = local_today(zone)
    if day < today:
        raise ValidationFailed(
            "This day is already over in the trainer's time zone",
            details=[{"field": "day", "message": f"Use {today.isoformat()} or later"}],
        )
    if day > today + timedelta(days=MAX_OVERRIDE_DAYS_AHEAD):
        raise ValidationFailed(
            "This day is too far ahead",
            details=[{"field": "day", "message": "Use a day within the next two years"}],
        )


def _windows_json(body: OverrideBody) -> list[dict[str, str]]:
    ordered = sorted(body.windows, key=lambda w: w.start)
    return [{"start": hhmm(w.start), "end": hhmm(w.end, end=True)} for w in ordered]


async def list_overrides(
    session: AsyncSession,
    trainer: Trainer,
    zone: str,
    paging: PageParams,
    *,
    day_from: date | None,
    day_to: date | None,
) -> tuple[list[AvailabilityOverride], int]:
    """Overrides from ``day_from`` (default: today in the trainer's zone), by day."""
    conditions = [
        AvailabilityOverride.trainer_id == trainer.id,
        AvailabilityOverride.day >= (day_from or local_today(zone)),
    ]
    if day_to is not None:
        conditions.append(AvailabilityOverride.day <= day_to)
    query = select(AvailabilityOverride).where(*conditions)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(AvailabilityOverride.day).offset(paging.offset).limit(paging.limit)
    )
    return list(rows), total


async def _override(
    session: AsyncSession, trainer: Trainer, day: date
) -> AvailabilityOverride | None:
    found: AvailabilityOverride | None = await session.scalar(
        select(AvailabilityOverride).where(
            AvailabilityOverride.trainer_id == trainer.id, AvailabilityOverride.day == day
        )
    )
    return found


async def create_override(
    session: AsyncSession, trainer: Trainer, zone: str, day: date, body: OverrideBody
) -> AvailabilityOverride:
    """A new override; one already set for the day is ``409`` (PUT replaces it)."""
    _check_override_day(day, zone)
    if await _override(session, trainer, day) is not None:
        raise Conflict(
            f"{day.isoformat()} already has an override; "
            f"PUT /trainer/availability/overrides/{day.isoformat()} replaces it"
        )
    override = AvailabilityOverride(
        trainer_id=trainer.id, day=day, windows=_windows_json(body), note=body.note
    )
    try:
        async with session.begin_nested():
            session.add(override)
            await session.flush()
    except IntegrityError as exc:  # a concurrent create won (unique per trainer and day)
        raise Conflict(f"{day.isoformat()} already has an override") from exc
    return override


async def put_override(
    session: AsyncSession, trainer: Trainer, zone: str, day: date, body: OverrideBody
) -> tuple[AvailabilityOverride, bool]:
    """Create or replace the day's override; answers it and whether it was created."""
    _check_override_day(day, zone)
    override = await _override(session, trainer, day)
    created = override is None
    if override is None:
        override = AvailabilityOverride(trainer_id=trainer.id, day=day)
        session.add(override)
    override.windows = _windows_json(body)
    override.note = body.note
    await session.flush()
    return override, created


async def delete_override(
    session: AsyncSession, trainer: Trainer, day: date
) -> AvailabilityOverride:
    override = await _override(session, trainer, day)
    if override is None:
        raise OverrideNotFound()
    await session.delete(override)
    await session.flush()
    return override


# --- time off ---------------------------------------------------------------------------------


async def list_time_off(
    session: AsyncSession, trainer: Trainer, paging: PageParams, *, include_past: bool
) -> tuple[list[TimeOff], int]:
    """Time off not yet over (all of it with ``include_past``), earliest first."""
    conditions: list[ColumnElement[bool]] = [TimeOff.trainer_id == trainer.id]
    if not include_past:
        conditions.append(TimeOff.ends_at > utcnow())
    query = select(TimeOff).where(*conditions)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(TimeOff.starts_at, TimeOff.id).offset(paging.offset).limit(paging.limit)
    )
    return list(rows), total


async def add_time_off(
    session: AsyncSession, trainer: Trainer, body: TimeOffIn
) -> tuple[TimeOff, list[int]]:
    """Block a range; answers it and the confirmed bookings inside it (left untouched)."""
    if body.ends_at <= utcnow():
        raise ValidationFailed(
            "This time off is already over",
            details=[{"field": "endsAt", "message": "Must be in the future"}],
        )
    time_off = TimeOff(
        trainer_id=trainer.id,
        starts_at=body.starts_at.astimezone(UTC),
        ends_at=body.ends_at.astimezone(UTC),
        reason=body.reason,
    )
    session.add(time_off)
    await session.flush()
    overlapping = await session.scalars(
        select(Booking.id)
        .where(
            Booking.trainer_id == trainer.id,
            Booking.status == BookingStatus.CONFIRMED.value,
            Booking.starts_at < time_off.ends_at,
            Booking.ends_at > time_off.starts_at,
        )
        .order_by(Booking.starts_at)
    )
    return time_off, list(overlapping)


async def delete_time_off(session: AsyncSession, trainer: Trainer, time_off_id: int) -> TimeOff:
    time_off = await session.get(TimeOff, time_off_id)
    if time_off is None or time_off.trainer_id != trainer.id:
        raise TimeOffNotFound()
    await session.delete(time_off)
    await session.flush()
    return time_off


# --- bookings ---------------------------------------------------------------------------------


async def list_bookings(
    session: AsyncSession,
    trainer: Trainer,
    paging: PageParams,
    *,
    when: BookingWhen,
    status: BookingStatusFilter | None,
) -> tuple[list[tuple[Booking, User | None]], int]:
    """The trainer's bookings with who booked: upcoming (not yet ended) soonest first, past
    (ended) latest first, or all latest first."""
    now = utcnow()
    conditions: list[ColumnElement[bool]] = [Booking.trainer_id == trainer.id]
    if when == "upcoming":
        conditions.append(Booking.ends_at > now)
    elif when == "past":
        conditions.append(Booking.ends_at <= now)
    if status is not None:
        conditions.append(Booking.status == status)
    counted = select(func.count()).select_from(Booking).where(*conditions)
    total = await session.scalar(counted) or 0
    order = (
        (Booking.starts_at, Booking.id)
        if when == "upcoming"
        else (Booking.starts_at.desc(), Booking.id.desc())
    )
    rows = await session.execute(
        select(Booking, User)
        .outerjoin(User, User.id == Booking.user_id)
        .where(*conditions)
        .order_by(*order)
        .offset(paging.offset)
        .limit(paging.limit)
    )
    return [(booking, user) for booking, user in rows], total


async def get_booking(session: AsyncSession, trainer: Trainer, booking_id: int) -> Booking:
    booking = await session.get(Booking, booking_id)
    if booking is None or booking.trainer_id != trainer.id:
        raise BookingNotFound()
    return booking


async def booking_member(session: AsyncSession, booking: Booking) -> User | None:
    return await session.get(User, booking.user_id)


async def cancel_booking(
    session: AsyncSession,
    mailer: Mailer,
    trainer: Trainer,
    booking_id: int,
    reason: str | None,
    zone: ZoneInfo,
) -> Booking:
    """The trainer cancels (the caller holds the trainer's lock, as bookings take it): the
    booking engine records it, with the late flag inside the window, and mails both sides."""
    booking = await get_booking(session, trainer, booking_id)
    cancelled: Booking = await bookings.cancel(
        session, mailer, booking, by="trainer", reason=reason, now=utcnow(), zone=zone
    )
    return cancelled


async def close_booking(
    session: AsyncSession,
    trainer: Trainer,
    booking_id: int,
    outcome: Literal["completed", "no_show"],
) -> Booking:
    """Mark a confirmed session completed or a no-show, once it has started.

    Not yet started is ``409 BOOKING_WINDOW_CLOSED`` (try again later); anything but confirmed
    is ``409 INVALID_STATE_TRANSITION``. A session may end early, so its start (not its end) is
    what opens the window.
    """
    booking = await get_booking(session, trainer, booking_id)
    now = utcnow()
    if booking.status != BookingStatus.CONFIRMED.value:
        raise BookingStateConflict(
            f"Only a confirmed booking can be marked {outcome.replace('_', '-')}; "
            f"this one is {booking.status}"
        )
    if booking.starts_at > now:
        raise BookingWindowClosed(
            f"This session has not started yet; it can be marked {outcome.replace('_', '-')} "
            "once it has begun"
        )
    values: dict[str, Any] = {"status": outcome, "updated_at": now}
    if outcome == BookingStatus.COMPLETED.value:
        values["completed_at"] = now
    changed = await session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status == BookingStatus.CONFIRMED.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(booking)
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise BookingStateConflict(f"This booking is now {booking.status}")
    return booking


# --- clients ----------------------------------------------------------------------------------


async def list_clients(
    session: AsyncSession, trainer: Trainer, paging: PageParams, *, search: str | None
) -> tuple[list[dict[str, Any]], int]:
    """Members with at least one booking with this trainer, one aggregate query per page."""
    now = utcnow()
    live = Booking.status != BookingStatus.CANCELLED.value
    conditions: list[ColumnElement[bool]] = [Booking.trainer_id == trainer.id]
    if search:
        pattern = (
            "%" + search.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        )
        conditions.append(
            or_(
                func.lower(User.name).like(pattern, escape="\\"),
                User.email_normalized.like(pattern, escape="\\"),
            )
        )
    grouped = (
        select(
            User.id,
            User.name,
            User.email,
            func.count(case((live, Booking.id))).label("bookings_count"),
            func.max(case((live & (Booking.starts_at <= now), Booking.starts_at))).label(
                "last_session_at"
            ),
            func.min(
                case(
                    (
                        (Booking.status == BookingStatus.CONFIRMED.value)
                        & (Booking.starts_at > now),
                        Booking.starts_at,
                    )
                )
            ).label("next_session_at"),
        )
        .join(User, User.id == Booking.user_id)
        .where(*conditions)
        .group_by(User.id, User.name, User.email)
    )
    total = await session.scalar(select(func.count()).select_from(grouped.subquery())) or 0
    rows = await session.execute(
        grouped.order_by(func.lower(User.name), User.id).offset(paging.offset).limit(paging.limit)
    )
    return [dict(row._mapping) for row in rows], total


# --- video ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Join:
    token: RoomToken
    role: Literal["member", "trainer"]


async def join_booking(
    session: AsyncSession,
    rooms: LiveKitRooms,
    booking_id: int,
    user_id: int,
    *,
    join_early_minutes: int,
    only_as_trainer: bool = False,
) -> Join:
    """A LiveKit token for the booking's room, for its member or its trainer.

    Checks, in order: the caller is the booking's member or trainer (else ``404``), the
    booking is confirmed (``409 INVALID_STATE_TRANSITION``), it is a video session
    (``409 CONFLICT``), and now is inside the join window, from
    ``join_early_minutes`` before the start until the end (``409 BOOKING_WINDOW_CLOSED``).
    Only the trainer's token administers the room.
    """
    booking = await session.get(Booking, booking_id)
    if booking is None:
        raise BookingNotFound()
    trainer = await session.get(Trainer, booking.trainer_id)
    is_trainer = trainer is not None and trainer.user_id == user_id
    is_member = booking.user_id == user_id and not only_as_trainer
    if not (is_trainer or is_member):
        raise BookingNotFound()
    if booking.status != BookingStatus.CONFIRMED.value:
        raise BookingStateConflict(f"This booking is {booking.status}; its room is closed")
    if booking.mode != ServiceMode.VIDEO.value:
        raise NotAVideoSession()
    now = utcnow()
    opens = booking.starts_at - timedelta(minutes=join_early_minutes)
    if now < opens:
        raise BookingWindowClosed(
            f"The room opens {join_early_minutes} minutes before the session starts"
        )
    if now >= booking.ends_at:
        raise BookingWindowClosed("This session has ended")
    room = booking.room_name or f"booking-{booking.client_id}-{booking.id}"
    metadata: dict[str, object] = {"bookingId": booking.id}
    if is_trainer and trainer is not None:
        # The trainer wins when they booked themselves: they run the room either way.
        token = rooms.room_token(
            room=room,
            identity=f"trainer-{trainer.id}",
            name=trainer.name,
            admin=True,
            metadata={**metadata, "role": "trainer"},
            not_after=booking.ends_at + JOIN_TOKEN_MARGIN,
            now=now,
        )
        return Join(token=token, role="trainer")
    member = await session.get(User, user_id)
    token = rooms.room_token(
        room=room,
        identity=f"user-{user_id}",
        name=(member.name if member else None) or "Member",
        admin=False,
        metadata={**metadata, "role": "member"},
        not_after=booking.ends_at + JOIN_TOKEN_MARGIN,
        now=now,
    )
    return Join(token=token, role="member")
