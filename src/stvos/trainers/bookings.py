"""1-on-1 bookings: availability for a member, booking a slot, the member's bookings, cancelling
and rescheduling them.

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
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import BindParameter, Select, and_, bindparam, select, true
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts.access import SIGN_IN_LIVE, check_sign_in, confirm_sign_in, sign_in_params
from stvos.accounts.service import member_zone
from stvos.integrations.mail import Mailer
from stvos.kit.clock import utcnow
from stvos.kit.errors import ValidationFailed
from stvos.kit.paging import fetch_page
from stvos.kit.policy import ClientContext, PendingSignIn
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

DEFAULT_WINDOW = timedelta(days=30)
CancelledBy = Literal["user", "trainer", "staff"]
_UNIQUE_INDEX = "uq_bookings_confirmed_trainer_start"


def invalid(field: str, message: str) -> ValidationFailed:
    """A 400 naming one field, shaped like the validation errors Pydantic's produce."""
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "message": message}])


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


# --- availability -----------------------------------------------------------------------------


def _window_edge(text: str, field: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """A date (``YYYY-MM-DD`` in ``zone``; ``to`` includes its day) or an ISO instant."""
    text = text.strip()
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise invalid(field, "must be a date (YYYY-MM-DD) or an ISO-8601 instant") from None
        if end:
            day += timedelta(days=1)
        return _midnight(day, zone)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(field, "must be a date (YYYY-MM-DD) or an ISO-8601 instant") from None
    if moment.tzinfo is None:
        raise invalid(field, "an instant needs a zone: end it with Z or an offset")
    return moment.astimezone(UTC)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """When ``day`` starts in ``zone`` (a day that starts in a gap starts at the transition)."""
    return calendar.local_edge(day, datetime.min.time(), zone, end=False)


def availability_window(
    from_text: str | None, to_text: str | None, zone: ZoneInfo, now: datetime
) -> tuple[datetime, datetime]:
    """``[start, end)`` of an availability query; 400 when empty or longer than 62 days."""
    start = _window_edge(from_text, "from", zone, end=False) if from_text else now
    end = _window_edge(to_text, "to", zone, end=True) if to_text else start + DEFAULT_WINDOW
    if end <= start:
        raise invalid("to", "must be after from")
    if end - start > calendar.MAX_WINDOW:
        raise invalid("to", "the window can be at most 62 days long")
    return start, end


def _availability_read(*, with_sign_in: bool) -> Select[*tuple[Any, ...]]:
    """Everything an availability answer needs before the calendar, in one row: whether the
    caller's sign-in is still live (for a route that folds the account check in), the member's
    profile and their client's zone (the viewer's zone), the trainer and the service (NULL when
    not found: outer joins, so the row is there whatever the ids).

    Built once, and run as Core on the session's connection with explicit client conditions,
    like :func:`stvos.trainers.calendar.load_calendar`'s statement (see there why)."""
    client_id: BindParameter[int] = bindparam("a_client")
    trainer_id: BindParameter[int] = bindparam("a_trainer")
    service_id: BindParameter[int] = bindparam("a_service")
    profile = (
        select(User.profile)
        .where(User.client_id == client_id, User.id == bindparam("a_user"))
        .scalar_subquery()
    )
    return (
        select(
            (SIGN_IN_LIVE if with_sign_in else true()).label("signed_in"),
            profile.label("profile"),
            Client.time_zone.label("client_zone"),
            Trainer.id.label("trainer_id"),
            Trainer.is_active.label("trainer_active"),
            Trainer.time_zone,  # the trainer's: calendar.trainer_zone reads the row
            TrainerService.id.label("service_id"),
            TrainerService.is_active.label("service_active"),
            # the service's terms: calendar.ServiceTerms
            TrainerService.duration_minutes,
            TrainerService.buffer_before_minutes,
            TrainerService.buffer_after_minutes,
            TrainerService.min_notice_minutes,
            TrainerService.max_days_ahead,
        )
        .select_from(Client)
        .outerjoin(Trainer, and_(Trainer.client_id == client_id, Trainer.id == trainer_id))
        .outerjoin(
            TrainerService,
            and_(
                TrainerService.client_id == client_id,
                TrainerService.id == service_id,
                TrainerService.trainer_id == Trainer.id,
            ),
        )
        .where(Client.id == client_id)
    )


_AVAILABILITY_READ = _availability_read(with_sign_in=False)
_AVAILABILITY_READ_SIGNING_IN = _availability_read(with_sign_in=True)


async def availability(
    session: AsyncSession,
    client: ClientContext,
    user_id: int,
    trainer_id: int,
    *,
    service_id: int,
    from_text: str | None,
    to_text: str | None,
    time_zone: str | None,
    now: datetime,
    sign_in: PendingSignIn | None = None,
) -> dict[str, Any]:
    """Bookable slots of one service; ``from``/``to`` dates are read in ``time_zone`` when
    given, else the member's own zone (their profile's, else the client's).

    Two statements: the caller, trainer and service (:func:`_availability_read`, which also
    answers ``sign_in``, the caller's pending account check, when the route folds it in), then
    the calendar. The answer carries ``slot_ids`` (each slot lasts ``duration_minutes``);
    :func:`stvos.trainers.booking_schemas.availability_json` writes the wire shape.
    """
    statement = _AVAILABILITY_READ
    params = {
        "a_client": client.id,
        "a_user": user_id,
        "a_trainer": trainer_id,
        "a_service": service_id,
    }
    if sign_in is not None:
        statement = _AVAILABILITY_READ_SIGNING_IN
        params |= sign_in_params(client.id, sign_in)
    connection = await session.connection()
    row = (await connection.execute(statement, params)).one_or_none()
    if sign_in is not None:  # a dead sign-in is told 401 before any 400 or 404
        if row is None:
            await check_sign_in(session, client.id, sign_in)
        else:
            confirm_sign_in(sign_in, bool(row.signed_in))
    if time_zone is not None:
        viewer = zone_named(time_zone)
        if viewer is None:
            raise invalid("timeZone", "must be an IANA time zone such as Europe/London")
    else:
        viewer = member_zone(row.profile if row else None, row.client_zone if row else None)
    start, end = availability_window(from_text, to_text, viewer, now)
    if row is None or row.trainer_id is None or not row.trainer_active:
        raise TrainerNotFound()
    if row.service_id is None or not row.service_active:
        raise ServiceNotFound()
    zone = calendar.trainer_zone(row, client)
    ids = await calendar.bookable_slot_ids(
        session,
        client_id=client.id,
        trainer_id=row.trainer_id,
        terms=row,
        zone=zone,
        start=start,
        end=end,
        now=now,
    )
    return {
        "trainer_id": row.trainer_id,
        "service_id": row.service_id,
        "duration_minutes": row.duration_minutes,
        "time_zone": zone.key,
        "viewer_time_zone": viewer.key,
        "from_": start,
        "to": end,
        "slot_ids": ids,
    }


# --- booking ----------------------------------------------------------------------------------


def requested_start(slot_id: int | None, start_time: datetime | None) -> datetime:
    """The start a body names, by ``slotId`` or ``startTime`` (the schema allows exactly one)."""
    if slot_id is not None:
        try:
            return calendar.slot_start(slot_id)
        except ValueError:
            raise SlotUnavailable("No slot has this slotId") from None
    if start_time is None:  # pragma: no cover - the schema refuses it
        raise invalid("slotId", "give exactly one of slotId or startTime")
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
        raise invalid("slotId", "the booking is already at this time")
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
