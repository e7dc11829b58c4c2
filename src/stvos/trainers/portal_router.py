"""The trainer portal's calendar and bookings (/trainer/availability, /trainer/time-off,
/trainer/bookings, /trainer/clients) and joining a booking's video room: thin HTTP.

Every ``/trainer/*`` route needs a ``trainer`` login (``Auth.TRAINER``) whose profile the studio
linked; a trainer login without one answers ``403 FORBIDDEN``. Routes are part of the
``coach_connect`` feature.

Video: ``POST /bookings/{id}/join`` serves **both** sides of a booking: its member gets a
participant token, its trainer (signed in with their own login) a token that also administers
the room. ``POST /trainer/bookings/{id}/join`` is the same for the portal and only ever answers
the trainer's token.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response

from stvos.integrations.livekit import LiveKitRooms
from stvos.integrations.mail import Mailer
from stvos.kit.deps import DbSession
from stvos.kit.idempotency import idempotent
from stvos.kit.policy import Auth, Caller, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok
from stvos.models import Booking, Trainer, User
from stvos.trainers import bookings, portal
from stvos.trainers.calendar import trainer_zone
from stvos.trainers.portal_schemas import (
    BookingStatusFilter,
    BookingWhen,
    CancelIn,
    ClientOut,
    JoinOut,
    MemberBrief,
    OverrideBody,
    OverrideIn,
    OverrideOut,
    TimeOffIn,
    TimeOffOut,
    TrainerBookingOut,
    WeeklyRuleOut,
    WeeklyRulesIn,
    WeeklyRulesOut,
)

router = api_router(tags=["trainer portal"])

FEATURE = "coach_connect"
TRAINER = allow(Auth.TRAINER, feature=FEATURE)
NO_PROFILE: dict[int | str, dict[str, Any]] = {
    403: {"description": "A trainer login without a linked trainer profile"}
}


def _rooms(request: Request) -> LiveKitRooms:
    return LiveKitRooms(request.app.state.settings.livekit)


def _mailer(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


Rooms = Annotated[LiveKitRooms, Depends(_rooms)]
MailerDep = Annotated[Mailer, Depends(_mailer)]


async def _me(
    request: Request, session: DbSession, *, lock: bool = False
) -> tuple[Caller, Trainer]:
    caller = current_caller(request)
    trainer = await portal.my_trainer(session, caller.require_user_id(), lock=lock)
    return caller, trainer


def _booking_view(
    caller: Caller, trainer: Trainer, booking: Booking, member: User | None
) -> TrainerBookingOut:
    """The shared booking shape (as members see it) plus who booked."""
    zone = trainer_zone(trainer, caller.require_client())
    shape = bookings.booking_out(booking, trainer=trainer, zone=zone)
    brief = MemberBrief.model_validate(member) if member is not None else None
    return TrainerBookingOut.model_validate({**shape, "member": brief})


# --- weekly rules -----------------------------------------------------------------------------


@router.get(
    "/trainer/availability",
    response_model=Envelope[WeeklyRulesOut],
    dependencies=[TRAINER],
    responses=NO_PROFILE,
    summary="My weekly hours (local wall times in my time zone)",
)
async def get_weekly_rules(request: Request, session: DbSession) -> Envelope[WeeklyRulesOut]:
    caller, trainer = await _me(request, session)
    rules = await portal.weekly_rules(session, trainer)
    return ok(
        WeeklyRulesOut(
            time_zone=portal.zone_name(trainer, caller.require_client()),
            rules=[WeeklyRuleOut.model_validate(portal.rule_out(r)) for r in rules],
        )
    )


@router.put(
    "/trainer/availability",
    response_model=Envelope[WeeklyRulesOut],
    dependencies=[TRAINER],
    responses=NO_PROFILE,
    summary="Replace my whole week of hours at once",
    description=(
        "`rules`: `[{weekday, start, end}]` with `weekday` 0 (Monday) to 6 (Sunday) or a day "
        "name, `start`/`end` local `HH:MM` (an end may be `24:00`), in the `timeZone` answered. "
        "Windows of one day may not overlap; at most 28 rules. The week is replaced in one "
        "step: an invalid rule changes nothing. Existing bookings are kept."
    ),
)
async def put_weekly_rules(
    request: Request, body: WeeklyRulesIn, session: DbSession
) -> Envelope[WeeklyRulesOut]:
    caller, trainer = await _me(request, session, lock=True)
    rules = await portal.replace_weekly_rules(session, trainer, body.rules)
    return ok(
        WeeklyRulesOut(
            time_zone=portal.zone_name(trainer, caller.require_client()),
            rules=[WeeklyRuleOut.model_validate(portal.rule_out(r)) for r in rules],
        )
    )


# --- date overrides ---------------------------------------------------------------------------


@router.get(
    "/trainer/availability/overrides",
    response_model=Envelope[Page[OverrideOut]],
    dependencies=[TRAINER],
    responses=NO_PROFILE,
    summary="My date overrides, by day (from today in my zone unless `from` says otherwise)",
)
async def list_overrides(
    request: Request,
    session: DbSession,
    paging: Paging,
    day_from: Annotated[
        date | None, Query(alias="from", description="First day, YYYY-MM-DD")
    ] = None,
    day_to: Annotated[date | None, Query(alias="to", description="Last day, YYYY-MM-DD")] = None,
) -> Envelope[Page[OverrideOut]]:
    caller, trainer = await _me(request, session)
    zone = portal.zone_name(trainer, caller.require_client())
    items, total = await portal.list_overrides(
        session, trainer, zone, paging, day_from=day_from, day_to=day_to
    )
    return ok(
        paging.page_of(
            [OverrideOut.model_validate(portal.override_out(o, zone)) for o in items], total
        )
    )


@router.post(
    "/trainer/availability/overrides",
    status_code=201,
    response_model=Envelope[OverrideOut],
    dependencies=[TRAINER, idempotent],
    responses=NO_PROFILE,
    summary="Set one day's hours (or block it with `windows: []`)",
    description=(
        "`day` is a local date in my zone, today or later. A day that already has an override "
        "is `409 CONFLICT`: `PUT /trainer/availability/overrides/{day}` replaces it."
    ),
)
async def create_override(
    request: Request, body: OverrideIn, session: DbSession
) -> Envelope[OverrideOut]:
    caller, trainer = await _me(request, session, lock=True)
    zone = portal.zone_name(trainer, caller.require_client())
    override = await portal.create_override(session, trainer, zone, body.day, body)
    return ok(OverrideOut.model_validate(portal.override_out(override, zone)))


@router.put(
    "/trainer/availability/overrides/{day}",
    response_model=Envelope[OverrideOut],
    dependencies=[TRAINER],
    responses={**NO_PROFILE, 201: {"description": "Created (the day had no override)"}},
    summary="Create or replace one day's override",
)
async def put_override(
    request: Request, day: date, body: OverrideBody, session: DbSession, response: Response
) -> Envelope[OverrideOut]:
    caller, trainer = await _me(request, session, lock=True)
    zone = portal.zone_name(trainer, caller.require_client())
    override, created = await portal.put_override(session, trainer, zone, day, body)
    if created:
        response.status_code = 201
    return ok(OverrideOut.model_validate(portal.override_out(override, zone)))


@router.delete(
    "/trainer/availability/overrides/{day}",
    response_model=Envelope[OverrideOut],
    dependencies=[TRAINER],
    responses=NO_PROFILE,
    summary="Remove one day's override (the weekly hours apply again); answers what was removed",
)
async def delete_override(request: Request, day: date, session: DbSession) -> Envelope[OverrideOut]:
    caller, trainer = await _me(request, session, lock=True)
    zone = portal.zone_name(trainer, caller.require_client())
    override = await portal.delete_override(session, trainer, day)
    return ok(OverrideOut.model_validate(portal.override_out(override, zone)))


# --- time off ---------------------------------------------------------------------------------


@router.get(
    "/trainer/time-off",
    response_model=Envelope[Page[TimeOffOut]],
    dependencies=[TRAINER],
    responses=NO_PROFILE,
    summary="My time off not yet over (all of it with `includePast=true`), earliest first",
)
async def list_time_off(
    request: Request,
    session: DbSession,
    paging: Paging,
    include_past: Annotated[bool, Query(alias="includePast")] = False,
) -> Envelope[Page[TimeOffOut]]:
    _, trainer = await _me(request, session)
    items, total = await portal.list_time_off(session, trainer, paging, include_past=include_past)
    return ok(paging.page_of([TimeOffOut.model_validate(t) for t in items], total))


@router.post(
    "/trainer/time-off",
    status_code=201,
    response_model=Envelope[TimeOffOut],
    dependencies=[TRAINER, idempotent],
    responses=NO_PROFILE,
    summary="Block a range of time (ISO instants); no slots are offered inside it",
    description=(
        "`endsAt` must be after `startsAt` and in the future; at most one year per range. "
        "Confirmed bookings inside the range are kept and listed in `overlappingBookingIds`."
    ),
)
async def add_time_off(
    request: Request, body: TimeOffIn, session: DbSession
) -> Envelope[TimeOffOut]:
    _, trainer = await _me(request, session, lock=True)
    time_off, overlapping = await portal.add_time_off(session, trainer, body)
    out = TimeOffOut.model_validate(time_off)
    out.overlapping_booking_ids = overlapping
    return ok(out)


@router.delete(
    "/trainer/time-off/{time_off_id}",
    response_model=Envelope[TimeOffOut],
    dependencies=[TRAINER],
    responses=NO_PROFILE,
    summary="Remove a time-off range; answers what was removed",
)
async def delete_time_off(
    request: Request, time_off_id: ObjectId, session: DbSession
) -> Envelope[TimeOffOut]:
    _, trainer = await _me(request, session, lock=True)
    time_off = await portal.delete_time_off(session, trainer, time_off_id)
    return ok(TimeOffOut.model_validate(time_off))


# --- bookings ---------------------------------------------------------------------------------


@router.get(
    "/trainer/bookings",
    response_model=Envelope[Page[TrainerBookingOut]],
    dependencies=[TRAINER],
    responses=NO_PROFILE,
    summary="My bookings: upcoming (default, soonest first), past or all (latest first)",
)
async def list_bookings(
    request: Request,
    session: DbSession,
    paging: Paging,
    when: Annotated[
        BookingWhen, Query(description="upcoming: not yet ended; past: ended; all")
    ] = "upcoming",
    status: Annotated[BookingStatusFilter | None, Query(description="Only this status")] = None,
) -> Envelope[Page[TrainerBookingOut]]:
    caller, trainer = await _me(request, session)
    rows, total = await portal.list_bookings(session, trainer, paging, when=when, status=status)
    return ok(paging.page_of([_booking_view(caller, trainer, b, u) for b, u in rows], total))


@router.get(
    "/trainer/bookings/{booking_id}",
    response_model=Envelope[TrainerBookingOut],
    dependencies=[TRAINER],
    responses=NO_PROFILE,
)
async def get_booking(
    request: Request, booking_id: ObjectId, session: DbSession
) -> Envelope[TrainerBookingOut]:
    caller, trainer = await _me(request, session)
    booking = await portal.get_booking(session, trainer, booking_id)
    return ok(
        _booking_view(caller, trainer, booking, await portal.booking_member(session, booking))
    )


@router.post(
    "/trainer/bookings/{booking_id}/cancel",
    response_model=Envelope[TrainerBookingOut],
    dependencies=[TRAINER],
    responses=NO_PROFILE,
    summary="Cancel a confirmed booking; the member is told by mail",
    description="Only a confirmed booking: otherwise `409 INVALID_STATE_TRANSITION`.",
)
async def cancel_booking(
    request: Request,
    booking_id: ObjectId,
    session: DbSession,
    mailer: MailerDep,
    body: CancelIn | None = None,
) -> Envelope[TrainerBookingOut]:
    caller, trainer = await _me(request, session, lock=True)
    reason = body.reason if body is not None else None
    zone = trainer_zone(trainer, caller.require_client())
    booking = await portal.cancel_booking(session, mailer, trainer, booking_id, reason, zone)
    return ok(
        _booking_view(caller, trainer, booking, await portal.booking_member(session, booking))
    )


async def _close(
    request: Request,
    session: DbSession,
    booking_id: int,
    outcome: Literal["completed", "no_show"],
) -> Envelope[TrainerBookingOut]:
    caller, trainer = await _me(request, session)
    booking = await portal.close_booking(session, trainer, booking_id, outcome)
    return ok(
        _booking_view(caller, trainer, booking, await portal.booking_member(session, booking))
    )


_CLOSE_RULES = (
    "Only a confirmed booking whose start has passed: not started yet is "
    "`409 BOOKING_WINDOW_CLOSED`; cancelled, completed or no-show is "
    "`409 INVALID_STATE_TRANSITION`."
)


@router.post(
    "/trainer/bookings/{booking_id}/complete",
    response_model=Envelope[TrainerBookingOut],
    dependencies=[TRAINER],
    responses=NO_PROFILE,
    summary="Mark a session completed",
    description=_CLOSE_RULES,
)
async def complete_booking(
    request: Request, booking_id: ObjectId, session: DbSession
) -> Envelope[TrainerBookingOut]:
    return await _close(request, session, booking_id, "completed")


@router.post(
    "/trainer/bookings/{booking_id}/no-show",
    response_model=Envelope[TrainerBookingOut],
    dependencies=[TRAINER],
    responses=NO_PROFILE,
    summary="Mark that the member did not turn up",
    description=_CLOSE_RULES,
)
async def no_show_booking(
    request: Request, booking_id: ObjectId, session: DbSession
) -> Envelope[TrainerBookingOut]:
    return await _close(request, session, booking_id, "no_show")


# --- clients ----------------------------------------------------------------------------------


@router.get(
    "/trainer/clients",
    response_model=Envelope[Page[ClientOut]],
    dependencies=[TRAINER],
    responses=NO_PROFILE,
    summary="Members who have booked me, by name, with their booking count and sessions",
)
async def list_clients(
    request: Request,
    session: DbSession,
    paging: Paging,
    search: Annotated[
        str | None, Query(max_length=100, description="Part of the name or email")
    ] = None,
) -> Envelope[Page[ClientOut]]:
    _, trainer = await _me(request, session)
    rows, total = await portal.list_clients(
        session, trainer, paging, search=search.strip() if search else None
    )
    return ok(paging.page_of([ClientOut.model_validate(r) for r in rows], total))


# --- video ------------------------------------------------------------------------------------

_JOIN_RULES = (
    "Answers a LiveKit `token` for the booking's `room` on the server at `url`. Open from "
    "`STVOS_LIVEKIT_JOIN_EARLY_MINUTES` (10 by default) before the start until the end: "
    "otherwise `409 BOOKING_WINDOW_CLOSED`. Only a confirmed booking "
    "(`409 INVALID_STATE_TRANSITION`), only a video session (`409 CONFLICT`). "
    "The token lives `STVOS_LIVEKIT_TOKEN_TTL_MINUTES` but at most until 15 minutes after the "
    "end; it is needed to connect, not to stay connected."
)


def _join_out(join: portal.Join) -> JoinOut:
    token = join.token
    return JoinOut(
        token=token.token,
        url=token.url,
        room=token.room,
        identity=token.identity,
        expires_at=token.expires_at,
        role=join.role,
    )


@router.post(
    "/bookings/{booking_id}/join",
    response_model=Envelope[JoinOut],
    dependencies=[allow(Auth.USER, feature=FEATURE)],
    tags=["bookings"],
    summary="Join the video room of a booking (its member, or its trainer)",
    description=_JOIN_RULES
    + " The member's token publishes and subscribes; the trainer's (a trainer signed in with "
    "their own login) also administers the room. Anyone else: `404`.",
)
async def join_booking(
    request: Request, booking_id: ObjectId, session: DbSession, rooms: Rooms
) -> Envelope[JoinOut]:
    caller = current_caller(request)
    join = await portal.join_booking(
        session,
        rooms,
        booking_id,
        caller.require_user_id(),
        join_early_minutes=rooms.settings.join_early_minutes,
    )
    return ok(_join_out(join))


@router.post(
    "/trainer/bookings/{booking_id}/join",
    response_model=Envelope[JoinOut],
    dependencies=[TRAINER],
    responses=NO_PROFILE,
    summary="Join the video room of one of my bookings (a token that administers the room)",
    description=_JOIN_RULES,
)
async def trainer_join_booking(
    request: Request, booking_id: ObjectId, session: DbSession, rooms: Rooms
) -> Envelope[JoinOut]:
    caller, _ = await _me(request, session)
    join = await portal.join_booking(
        session,
        rooms,
        booking_id,
        caller.require_user_id(),
        join_early_minutes=rooms.settings.join_early_minutes,
        only_as_trainer=True,
    )
    return ok(_join_out(join))
