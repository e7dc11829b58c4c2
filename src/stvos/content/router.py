"""/content/* and /video/access/*: thin HTTP over content.service. Every route is gated by the
``classes`` feature."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Query, Request, Response

from stvos.content import service
from stvos.content.schemas import (
    CategoryOut,
    ClassAnswer,
    ClassSort,
    ClassSummary,
    DiscoverAnswer,
    IntensityName,
    VideoAccess,
)
from stvos.content.video import signing_key
from stvos.kit.deps import DbSession
from stvos.kit.policy import Auth, Feature, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok, ok_json
from stvos.playback import service as playback

router = api_router(tags=["content"])

_CLASSES = Feature.CLASSES.value
_LIVE = Feature.LIVE_CLASSES.value
_MAX_MINUTES = 24 * 60


@router.get(
    "/content/classes",
    response_model=Envelope[Page[ClassSummary]],
    dependencies=[allow(Auth.API_KEY, feature=_CLASSES)],
    summary="Browse the published on-demand classes",
    description=(
        "Filters combine. `category` is a category **name** (any case); `trainer` a trainer id; "
        "`minDuration`/`maxDuration` are minutes, inclusive. On-demand classes are never live: "
        "`isLive=true` answers an empty page, `false` (or absent) every class (live classes are "
        "under `/live/classes`). `sort`: `newest` (default, by publish time), `popular` (most "
        "played, then newest), `duration` (shortest first), `name` (A-Z, any case). No video "
        "URL here: ask `/video/access/:classId`."
    ),
)
async def list_classes(
    session: DbSession,
    paging: Paging,
    category: Annotated[
        str | None, Query(min_length=1, max_length=80, description="Category name, any case")
    ] = None,
    trainer: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Trainer id")] = None,
    intensity: Annotated[IntensityName | None, Query()] = None,
    min_duration: Annotated[
        int | None, Query(alias="minDuration", ge=0, le=_MAX_MINUTES, description="Minutes")
    ] = None,
    max_duration: Annotated[
        int | None, Query(alias="maxDuration", ge=0, le=_MAX_MINUTES, description="Minutes")
    ] = None,
    is_live: Annotated[
        bool | None,
        Query(alias="isLive", description="On-demand classes are never live: true gives none"),
    ] = None,
    sort: Annotated[ClassSort, Query()] = "newest",
) -> Envelope[Page[ClassSummary]]:
    filters = service.ClassFilters(
        category=category,
        trainer_id=trainer,
        intensity=intensity,
        min_duration=min_duration,
        max_duration=max_duration,
        is_live=is_live,
        sort=sort,
    )
    items, total = await service.list_classes(session, filters, paging)
    return ok(paging.page_of(items, total))


@router.get(
    "/content/classes/{class_id}",
    response_model=Envelope[ClassAnswer],
    dependencies=[allow(Auth.API_KEY, feature=_CLASSES)],
    summary="One published class with related classes",
    description="An unpublished class, or another app's, is `404 NOT_FOUND`. No video URL.",
)
async def get_class(class_id: ObjectId, session: DbSession) -> Envelope[ClassAnswer]:
    return ok(ClassAnswer(class_=await service.class_detail(session, class_id)))


@router.get(
    "/content/categories",
    response_model=Envelope[Page[CategoryOut]],
    dependencies=[allow(Auth.API_KEY, feature=_CLASSES)],
    summary="This app's active categories with their published class counts",
    description="In the studio's order (then by name). `classCount` counts published classes.",
)
async def list_categories(session: DbSession, paging: Paging) -> Envelope[Page[CategoryOut]]:
    items, total = await service.list_categories(session, paging)
    return ok(paging.page_of(items, total))


@router.get(
    "/content/discover",
    response_model=Envelope[DiscoverAnswer],
    dependencies=[allow(Auth.USER, feature=_CLASSES)],
    summary="The home screen: featured, continue watching, upcoming live, categories, new",
)
async def discover(request: Request, session: DbSession) -> Response:
    caller = current_caller(request)
    user_id = caller.require_user_id()
    # The live section follows the client's `live_classes` feature as the live routes' own
    # gate sees it (the client context established with the caller): no statement of its own.
    live_enabled = _LIVE in caller.require_client().enabled_features
    unfinished = await playback.continue_watching(session, user_id)
    answer = await service.discover(session, user_id, unfinished, live_enabled=live_enabled)
    return ok_json(answer)  # built from validated models: encoded once, not checked again


@router.get(
    "/video/access/{class_id}",
    response_model=Envelope[VideoAccess],
    dependencies=[allow(Auth.USER, feature=_CLASSES)],
    tags=["video"],
    summary="A short-lived signed playback URL of a class",
    description=(
        "The URL carries `expires` (unix seconds) and `signature` (HMAC-SHA256) parameters and "
        "stops working at `expiresAt`. Premium classes need premium access "
        "(`403 PREMIUM_REQUIRED`); an unpublished class, or another app's, is `404 NOT_FOUND`."
    ),
)
async def video_access(
    request: Request, class_id: ObjectId, session: DbSession
) -> Envelope[VideoAccess]:
    caller = current_caller(request)
    settings = request.app.state.settings
    key = signing_key(settings, request.app.state.accounts.signer)
    ttl = timedelta(seconds=settings.content.video_url_ttl_seconds)
    return ok(
        await service.video_access(session, class_id, caller.require_user_id(), key=key, ttl=ttl)
    )
