"""Member-facing 1-on-1 booking: a trainer's availability, booking a slot, and the member's own
bookings (list, read, cancel, reschedule). Thin HTTP over :mod:`stvos.trainers.bookings`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from stvos.integrations.mail import Mailer
from stvos.kit.clock import utcnow
from stvos.kit.deps import DbSession
from stvos.kit.idempotency import idempotent
from stvos.kit.policy import Auth, Feature, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok
from stvos.trainers import bookings
from stvos.trainers.availability import bookable_slots
from stvos.trainers.booking_schemas import (
    AvailabilityOut,
    BookIn,
    BookingOut,
    BookingStatusName,
    BookingWhen,
    CancelIn,
    RescheduleIn,
    availability_json,
)

router = api_router(tags=["bookings"])

_MEMBER = allow(Auth.USER, feature=Feature.COACH_CONNECT)


def _mailer(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


@router.get(
    "/trainers/{trainer_id}/availability",
    response_model=Envelope[AvailabilityOut],
    # The account check rides in the route's first statement (one statement fewer).
    dependencies=[allow(Auth.USER, feature=Feature.COACH_CONNECT, sign_in_checked_by_route=True)],
    summary="Bookable slots of one of the trainer's services",
    description=(
        "Slots `{slotId, start, end}` (UTC) starting in `[from, to)`, soonest first. `from` and "
        "`to` are dates (`YYYY-MM-DD`, read in `timeZone`, else the member's own zone; `to` "
        "includes its day) or ISO-8601 instants; the window defaults to the next 30 days and "
        "is at most 62 days. Slots start on the trainer's quarter hours inside their hours "
        "(weekly rules, date overrides, time off), clear of other bookings and the service's "
        "buffers, after its minimum notice and within its booking horizon. `slotId` is stable: "
        "book it with `POST /trainers/{id}/book`."
    ),
)
async def availability(
    request: Request,
    trainer_id: ObjectId,
    session: DbSession,
    service_id: Annotated[int, Query(alias="serviceId", ge=1, le=2**63 - 1)],
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Annotated[str | None, Query(max_length=40)] = None,
    time_zone: Annotated[
        str | None,
        Query(alias="timeZone", max_length=64, description="IANA zone to read from/to dates in"),
    ] = None,
) -> Response:
    caller = current_caller(request)
    answer = await bookable_slots(
        session,
        caller.require_client(),
        caller.require_user_id(),
        trainer_id,
        service_id=service_id,
        from_text=from_,
        to_text=to,
        time_zone=time_zone,
        now=utcnow(),
        sign_in=caller.require_pending_sign_in(),
    )
    # Written straight to JSON (Envelope[AvailabilityOut], byte for byte): see AvailabilityWire.
    return Response(availability_json(answer), media_type="application/json")


@router.post(
    "/trainers/{trainer_id}/book",
    status_code=201,
    response_model=Envelope[BookingOut],
    dependencies=[_MEMBER, idempotent],
    summary="Book a slot with the trainer",
    description=(
        "`serviceId` and exactly one of `slotId` (from the availability answer) or `startTime` "
        "(an ISO-8601 instant). The slot is re-validated under a lock on the trainer: a slot "
        "taken meanwhile, or no longer bookable, is `409 SLOT_UNAVAILABLE`. Honours "
        "`Idempotency-Key`. Mails a confirmation with a calendar file to the member and the "
        "trainer."
    ),
)
async def book(
    request: Request, trainer_id: ObjectId, body: BookIn, session: DbSession
) -> Envelope[BookingOut]:
    caller = current_caller(request)
    answer = await bookings.book(
        session,
        _mailer(request),
        caller.require_client(),
        caller.require_user_id(),
        trainer_id,
        service_id=body.service_id,
        start=bookings.requested_start(body.slot_id, body.start_time),
        notes=body.notes,
        now=utcnow(),
    )
    return ok(BookingOut.model_validate(answer))


@router.get(
    "/bookings",
    response_model=Envelope[Page[BookingOut]],
    dependencies=[_MEMBER],
    summary="My 1-on-1 bookings",
    description=(
        "`when=upcoming` (default: not yet ended, soonest first) or `past` (ended, newest "
        "first); optional `status` filter."
    ),
)
async def list_bookings(
    request: Request,
    session: DbSession,
    paging: Paging,
    when: BookingWhen = "upcoming",
    status: BookingStatusName | None = None,
) -> Envelope[Page[BookingOut]]:
    caller = current_caller(request)
    now = utcnow()
    items, total = await bookings.list_mine(
        session,
        caller.require_client(),
        caller.require_user_id(),
        paging,
        when=when,
        status=status,
        now=now,
    )
    return ok(paging.page_of([BookingOut.model_validate(i) for i in items], total))


@router.get(
    "/bookings/{booking_id}",
    response_model=Envelope[BookingOut],
    dependencies=[_MEMBER],
    summary="One of my bookings",
)
async def get_booking(
    request: Request, booking_id: ObjectId, session: DbSession
) -> Envelope[BookingOut]:
    caller = current_caller(request)
    answer = await bookings.get_mine(
        session, caller.require_client(), caller.require_user_id(), booking_id, utcnow()
    )
    return ok(BookingOut.model_validate(answer))


@router.post(
    "/bookings/{booking_id}/cancel",
    response_model=Envelope[BookingOut],
    dependencies=[_MEMBER, idempotent],
    summary="Cancel my booking",
    description=(
        "A confirmed booking, up to its start. Inside the service's cancellation window it is "
        "still cancelled but recorded as late: `lateCancellation: true`. Mails a cancellation "
        "(`METHOD:CANCEL` calendar file) to the member and the trainer."
    ),
)
async def cancel_booking(
    request: Request, booking_id: ObjectId, session: DbSession, body: CancelIn | None = None
) -> Envelope[BookingOut]:
    caller = current_caller(request)
    answer = await bookings.cancel_mine(
        session,
        _mailer(request),
        caller.require_client(),
        caller.require_user_id(),
        booking_id,
        reason=body.reason if body else None,
        now=utcnow(),
    )
    return ok(BookingOut.model_validate(answer))


@router.post(
    "/bookings/{booking_id}/reschedule",
    response_model=Envelope[BookingOut],
    dependencies=[_MEMBER, idempotent],
    summary="Move my booking to another slot of the same service",
    description=(
        "Exactly one of `slotId` or `startTime`. Atomic: the new booking is made (answered "
        "here, with `rescheduledFromId`) before the old one is cancelled. Refused inside the "
        "cancellation window with `409 BOOKING_WINDOW_CLOSED` (cancel instead); a slot not "
        "available is `409 SLOT_UNAVAILABLE`."
    ),
)
async def reschedule_booking(
    request: Request, booking_id: ObjectId, body: RescheduleIn, session: DbSession
) -> Envelope[BookingOut]:
    caller = current_caller(request)
    answer = await bookings.reschedule_mine(
        session,
        _mailer(request),
        caller.require_client(),
        caller.require_user_id(),
        booking_id,
        start=bookings.requested_start(body.slot_id, body.start_time),
        now=utcnow(),
    )
    return ok(BookingOut.model_validate(answer))
