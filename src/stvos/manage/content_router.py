"""/manage/categories, /manage/platform-categories and /manage/classes: the studio back office's
content library, for the client's staff (role client_admin). Thin HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.clock import utcnow
from stvos.kit.deps import DbSession
from stvos.kit.idempotency import idempotent
from stvos.kit.policy import Auth, allow
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok
from stvos.manage import content_service as service
from stvos.manage.content_schemas import (
    CategoryIn,
    CategoryPatch,
    ClassIn,
    ClassPatch,
    ClassState,
    Deleted,
    EnableIn,
    FeaturedIn,
    ManagedCategory,
    ManagedClass,
    Named,
    PlatformCategoryOut,
    PublishIn,
)
from stvos.models import Category, OnDemandClass

router = api_router(prefix="/api/v1/manage", tags=["manage: content"])
STAFF = allow(Auth.STAFF)


def _category_out(category: Category, class_count: int) -> ManagedCategory:
    return ManagedCategory.model_validate(
        {**{k: getattr(category, k) for k in _CATEGORY_FIELDS}, "class_count": class_count}
    )


_CATEGORY_FIELDS = (
    "id",
    "name",
    "slug",
    "description",
    "image_url",
    "sort_order",
    "is_active",
    "platform_category_id",
    "created_at",
    "updated_at",
)


async def _one_category(session: AsyncSession, category: Category) -> ManagedCategory:
    counts = await service.class_counts(session, [category.id])
    return _category_out(category, counts.get(category.id, 0))


async def _classes_out(session: AsyncSession, classes: list[OnDemandClass]) -> list[ManagedClass]:
    trainers, categories = await service.names_of(session, classes)
    now = utcnow()

    def named(names: dict[int, str], ref: int | None) -> Named | None:
        return Named(id=ref, name=names[ref]) if ref is not None and ref in names else None

    return [
        ManagedClass(
            id=c.id,
            name=c.name,
            description=c.description,
            thumbnail_url=c.thumbnail_url,
            video_url=c.video_url,
            video_provider=c.video_provider,
            duration=c.duration_minutes,
            intensity=c.intensity,
            is_premium=c.is_premium,
            equipment=list(c.equipment or []),
            tags=list(c.tags or []),
            trainer=named(trainers, c.trainer_id),
            category=named(categories, c.category_id),
            status=service.class_state(c, now),
            published_at=c.published_at,
            is_featured=c.is_featured,
            featured_order=c.featured_order if c.is_featured else None,
            play_count=c.play_count,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )
        for c in classes
    ]


async def _class_out(session: AsyncSession, cls: OnDemandClass) -> ManagedClass:
    return (await _classes_out(session, [cls]))[0]


# --- categories -------------------------------------------------------------------------------


@router.get(
    "/categories",
    response_model=Envelope[Page[ManagedCategory]],
    dependencies=[STAFF],
    summary="Every category of this app, active or not, in sort order",
)
async def list_categories(session: DbSession, paging: Paging) -> Envelope[Page[ManagedCategory]]:
    items, total, counts = await service.list_categories(session, paging)
    return ok(paging.page_of([_category_out(c, counts.get(c.id, 0)) for c in items], total))


@router.post(
    "/categories",
    status_code=201,
    response_model=Envelope[ManagedCategory],
    dependencies=[STAFF, idempotent],
    summary="Create a category (slug derived from the name unless given; 409 SLUG_TAKEN)",
)
async def create_category(body: CategoryIn, session: DbSession) -> Envelope[ManagedCategory]:
    category = await service.create_category(session, body)
    return ok(_category_out(category, 0))


@router.get(
    "/categories/{category_id}",
    response_model=Envelope[ManagedCategory],
    dependencies=[STAFF],
)
async def get_category(category_id: ObjectId, session: DbSession) -> Envelope[ManagedCategory]:
    return ok(await _one_category(session, await service.get_category(session, category_id)))


@router.patch(
    "/categories/{category_id}",
    response_model=Envelope[ManagedCategory],
    dependencies=[STAFF],
    summary="Change a category; a new name reaches its classes' search text",
)
async def update_category(
    category_id: ObjectId, body: CategoryPatch, session: DbSession
) -> Envelope[ManagedCategory]:
    category = await service.update_category(session, category_id, body)
    return ok(await _one_category(session, category))


@router.delete(
    "/categories/{category_id}",
    response_model=Envelope[Deleted],
    dependencies=[STAFF],
    summary="Delete a category no class uses (else 409 CATEGORY_IN_USE)",
)
async def delete_category(category_id: ObjectId, session: DbSession) -> Envelope[Deleted]:
    await service.delete_category(session, category_id)
    return ok(Deleted(id=category_id))


@router.get(
    "/platform-categories",
    response_model=Envelope[Page[PlatformCategoryOut]],
    dependencies=[STAFF],
    summary="The platform's category catalogue, with whether this app enabled each",
)
async def list_platform_categories(
    session: DbSession, paging: Paging
) -> Envelope[Page[PlatformCategoryOut]]:
    items, total = await service.list_platform_categories(session, paging)
    out = [
        PlatformCategoryOut(
            id=p.id,
            name=p.name,
            slug=p.slug,
            description=p.description,
            image_url=p.image_url,
            enabled=category_id is not None,
            category_id=category_id,
        )
        for p, category_id in items
    ]
    return ok(paging.page_of(out, total))


@router.post(
    "/platform-categories/{platform_category_id}/enable",
    status_code=201,
    response_model=Envelope[ManagedCategory],
    dependencies=[STAFF, idempotent],
    summary="Switch a platform category on: this app's own category made from it",
    description=(
        "Copies its name, slug, description and image into a category of this app, which the "
        "app then orders and edits as its own. Enabling again answers the existing category "
        "with `200`."
    ),
)
async def enable_platform_category(
    platform_category_id: ObjectId,
    session: DbSession,
    response: Response,
    body: EnableIn | None = None,
) -> Envelope[ManagedCategory]:
    category, created = await service.enable_platform_category(
        session, platform_category_id, sort_order=body.sort_order if body else None
    )
    if not created:
        response.status_code = 200
    return ok(await _one_category(session, category))


# --- classes ----------------------------------------------------------------------------------


@router.get(
    "/classes",
    response_model=Envelope[Page[ManagedClass]],
    dependencies=[STAFF],
    summary="This app's on-demand classes, drafts included, newest first",
)
async def list_classes(
    session: DbSession,
    paging: Paging,
    status: ClassState | None = None,
    category: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Category id")] = None,
    trainer: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Trainer id")] = None,
    search: Annotated[str | None, Query(max_length=100, description="Part of the name")] = None,
    featured: Annotated[
        bool | None, Query(description="true: only featured classes, in featured order")
    ] = None,
) -> Envelope[Page[ManagedClass]]:
    items, total = await service.list_classes(
        session,
        paging,
        status=status,
        category_id=category,
        trainer_id=trainer,
        search=search,
        featured=featured,
    )
    return ok(paging.page_of(await _classes_out(session, items), total))


@router.post(
    "/classes",
    status_code=201,
    response_model=Envelope[ManagedClass],
    dependencies=[STAFF, idempotent],
    summary="Create a class (a draft until published)",
)
async def create_class(body: ClassIn, session: DbSession) -> Envelope[ManagedClass]:
    return ok(await _class_out(session, await service.create_class(session, body)))


@router.put(
    "/classes/featured",
    response_model=Envelope[list[ManagedClass]],
    dependencies=[STAFF],
    summary="Feature exactly these classes, in this order (every other class is unfeatured)",
)
async def set_featured(body: FeaturedIn, session: DbSession) -> Envelope[list[ManagedClass]]:
    return ok(await _classes_out(session, await service.set_featured(session, body.class_ids)))


@router.get("/classes/{class_id}", response_model=Envelope[ManagedClass], dependencies=[STAFF])
async def get_class(class_id: ObjectId, session: DbSession) -> Envelope[ManagedClass]:
    return ok(await _class_out(session, await service.get_class(session, class_id)))


@router.patch(
    "/classes/{class_id}",
    response_model=Envelope[ManagedClass],
    dependencies=[STAFF],
    summary="Change a class (partial); null removes its trainer or category",
)
async def update_class(
    class_id: ObjectId, body: ClassPatch, session: DbSession
) -> Envelope[ManagedClass]:
    return ok(await _class_out(session, await service.update_class(session, class_id, body)))


@router.delete("/classes/{class_id}", response_model=Envelope[Deleted], dependencies=[STAFF])
async def delete_class(class_id: ObjectId, session: DbSession) -> Envelope[Deleted]:
    await service.delete_class(session, class_id)
    return ok(Deleted(id=class_id))


@router.post(
    "/classes/{class_id}/publish",
    response_model=Envelope[ManagedClass],
    dependencies=[STAFF],
    summary="Publish a draft now, or schedule it with a future publishAt",
    description="Only a draft can be published: otherwise `409 INVALID_STATE_TRANSITION`.",
)
async def publish_class(
    class_id: ObjectId, session: DbSession, body: PublishIn | None = None
) -> Envelope[ManagedClass]:
    publish_at = body.publish_at if body else None
    return ok(await _class_out(session, await service.publish_class(session, class_id, publish_at)))


@router.post(
    "/classes/{class_id}/unpublish",
    response_model=Envelope[ManagedClass],
    dependencies=[STAFF],
    summary="Take a published or scheduled class back to draft",
    description="A draft answers `409 INVALID_STATE_TRANSITION`.",
)
async def unpublish_class(class_id: ObjectId, session: DbSession) -> Envelope[ManagedClass]:
    return ok(await _class_out(session, await service.unpublish_class(session, class_id)))
