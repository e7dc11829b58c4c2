"""1-on-1 bookings: booking a slot (listed by :mod:`stvos.trainers.availability`), the member's
bookings, cancelling and rescheduling them.

No double booking, on either database, however many requests race for a slot:

* every booking of a trainer is written under a lock on that trainer: ``SELECT ... FOR UPDATE``
  of the trainer row on PostgreSQL; on SQLite the request's write transaction (``BEGIN
  IMMEDIATE``) already makes writers take turns. Under it the slot is re-validated with the
  same engine that listed it (:func:`stvos.trainers.calendar.is_bookable`), so buffers and
  overlapping slots of different lengths are covered, not only identical starts;
* the partial unique index (one confirmed booking per trainer and start) is the last line:
  its violation answers ``SLOT_UNAVAILABLE`` like any other lost race.

Rescheduling is one transaction under the same lock: the new booking is inserted (pointing back
with ``rescheduled_from_id``) before the old one is cancelled, so the member never holds
neither. It is refused inside the cancellation window (``BOOKING_WINDOW_CLOSED``): moving a
session at the last minute frees the trainer's time just as late as cancelling it would.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.integrations.mail import Mailer
from stvos.kit.clock import utcnow
from stvos.kit.errors import invalid_field
from stvos.kit.paging import fetch_page
from stvos.kit.policy import ClientContext
from stvos.kit.schemas import PageParams
from stvos.kit.zones import zone_named
from stvos.models import Booking, BookingStatus, Client, ServiceMode, Trainer, TrainerService, User
from stvos.trainers import calendar, notifications
from stvos.trainers.errors import (
    BookingNotFound,
    BookingStateConflict,
    BookingWindowClosed,
    ServiceNotFound,
    SlotUnavailable,
    TrainerNotFound,
)

_UNIQUE_INDEX = "uq_bookings_confirmed_trainer_start"
CancelledBy = Literal["user", "trainer", "staff"]


def money_text(minor: int) -> str:
    """Integer minor units as the decimal string on the wire: 4500 -> ``"45.00"``."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}.{cents:02d}"


# --- the wire shape ---------------------------------------------------------------------------


def _known_trainer(booking: Booking) -> Trainer | None:
    """The booking's trainer if its session already holds it (no statement is run)."""
    state = sa_inspect(booking)
    session = state.session
    if session is None:
        return None
    key = sa_inspect(Trainer).identity_key_from_primary_key((booking.trainer_id,))
    found = session.identity_map.get(key)
    return found if isinstance(found, Trainer) else None


def booking_out(
    booking: Booking,
    *,
    trainer: Trainer | None = None,
    zone: ZoneInfo | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The wire shape of a booking (:class:`~stvos.trainers.booking_schemas.BookingOut`).

    ``trainer`` defaults to the trainer row already loaded (and still referenced: the identity
    map is weak) in the booking's session, as the portal has it; ``zone`` to the trainer's own
    zone (pass :func:`calendar.trainer_zone` when the trainer follows the client's); ``now``
    to the clock, for ``canCancelFreely``.
    """
    trainer = trainer or _known_trainer(booking)
    if zone is None and trainer is not None:
        zone = zone_named(trainer.time_zone)
    now = now or utcnow()
    deadline = booking.starts_at - timedelta(hours=booking.cancellation_window_hours)
    confirmed = booking.status == BookingStatus.CONFIRMED.value
    return {
        "id": booking.id,
        "trainer_id": booking.trainer_id,
        "user_id": booking.user_id,
        "service_id": booking.service_id,
        "status": booking.status,
        "scheduled_date": booking.starts_at,
        "start_time": booking.starts_at,
        "end_time": booking.ends_at,
        "duration_minutes": int((booking.ends_at - booking.starts_at).total_seconds() // 60),
        "time_zone": zone.key if zone else None,
        "mode": booking.mode,
        "price": money_text(booking.price_minor),
        "currency": booking.currency,
        "notes": booking.notes,
        "service_name": booking.service_name,
        "trainer": {
            "id": booking.trainer_id,
            "name": trainer.name if trainer else None,
            "image_url": trainer.image_url if trainer else None,
        },
        "room": booking.room_name if booking.mode == ServiceMode.VIDEO.value else None,
        "cancellation_window_hours": booking.cancellation_window_hours,
        "cancellation_deadline": deadline,
        "can_cancel_freely": confirmed and now <= deadline,
        "late_cancellation": booking.late_cancellation,
        "cancelled_at": booking.cancelled_at,
        "cancelled_by": booking.cancelled_by,
        "cancel_reason": booking.cancel_reason,
        "completed_at": booking.completed_at,
        "rescheduled_from_id": booking.rescheduled_from_id,
        "created_at": booking.created_at,
    }


# --- lookups ----------------------------------------------------------------------------------


async def _trainer(session: AsyncSession, trainer_id: int, *, lock: bool = False) -> Trainer:
    """An active trainer of the caller's client; with ``lock``, its row is locked (PostgreSQL)
    for the rest of the transaction, which serialises bookings of this trainer."""
    query = select(Trainer).where(Trainer.id == trainer_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    trainer = await session.scalar(query)
    if trainer is None or not trainer.is_active:
        raise TrainerNotFound()
    return trainer


async def _service(session: AsyncSession, trainer: Trainer, service_id: int) -> TrainerService:
    service = await session.scalar(
        select(TrainerService).where(
            TrainerService.id == service_id, TrainerService.trainer_id == trainer.id
        )
    )
    if service is None or not service.is_active:
        raise ServiceNotFound()
    return service


async def _zone_of(
    session: AsyncSession, trainer: Trainer, client: ClientContext | None
) -> ZoneInfo:
    if client is not None or trainer.time_zone:
        return calendar.trainer_zone(trainer, client)
    name = await session.scalar(select(Client.time_zone).where(Client.id == trainer.client_id))
    return zone_named(name) or ZoneInfo("UTC")


# --- booking ----------------------------------------------------------------------------------


def requested_start(slot_id: int | None, start_time: datetime | None) -> datetime:
    """The start a body names, by ``slotId`` or ``startTime`` (the schema allows exactly one)."""
    if slot_id is not None:
        try:
            return calendar.slot_start(slot_id)
        except ValueError:
            raise SlotUnavailable("No slot has this slotId") from None
    if start_time is None:  # pragma: no cover - the schema refuses it
        raise invalid_field("slotId", "give exactly one of slotId or startTime")
    return start_time.astimezone(UTC)


async def _insert(session: AsyncSession, booking: Booking) -> None:
    """Flush a new confirmed booking; the unique index's refusal is a lost race for the slot."""
    session.add(booking)
    try:
        await session.flush()
    except IntegrityError as exc:
        text = str(exc.orig).lower()
        if _UNIQUE_INDEX in text or "starts_at" in text:
            raise SlotUnavailable() from None
        raise


def _new_booking(
    trainer: Trainer,
    service: TrainerService,
    user_id: int,
    start: datetime,
    notes: str | None,
) -> Booking:
    end = start + timedelta(minutes=service.duration_minutes)
    return Booking(
        trainer_id=trainer.id,
        service_id=service.id,
        user_id=user_id,
        status=BookingStatus.CONFIRMED.value,
        starts_at=start,
        ends_at=end,
        blocked_from=start - timedelta(minutes=max(service.buffer_before_minutes, 0)),
        blocked_until=end + timedelta(minutes=max(service.buffer_after_minutes, 0)),
        notes=notes or None,
        service_name=service.name,
        mode=service.mode,
        price_minor=service.price_minor,
        currency=service.currency,
        cancellation_window_hours=service.cancellation_window_hours,
        # Opaque: knowing a booking id must not be enough to guess its video room.
        room_name="bk_" + secrets.token_urlsafe(12),
        late_cancellation=False,
    )


async def _parties(
    session: AsyncSession, booking: Booking, trainer: Trainer
) -> tuple[User | None, User | None]:
    """The member and the trainer's login, when active (mail goes to them)."""
    member = await session.get(User, booking.user_id)
    trainer_user = await session.get(User, trainer.user_id) if trainer.user_id else None
    return (
        member if member is not None and member.is_active else None,
        trainer_user if trainer_user is not None and trainer_user.is_active else None,
    )


async def book(
    session: AsyncSession,
    mailer: Mailer,
    client: ClientContext,
    user_id: int,
    trainer_id: int,
    *,
    service_id: int,
    start: datetime,
    notes: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Book ``start`` of a service for the member (re-validated under the trainer's lock)."""
    trainer = await _trainer(session, trainer_id, lock=True)
    service = await _service(session, trainer, service_id)
    zone = calendar.trainer_zone(trainer, client)
    if not await calendar.is_bookable(session, trainer, service, start, now, zone=zone):
        raise SlotUnavailable()
    booking = _new_booking(trainer, service, user_id, start, notes)
    await _insert(session, booking)
    member, trainer_user = await _parties(session, booking, trainer)
    await notifications.send_confirmation(
        session,
        mailer,
        booking,
        trainer=trainer,
        zone=zone,
        member=member,
        trainer_user=trainer_user,
        location=service.location,
        now=now,
    )
    return booking_out(booking, trainer=trainer, zone=zone, now=now)


# --- the member's bookings --------------------------------------------------------------------


async def list_mine(
    session: AsyncSession,
    client: ClientContext,
    user_id: int,
    paging: PageParams,
    *,
    when: Literal["upcoming", "past"],
    status: str | None,
    now: datetime,
) -> tuple[list[dict[str, Any]], int]:
    """Upcoming (not yet ended, soonest first) or past (ended, newest first) bookings."""
    query = select(Booking).where(Booking.user_id == user_id)
    if when == "upcoming":
        query = query.where(Booking.ends_at > now)
        order = (Booking.starts_at.asc(), Booking.id.asc())
    else:
        query = query.where(Booking.ends_at <= now)
        order = (Booking.starts_at.desc(), Booking.id.desc())
    if status is not None:
        query = query.where(Booking.status == status)
    rows, total = await fetch_page(session, query, paging, *order)
    trainer_ids = {row.trainer_id for row in rows}
    trainers = (
        {t.id: t for t in await session.scalars(select(Trainer).where(Trainer.id.in_(trainer_ids)))}
        if trainer_ids
        else {}
    )
    items = []
    for row in rows:
        trainer = trainers.get(row.trainer_id)
        zone = calendar.trainer_zone(trainer, client) if trainer else None
        items.append(booking_out(row, trainer=trainer, zone=zone, now=now))
    return items, total


async def _my_booking(session: AsyncSession, user_id: int, booking_id: int) -> Booking:
    query = select(Booking).where(Booking.id == booking_id, Booking.user_id == user_id)
    booking = await session.scalar(query)
    if booking is None:
        raise BookingNotFound()
    return booking


async def _booking_trainer(session: AsyncSession, booking: Booking, *, lock: bool) -> Trainer:
    query = select(Trainer).where(Trainer.id == booking.trainer_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    trainer = await session.scalar(query)
    if trainer is None:  # pragma: no cover - the foreign key keeps it
        raise BookingNotFound()
    return trainer


async def get_mine(
    session: AsyncSession, client: ClientContext, user_id: int, booking_id: int, now: datetime
) -> dict[str, Any]:
    booking = await _my_booking(session, user_id, booking_id)
    trainer = await _booking_trainer(session, booking, lock=False)
    return booking_out(
        booking, trainer=trainer, zone=calendar.trainer_zone(trainer, client), now=now
    )


# --- cancelling -------------------------------------------------------------------------------


def _mark_cancelled(
    booking: Booking, *, by: CancelledBy, reason: str | None, late: bool, now: datetime
) -> None:
    booking.status = BookingStatus.CANCELLED.value
    booking.cancelled_at = now
    booking.cancelled_by = by
    booking.cancel_reason = reason or None
    booking.late_cancellation = late


async def cancel(
    session: AsyncSession,
    mailer: Mailer,
    booking: Booking,
    *,
    by: CancelledBy,
    reason: str | None,
    now: datetime,
    zone: ZoneInfo | None = None,
) -> Booking:
    """Cancel a confirmed booking that has not ended; mail the member and the trainer.

    Inside the cancellation window it still cancels, and records ``late_cancellation`` (who
    cancelled is in ``cancelled_by``). Any other status: ``INVALID_STATE_TRANSITION``; a session
    already over: ``BOOKING_WINDOW_CLOSED`` (mark it completed or no-show instead).
    """
    if booking.status != BookingStatus.CONFIRMED.value:
        raise BookingStateConflict(f"A {booking.status} booking cannot be cancelled")
    if now >= booking.ends_at:
        raise BookingWindowClosed("This session is over; it can no longer be cancelled")
    deadline = booking.starts_at - timedelta(hours=booking.cancellation_window_hours)
    _mark_cancelled(booking, by=by, reason=reason, late=now > deadline, now=now)
    await session.flush()
    trainer = await _booking_trainer(session, booking, lock=False)
    zone = zone or await _zone_of(session, trainer, None)
    service = await session.get(TrainerService, booking.service_id)
    member, trainer_user = await _parties(session, booking, trainer)
    await notifications.send_cancellation(
        session,
        mailer,
        booking,
        trainer=trainer,
        zone=zone,
        member=member,
        trainer_user=trainer_user,
        location=service.location if service else None,
        now=now,
    )
    return booking


async def cancel_mine(
    session: AsyncSession,
    mailer: Mailer,
    client: ClientContext,
    user_id: int,
    booking_id: int,
    *,
    reason: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The member cancels their own booking, up to its start (late inside the window)."""
    booking = await _my_booking(session, user_id, booking_id)
    # The trainer's lock first, as booking and rescheduling take it: one order, no deadlock,
    # and a reschedule of this booking cannot interleave with its cancellation.
    trainer = await _booking_trainer(session, booking, lock=True)
    await session.refresh(booking)
    if booking.status == BookingStatus.CONFIRMED.value and now >= booking.starts_at:
        raise BookingWindowClosed("This session has started; it can no longer be cancelled")
    zone = calendar.trainer_zone(trainer, client)
    await cancel(session, mailer, booking, by="user", reason=reason, now=now, zone=zone)
    return booking_out(booking, trainer=trainer, zone=zone, now=now)


# --- rescheduling -----------------------------------------------------------------------------


async def reschedule_mine(
    session: AsyncSession,
    mailer: Mailer,
    client: ClientContext,
    user_id: int,
    booking_id: int,
    *,
    start: datetime,
    now: datetime,
) -> dict[str, Any]:
    """Move a booking to another slot of its service: the new booking, then the old cancelled.

    Outside the cancellation window only. The new booking keeps the price the member booked at
    and follows the service's current length and buffers (which the new slot was checked with).
    """
    old = await _my_booking(session, user_id, booking_id)
    trainer = await _booking_trainer(session, old, lock=True)
    await session.refresh(old)  # as it is now that this trainer's bookings are ours alone
    if old.status != BookingStatus.CONFIRMED.value:
        raise BookingStateConflict(f"A {old.status} booking cannot be rescheduled")
    deadline = old.starts_at - timedelta(hours=old.cancellation_window_hours)
    if now > deadline:
        raise BookingWindowClosed(
            f"Bookings can be moved up to {old.cancellation_window_hours} hours before the "
            "start; cancel it instead"
        )
    if start == old.starts_at:
        raise invalid_field("slotId", "the booking is already at this time")
    if not trainer.is_active:
        raise SlotUnavailable()
    service = await session.get(TrainerService, old.service_id)
    if service is None:  # pragma: no cover - the foreign key keeps it
        raise SlotUnavailable()
    zone = calendar.trainer_zone(trainer, client)
    if not await calendar.is_bookable(
        session, trainer, service, start, now, zone=zone, ignore_booking_id=old.id
    ):
        raise SlotUnavailable()
    new = _new_booking(trainer, service, user_id, start, old.notes)
    new.price_minor, new.currency = old.price_minor, old.currency
    new.rescheduled_from_id = old.id
    await _insert(session, new)  # the new slot is taken ...
    _mark_cancelled(old, by="user", reason="rescheduled", late=False, now=now)  # ... then freed
    await session.flush()
    member, trainer_user = await _parties(session, new, trainer)
    await notifications.send_confirmation(
        session,
        mailer,
        new,
        trainer=trainer,
        zone=zone,
        member=member,
        trainer_user=trainer_user,
        location=service.location,
        now=now,
    )
    return booking_out(new, trainer=trainer, zone=zone, now=now)
