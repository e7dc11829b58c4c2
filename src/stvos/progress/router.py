"""/progress/*: thin HTTP over progress.service. Every route acts for the signed-in member."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query, Request

from stvos.kit.deps import DbSession
from stvos.kit.idempotency import idempotent
from stvos.kit.policy import Auth, Feature, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, Page, Paging, ok
from stvos.progress import service
from stvos.progress.schemas import EntryOut, KindName, NutritionIn, SummaryOut, WaterIn, WorkoutIn

router = api_router(tags=["progress"])


@router.post(
    "/progress/workout",
    status_code=201,
    response_model=Envelope[EntryOut],
    dependencies=[allow(Auth.USER, feature=Feature.WORKOUT_BUILDER), idempotent],
    summary="Log a finished workout (exercises with sets, duration, calories)",
)
async def log_workout(request: Request, body: WorkoutIn, session: DbSession) -> Envelope[EntryOut]:
    return ok(await service.log_workout(session, current_caller(request).require_user_id(), body))


@router.post(
    "/progress/nutrition",
    status_code=201,
    response_model=Envelope[EntryOut],
    dependencies=[allow(Auth.USER, feature=Feature.NUTRITION), idempotent],
    summary="Log a meal; its totals are computed from the items",
)
async def log_nutrition(
    request: Request, body: NutritionIn, session: DbSession
) -> Envelope[EntryOut]:
    return ok(await service.log_nutrition(session, current_caller(request).require_user_id(), body))


@router.post(
    "/progress/water",
    status_code=201,
    response_model=Envelope[EntryOut],
    dependencies=[allow(Auth.USER, feature=Feature.NUTRITION), idempotent],
    summary="Log water drunk",
)
async def log_water(request: Request, body: WaterIn, session: DbSession) -> Envelope[EntryOut]:
    return ok(await service.log_water(session, current_caller(request).require_user_id(), body))


@router.get(
    "/progress/summary",
    response_model=Envelope[SummaryOut],
    dependencies=[allow(Auth.USER)],
    summary="Per-day series, totals and workout streaks in the member's time zone",
)
async def summary(
    request: Request,
    session: DbSession,
    start: Annotated[
        date | None,
        Query(alias="from", description="First day (YYYY-MM-DD); default 6 days before 'to'"),
    ] = None,
    end: Annotated[
        date | None,
        Query(alias="to", description="Last day (YYYY-MM-DD); default today; at most 366 days"),
    ] = None,
) -> Envelope[SummaryOut]:
    return ok(await service.summary(session, current_caller(request).require_user_id(), start, end))


@router.get(
    "/progress/history",
    response_model=Envelope[Page[EntryOut]],
    dependencies=[allow(Auth.USER)],
    summary="Logged entries, newest first",
)
async def history(
    request: Request,
    session: DbSession,
    paging: Paging,
    kind: Annotated[KindName | None, Query(description="Only entries of this kind")] = None,
) -> Envelope[Page[EntryOut]]:
    return ok(
        await service.history(session, current_caller(request).require_user_id(), kind, paging)
    )
