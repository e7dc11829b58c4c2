"""The trainer catalogue over HTTP: the apps' ``/trainers`` and the portal's own profile and
services (``/trainer/me``, ``/trainer/services``). Thin: parse, authorise, call the catalogue.

The apps' routes are gated by the ``coach_connect`` feature and need only the app's key (a
member's bearer token may ride along; browsing does not need it), like the content library.
The portal routes need a ``trainer`` login whose profile the studio linked; they are not
feature-gated, so a studio's trainers can prepare their profiles and services before the
studio switches coach connect on for its members.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from stvos.kit.deps import DbSession
from stvos.kit.idempotency import idempotent
from stvos.kit.policy import Auth, Feature, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok
from stvos.trainers import catalog
from stvos.trainers.catalog_schemas import (
    ServiceIn,
    ServiceOut,
    ServicePatch,
    ServiceRemoved,
    TrainerClassesPage,
    TrainerMe,
    TrainerMePatch,
    TrainerProfile,
    TrainerSummary,
)

router = api_router(tags=["trainers"])

_COACH = Feature.COACH_CONNECT.value


def _client_zone(request: Request) -> str:
    return current_caller(request).require_client().time_zone


# --- the apps' side ---------------------------------------------------------------------------


@router.get(
    "/trainers",
    response_model=Envelope[Page[TrainerSummary]],
    dependencies=[allow(Auth.API_KEY, feature=_COACH)],
    summary="Browse this app's trainers",
    description=(
        "Filters combine. `search` matches the name or bio (any case). `specialisation` is a "
        "specialisation name or slug in any case or spacing (`Pre & Post Natal`, "
        "`pre-post-natal`). `active` defaults to `true`; `false` lists deactivated profiles "
        "(whose detail pages stay `404`). Sorted by name. `timeZone` is the zone of the "
        "trainer's hours: their own, or the app's. `fromPrice` is the cheapest active service."
    ),
)
async def list_trainers(
    request: Request,
    session: DbSession,
    paging: Paging,
    search: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Part of the name or bio")
    ] = None,
    specialisation: Annotated[
        str | None, Query(min_length=1, max_length=60, description="A specialisation, any case")
    ] = None,
    active: Annotated[bool, Query(description="Active (default) or deactivated profiles")] = True,
) -> Envelope[Page[TrainerSummary]]:
    filters = catalog.TrainerFilters(
        search=search.strip() or None if search else None,
        specialisation=specialisation,
        active=active,
    )
    items, total = await catalog.list_trainers(session, filters, paging, _client_zone(request))
    return ok(paging.page_of(items, total))


@router.get(
    "/trainers/{trainer_id}",
    response_model=Envelope[TrainerProfile],
    dependencies=[allow(Auth.API_KEY, feature=_COACH)],
    summary="One trainer's profile with their active services",
    description="A deactivated trainer, or another app's, is `404 NOT_FOUND`.",
)
async def get_trainer(
    request: Request, trainer_id: ObjectId, session: DbSession
) -> Envelope[TrainerProfile]:
    return ok(await catalog.trainer_profile(session, trainer_id, _client_zone(request)))


@router.get(
    "/trainers/{trainer_id}/services",
    response_model=Envelope[Page[ServiceOut]],
    dependencies=[allow(Auth.API_KEY, feature=_COACH)],
    summary="A trainer's bookable services",
    description=(
        "Active services, shortest first. `price` is a decimal string with two places next to "
        "its `currency`. Book one with `GET /trainers/:id/availability?serviceId=` and "
        "`POST /trainers/:id/book`."
    ),
)
async def list_services(
    trainer_id: ObjectId, session: DbSession, paging: Paging
) -> Envelope[Page[ServiceOut]]:
    items, total = await catalog.public_services(session, trainer_id, paging)
    return ok(paging.page_of(items, total))


@router.get(
    "/trainers/{trainer_id}/classes",
    response_model=Envelope[TrainerClassesPage],
    dependencies=[allow(Auth.API_KEY, feature=_COACH)],
    summary="A trainer's published on-demand classes (newest first) and next group classes",
)
async def list_classes(
    request: Request, trainer_id: ObjectId, session: DbSession, paging: Paging
) -> Envelope[TrainerClassesPage]:
    live = Feature.LIVE_CLASSES.value in current_caller(request).require_client().enabled_features
    return ok(await catalog.trainer_classes_page(session, trainer_id, paging, live_enabled=live))


# --- the trainer portal: own profile ----------------------------------------------------------

_NO_PROFILE = (
    " A trainer login that no profile is linked to gets `403 FORBIDDEN` (the studio links "
    "profiles through trainer invites)."
)


@router.get(
    "/trainer/me",
    response_model=Envelope[TrainerMe],
    dependencies=[allow(Auth.TRAINER)],
    tags=["trainer portal"],
    summary="My trainer profile, with every service (active or not)",
    description=_NO_PROFILE.strip(),
)
async def get_me(request: Request, session: DbSession) -> Envelope[TrainerMe]:
    caller = current_caller(request)
    trainer = await catalog.own_trainer(session, caller.require_user_id())
    return ok(await catalog.my_profile(session, trainer, caller.require_client().time_zone))


@router.patch(
    "/trainer/me",
    response_model=Envelope[TrainerMe],
    dependencies=[allow(Auth.TRAINER)],
    tags=["trainer portal"],
    summary="Change my bio, portrait, specialisations, certifications or time zone",
    description=(
        "Partial. `specialisations` (1 to 20 names) and `certifications` replace the whole "
        "list; null clears them. `timeZone` null means the app's zone. The name and the active "
        "flag belong to the studio: sending them is `400`." + _NO_PROFILE
    ),
)
async def update_me(
    request: Request, body: TrainerMePatch, session: DbSession
) -> Envelope[TrainerMe]:
    caller = current_caller(request)
    trainer = await catalog.own_trainer(session, caller.require_user_id())
    await catalog.apply_profile(session, trainer, body.model_dump(exclude_unset=True))
    return ok(await catalog.my_profile(session, trainer, caller.require_client().time_zone))


# --- the trainer portal: own services ---------------------------------------------------------


@router.get(
    "/trainer/services",
    response_model=Envelope[Page[ServiceOut]],
    dependencies=[allow(Auth.TRAINER)],
    tags=["trainer portal"],
    summary="My services",
)
async def list_my_services(
    request: Request,
    session: DbSession,
    paging: Paging,
    active: Annotated[bool | None, Query(description="Only active (or inactive) ones")] = None,
) -> Envelope[Page[ServiceOut]]:
    trainer = await catalog.own_trainer(session, current_caller(request).require_user_id())
    items, total = await catalog.list_own_services(session, trainer, paging, active)
    return ok(paging.page_of(items, total))


@router.post(
    "/trainer/services",
    status_code=201,
    response_model=Envelope[ServiceOut],
    dependencies=[allow(Auth.TRAINER), idempotent],
    tags=["trainer portal"],
    summary="Add a bookable service",
    description=(
        "`durationMinutes` 5 to 480; `price` a decimal with at most two places (string or "
        "number), default currency GBP; `mode` `video` or `in_person` (then `location` is "
        "required); buffers 0 to 240 minutes; `minNoticeMinutes` up to 30 days; "
        "`maxDaysAhead` 1 to 365; `cancellationWindowHours` 0 to 720. Accepts an "
        "`Idempotency-Key`."
    ),
)
async def create_service(
    request: Request, body: ServiceIn, session: DbSession
) -> Envelope[ServiceOut]:
    trainer = await catalog.own_trainer(session, current_caller(request).require_user_id())
    return ok(await catalog.create_service(session, trainer, body))


@router.get(
    "/trainer/services/{service_id}",
    response_model=Envelope[ServiceOut],
    dependencies=[allow(Auth.TRAINER)],
    tags=["trainer portal"],
    summary="One of my services (another trainer's is 404)",
)
async def get_service(
    request: Request, service_id: ObjectId, session: DbSession
) -> Envelope[ServiceOut]:
    trainer = await catalog.own_trainer(session, current_caller(request).require_user_id())
    return ok(catalog.service_out(await catalog.own_service(session, trainer, service_id)))


@router.patch(
    "/trainer/services/{service_id}",
    response_model=Envelope[ServiceOut],
    dependencies=[allow(Auth.TRAINER)],
    tags=["trainer portal"],
    summary="Change one of my services",
    description=(
        "Partial; the same limits as creating. Switching to `video` drops the location. "
        "Existing bookings keep what was booked (name, price, mode, cancellation window)."
    ),
)
async def update_service(
    request: Request, service_id: ObjectId, body: ServicePatch, session: DbSession
) -> Envelope[ServiceOut]:
    trainer = await catalog.own_trainer(session, current_caller(request).require_user_id())
    changes = body.model_dump(exclude_unset=True)
    return ok(await catalog.update_service(session, trainer, service_id, changes))


@router.delete(
    "/trainer/services/{service_id}",
    response_model=Envelope[ServiceRemoved],
    dependencies=[allow(Auth.TRAINER)],
    tags=["trainer portal"],
    summary="Remove one of my services",
    description=(
        "A service that was never booked is deleted (`outcome: deleted`). One that bookings "
        "refer to is deactivated instead (`outcome: deactivated`): no longer listed or "
        "bookable, its bookings and their history untouched."
    ),
)
async def remove_service(
    request: Request, service_id: ObjectId, session: DbSession
) -> Envelope[ServiceRemoved]:
    trainer = await catalog.own_trainer(session, current_caller(request).require_user_id())
    outcome, service = await catalog.remove_service(session, trainer, service_id)
    return ok(ServiceRemoved(id=service_id, outcome=outcome, service=service))
