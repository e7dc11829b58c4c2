"""Scheduling live classes: the studio's back office (``/manage/live-classes``, role
client_admin, any trainer of the studio) and the trainer portal (``/trainer/live-classes``, a
trainer's own classes only). Thin HTTP; part of the ``live_classes`` feature.

Starting, ending and joining a class live beside this (rooms); the members' schedule and
registration too (seats).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.integrations.mail import Mailer
from stvos.kit.clock import utcnow
from stvos.kit.deps import DbSession
from stvos.kit.errors import ValidationFailed
from stvos.kit.idempotency import idempotent
from stvos.kit.policy import Auth, Caller, ClientContext, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok
from stvos.live import schedule
from stvos.live.schedule_schemas import (
    CancelIn,
    CancelledOut,
    DeletedOut,
    LiveClassOut,
    LiveClassPatch,
    LiveStatusName,
    ManageLiveClassIn,
    ScheduledOut,
    SeriesOut,
    TrainerLiveClassIn,
)
from stvos.models import LiveClass, LiveClassSeries
from stvos.trainers.portal import my_trainer

router = api_router(tags=["live classes"])

FEATURE = "live_classes"
STAFF = allow(Auth.STAFF, feature=FEATURE)
TRAINER = allow(Auth.TRAINER, feature=FEATURE)

SCHEDULE_HELP = (
    "Exactly one of `startsAt` (one class; an ISO-8601 instant in the future, within a year) "
    "or `series` `{weekdays, localTime, startsOn, until}`: every chosen weekday (0 = Monday, or "
    "day names) from `startsOn` to `until` (at most 6 months ahead) at the local `HH:MM` in the "
    "trainer's time zone, expanded into dated classes in one step (at most 200; dates already "
    "past are left out). 07:00 stays 07:00 local across daylight-saving changes; a time that "
    "does not exist on a spring-forward day lands just after the gap (RFC 5545). "
    "`durationMinutes` 10..240, `capacity` 1..1000, `intensity` low|medium|high. A class that "
    "overlaps another scheduled or live class of the trainer is `409 CONFLICT` (nothing is "
    "made). Answers `{series, classes}` (`series` null for a one-off). Honours "
    "`Idempotency-Key`."
)
PATCH_HELP = (
    "Only a scheduled class (else `409 INVALID_STATE_TRANSITION`); only the fields sent change. "
    "The capacity cannot go below the members registered (`409 CONFLICT`); a raise gives the "
    "new seats to the waitlist, first come first served. A new time must be free (`409`)."
)
CANCEL_HELP = (
    "A scheduled class only (else `409 INVALID_STATE_TRANSITION`), with a `reason`. Every seat "
    "and waitlist place is released and each of those members is mailed, with the start in "
    "their own time zone; `notified` says how many."
)

Since = Annotated[
    AwareDatetime | None,
    Query(alias="from", description="Classes starting at or after this instant (ISO-8601)"),
]
Before = Annotated[
    AwareDatetime | None, Query(alias="to", description="Classes starting before this instant")
]
StatusFilter = Annotated[LiveStatusName | None, Query(description="Only classes in this status")]


def _mailer(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


MailerDep = Annotated[Mailer, Depends(_mailer)]


def _window(starts_from: AwareDatetime | None, before: AwareDatetime | None) -> None:
    if starts_from is not None and before is not None and before <= starts_from:
        message = "must be after from"
        raise ValidationFailed(message, details=[{"field": "to", "message": message}])


async def _views(
    session: AsyncSession, client: ClientContext, classes: list[LiveClass]
) -> list[LiveClassOut]:
    views = await schedule.class_views(session, client, classes)
    return [LiveClassOut.model_validate(view) for view in views]


async def _one_view(session: AsyncSession, caller: Caller, live: LiveClass) -> LiveClassOut:
    return (await _views(session, caller.require_client(), [live]))[0]


async def _scheduled(
    session: AsyncSession,
    caller: Caller,
    series: LiveClassSeries | None,
    classes: list[LiveClass],
) -> ScheduledOut:
    return ScheduledOut(
        series=SeriesOut.model_validate(schedule.series_view(series)) if series else None,
        classes=await _views(session, caller.require_client(), classes),
    )


async def _cancel(
    session: AsyncSession, caller: Caller, mailer: Mailer, live: LiveClass, body: CancelIn
) -> CancelledOut:
    notified = await schedule.cancel_class(session, mailer, live, reason=body.reason, now=utcnow())
    view = await _one_view(session, caller, live)
    return CancelledOut.model_validate({**view.model_dump(), "notified": notified})


# --- studio back office -----------------------------------------------------------------------


@router.post(
    "/manage/live-classes",
    status_code=201,
    response_model=Envelope[ScheduledOut],
    dependencies=[STAFF, idempotent],
    summary="Schedule a live class (or a weekly series) for one of the studio's trainers",
    description=SCHEDULE_HELP,
)
async def manage_schedule(
    request: Request, body: ManageLiveClassIn, session: DbSession
) -> Envelope[ScheduledOut]:
    caller = current_caller(request)
    trainer = await schedule.trainer_for_schedule(session, body.trainer_id)
    series, classes = await schedule.schedule(
        session,
        caller.require_client(),
        trainer,
        body,
        created_by=caller.user_id,
        now=utcnow(),
    )
    return ok(await _scheduled(session, caller, series, classes))


@router.get(
    "/manage/live-classes",
    response_model=Envelope[Page[LiveClassOut]],
    dependencies=[STAFF],
    summary="The studio's live classes by start time",
)
async def manage_list(
    request: Request,
    session: DbSession,
    paging: Paging,
    starts_from: Since = None,
    before: Before = None,
    trainer_id: Annotated[int | None, Query(alias="trainerId", ge=1, le=2**63 - 1)] = None,
    status: StatusFilter = None,
) -> Envelope[Page[LiveClassOut]]:
    _window(starts_from, before)
    caller = current_caller(request)
    classes, total = await schedule.list_classes(
        session,
        paging,
        trainer_id=trainer_id,
        status=status,
        starts_from=starts_from,
        starts_before=before,
    )
    return ok(paging.page_of(await _views(session, caller.require_client(), classes), total))


@router.get(
    "/manage/live-classes/{class_id}",
    response_model=Envelope[LiveClassOut],
    dependencies=[STAFF],
    summary="One live class",
)
async def manage_get(
    request: Request, class_id: ObjectId, session: DbSession
) -> Envelope[LiveClassOut]:
    live = await schedule.get_class(session, class_id)
    return ok(await _one_view(session, current_caller(request), live))


@router.patch(
    "/manage/live-classes/{class_id}",
    response_model=Envelope[LiveClassOut],
    dependencies=[STAFF],
    summary="Change a scheduled live class",
    description=PATCH_HELP,
)
async def manage_patch(
    request: Request,
    class_id: ObjectId,
    body: LiveClassPatch,
    session: DbSession,
    mailer: MailerDep,
) -> Envelope[LiveClassOut]:
    caller = current_caller(request)
    live = await schedule.get_class(session, class_id, lock=True)
    live = await schedule.update_class(
        session, mailer, caller.require_client(), live, body, now=utcnow()
    )
    return ok(await _one_view(session, caller, live))


@router.delete(
    "/manage/live-classes/{class_id}",
    response_model=Envelope[DeletedOut],
    dependencies=[STAFF],
    summary="Delete a scheduled class nobody registered for",
    description=(
        "Only a scheduled class that never had a registration; otherwise `409` (cancel it, so "
        "the members are told)."
    ),
)
async def manage_delete(class_id: ObjectId, session: DbSession) -> Envelope[DeletedOut]:
    live = await schedule.get_class(session, class_id, lock=True)
    await schedule.delete_class(session, live)
    return ok(DeletedOut(id=class_id))


@router.post(
    "/manage/live-classes/{class_id}/cancel",
    response_model=Envelope[CancelledOut],
    dependencies=[STAFF],
    summary="Cancel a scheduled live class and tell its members",
    description=CANCEL_HELP,
)
async def manage_cancel(
    request: Request, class_id: ObjectId, body: CancelIn, session: DbSession, mailer: MailerDep
) -> Envelope[CancelledOut]:
    caller = current_caller(request)
    live = await schedule.get_class(session, class_id, lock=True)
    return ok(await _cancel(session, caller, mailer, live, body))


# --- trainer portal ---------------------------------------------------------------------------


@router.post(
    "/trainer/live-classes",
    status_code=201,
    response_model=Envelope[ScheduledOut],
    dependencies=[TRAINER, idempotent],
    summary="Schedule one of my live classes (or a weekly series)",
    description=SCHEDULE_HELP,
)
async def trainer_schedule(
    request: Request, body: TrainerLiveClassIn, session: DbSession
) -> Envelope[ScheduledOut]:
    caller = current_caller(request)
    trainer = await my_trainer(session, caller.require_user_id(), lock=True)
    series, classes = await schedule.schedule(
        session,
        caller.require_client(),
        trainer,
        body,
        created_by=caller.user_id,
        now=utcnow(),
    )
    return ok(await _scheduled(session, caller, series, classes))


@router.get(
    "/trainer/live-classes",
    response_model=Envelope[Page[LiveClassOut]],
    dependencies=[TRAINER],
    summary="My live classes by start time",
)
async def trainer_list(
    request: Request,
    session: DbSession,
    paging: Paging,
    starts_from: Since = None,
    before: Before = None,
    status: StatusFilter = None,
) -> Envelope[Page[LiveClassOut]]:
    _window(starts_from, before)
    caller = current_caller(request)
    trainer = await my_trainer(session, caller.require_user_id())
    classes, total = await schedule.list_classes(
        session,
        paging,
        trainer_id=trainer.id,
        status=status,
        starts_from=starts_from,
        starts_before=before,
    )
    return ok(paging.page_of(await _views(session, caller.require_client(), classes), total))


@router.get(
    "/trainer/live-classes/{class_id}",
    response_model=Envelope[LiveClassOut],
    dependencies=[TRAINER],
    summary="One of my live classes",
)
async def trainer_get(
    request: Request, class_id: ObjectId, session: DbSession
) -> Envelope[LiveClassOut]:
    caller = current_caller(request)
    live = await schedule.class_for_trainer(session, caller, class_id)
    return ok(await _one_view(session, caller, live))


@router.patch(
    "/trainer/live-classes/{class_id}",
    response_model=Envelope[LiveClassOut],
    dependencies=[TRAINER],
    summary="Change one of my scheduled live classes",
    description=PATCH_HELP,
)
async def trainer_patch(
    request: Request,
    class_id: ObjectId,
    body: LiveClassPatch,
    session: DbSession,
    mailer: MailerDep,
) -> Envelope[LiveClassOut]:
    caller = current_caller(request)
    live = await schedule.class_for_trainer(session, caller, class_id, lock=True)
    live = await schedule.update_class(
        session, mailer, caller.require_client(), live, body, now=utcnow()
    )
    return ok(await _one_view(session, caller, live))


@router.post(
    "/trainer/live-classes/{class_id}/cancel",
    response_model=Envelope[CancelledOut],
    dependencies=[TRAINER],
    summary="Cancel one of my scheduled live classes and tell its members",
    description=CANCEL_HELP,
)
async def trainer_cancel(
    request: Request, class_id: ObjectId, body: CancelIn, session: DbSession, mailer: MailerDep
) -> Envelope[CancelledOut]:
    caller = current_caller(request)
    live = await schedule.class_for_trainer(session, caller, class_id, lock=True)
    return ok(await _cancel(session, caller, mailer, live, body))
