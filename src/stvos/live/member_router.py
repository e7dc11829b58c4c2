"""Members and live classes over HTTP: the schedule, one class, registering (a seat or a place
in the waitlist) and unregistering. Thin HTTP over :mod:`stvos.live.seats`."""

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
from stvos.live import seats
from stvos.live.member_schemas import LiveClassOut, LiveStatusName, RegistrationOut

router = api_router(tags=["live classes"])

_MEMBER = allow(Auth.USER, feature=Feature.LIVE_CLASSES)
_MAX_ID = 2**63 - 1


def _mailer(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


@router.get(
    "/live/classes",
    response_model=Envelope[Page[LiveClassOut]],
    dependencies=[_MEMBER],
    summary="The live class schedule",
    description=(
        "Classes overlapping `[from, to)`, soonest first (a class in progress counts). `from` and "
        "`to` are dates (`YYYY-MM-DD` in the member's zone; `to` includes its day) or ISO-8601 "
        "instants; the window defaults to now and the next 14 days and is at most 62 days. "
        "Scheduled and live classes unless `status` names one status (e.g. `cancelled`). "
        "`hasSpace=true` keeps classes with a free seat, `false` the full ones. Each class "
        "carries `capacity, registeredCount, spotsLeft, waitlistCount` and the caller's own "
        "`registration` (`status`, 1-based `waitlistPosition`) or null."
    ),
)
async def list_classes(
    request: Request,
    session: DbSession,
    paging: Paging,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Annotated[str | None, Query(max_length=40)] = None,
    category_id: Annotated[int | None, Query(alias="categoryId", ge=1, le=_MAX_ID)] = None,
    trainer_id: Annotated[int | None, Query(alias="trainerId", ge=1, le=_MAX_ID)] = None,
    has_space: Annotated[bool | None, Query(alias="hasSpace")] = None,
    status: LiveStatusName | None = None,
) -> Envelope[Page[LiveClassOut]]:
    caller = current_caller(request)
    filters = seats.ScheduleFilters(
        from_text=from_,
        to_text=to,
        category_id=category_id,
        trainer_id=trainer_id,
        has_space=has_space,
        status=status,
    )
    items, total = await seats.list_classes(
        session, caller.require_user_id(), filters, paging, utcnow()
    )
    return ok(paging.page_of(items, total))


@router.get(
    "/live/classes/{class_id}",
    response_model=Envelope[LiveClassOut],
    dependencies=[_MEMBER],
    summary="One live class, with my registration",
    description=(
        "Any status (a cancelled class says so). `registration` is the caller's own: "
        "`registered`, `waitlisted` with its 1-based `waitlistPosition`, or `cancelled`; null "
        "when they never registered. Another app's class is `404`."
    ),
)
async def get_class(
    request: Request, class_id: ObjectId, session: DbSession
) -> Envelope[LiveClassOut]:
    caller = current_caller(request)
    return ok(await seats.get_class(session, caller.require_user_id(), class_id))


@router.post(
    "/live/classes/{class_id}/registration",
    status_code=201,
    response_model=Envelope[RegistrationOut],
    dependencies=[_MEMBER, idempotent],
    responses={200: {"description": "Already registered or waitlisted: the same registration"}},
    summary="Register for a live class (a seat, or a place in the waitlist)",
    description=(
        "`201` with `status: registered`, or `waitlisted` with a 1-based `waitlistPosition` "
        "when every seat is taken (first come, first served: a freed seat goes to position 1). "
        "Registering again while registered or waiting answers `200` with the same "
        "registration. Open while the class is scheduled, or live and not over; the waitlist "
        "only while scheduled (a full class in progress is `409 CLASS_FULL`); an ended or "
        "cancelled class is `409 INVALID_STATE_TRANSITION`. A premium class needs premium "
        "access (`403 PREMIUM_REQUIRED`). Honours `Idempotency-Key`."
    ),
)
async def register(
    request: Request, class_id: ObjectId, session: DbSession, response: Response
) -> Envelope[RegistrationOut]:
    caller = current_caller(request)
    answer, created = await seats.register(session, caller.require_user_id(), class_id, utcnow())
    if not created:
        response.status_code = 200
    return ok(answer)


@router.delete(
    "/live/classes/{class_id}/registration",
    response_model=Envelope[RegistrationOut],
    dependencies=[_MEMBER],
    summary="Unregister from a live class (a seat or a waitlist place)",
    description=(
        "Gives up the caller's seat or waitlist place; answers the registration, now "
        "`cancelled`. A freed seat passes at once to the first member in the waitlist, who is "
        "mailed. `404` when the caller is neither registered nor waiting; an ended or cancelled "
        "class is `409 INVALID_STATE_TRANSITION`."
    ),
)
async def unregister(
    request: Request, class_id: ObjectId, session: DbSession
) -> Envelope[RegistrationOut]:
    caller = current_caller(request)
    answer = await seats.unregister(
        session, _mailer(request), caller.require_user_id(), class_id, utcnow()
    )
    return ok(answer)
