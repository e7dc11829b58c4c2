"""A member's view of a trainer's bookable time: the slots of one service in a window.

The window is read in the viewer's zone (the ``timeZone`` asked for, else the member's own,
else the client's); the slots come from the trainer's calendar
(:mod:`stvos.trainers.calendar`), the same engine that re-validates a slot when it is booked
(:mod:`stvos.trainers.bookings`), so a listed slot is one that can be booked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BindParameter, Select, and_, bindparam, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts.access import SIGN_IN_LIVE, check_sign_in, confirm_sign_in, sign_in_params
from stvos.accounts.service import member_zone
from stvos.kit.errors import invalid_field
from stvos.kit.policy import ClientContext, PendingSignIn
from stvos.kit.zones import zone_named
from stvos.models import Client, Trainer, TrainerService, User
from stvos.trainers import calendar
from stvos.trainers.errors import ServiceNotFound, TrainerNotFound

DEFAULT_WINDOW = timedelta(days=30)


def _window_edge(text: str, field: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """A date (``YYYY-MM-DD`` in ``zone``; ``to`` includes its day) or an ISO instant."""
    text = text.strip()
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise invalid_field(
                field, "must be a date (YYYY-MM-DD) or an ISO-8601 instant"
            ) from None
        if end:
            day += timedelta(days=1)
        return _midnight(day, zone)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid_field(field, "must be a date (YYYY-MM-DD) or an ISO-8601 instant") from None
    if moment.tzinfo is None:
        raise invalid_field(field, "an instant needs a zone: end it with Z or an offset")
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
        raise invalid_field("to", "must be after from")
    if end - start > calendar.MAX_WINDOW:
        raise invalid_field("to", "the window can be at most 62 days long")
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


async def bookable_slots(
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
            raise invalid_field("timeZone", "must be an IANA time zone such as Europe/London")
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
