"""The studio back office's content: the client's categories, the platform catalogue it enables
categories from, and its on-demand classes (drafts, publishing, featuring).

Runs in the staff member's client scope: the tenant filter limits every query to that client, so
another client's category, trainer or class is simply not found. Platform categories are
platform data (not tenant-owned): read here with a plain select, never written.

``OnDemandClass.search_people`` holds "<trainer name> <category name>" for full-text search. It
is set here whenever a class is created or changes trainer or category, and refreshed in SQL by
:func:`refresh_search_people` when a trainer or category is renamed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.clock import utcnow
from stvos.kit.errors import NotFound, ValidationFailed
from stvos.kit.paging import fetch_page
from stvos.kit.schemas import PageParams
from stvos.manage.content_schemas import (
    CategoryIn,
    CategoryPatch,
    ClassIn,
    ClassPatch,
    ClassState,
)
from stvos.manage.errors import (
    CategoryInUse,
    CategoryNotFound,
    ClassNotFound,
    InvalidTransition,
    SlugTaken,
)
from stvos.models import Category, ClassStatus, OnDemandClass, PlatformCategory, Trainer

# --- search_people ----------------------------------------------------------------------------


def people_text(trainer_name: str | None, category_name: str | None) -> str:
    """What ``search_people`` holds: the trainer's and the category's names."""
    return " ".join(part for part in (trainer_name, category_name) if part)[:400]


def _people_expression() -> ColumnElement[str]:
    """The SQL twin of :func:`people_text`, correlated to the class being updated."""
    trainer = (
        select(Trainer.name)
        .where(Trainer.client_id == OnDemandClass.client_id, Trainer.id == OnDemandClass.trainer_id)
        .scalar_subquery()
    )
    category = (
        select(Category.name)
        .where(
            Category.client_id == OnDemandClass.client_id, Category.id == OnDemandClass.category_id
        )
        .scalar_subquery()
    )
    joined = func.coalesce(trainer, "") + " " + func.coalesce(category, "")
    return func.substr(func.trim(joined), 1, 400)


async def refresh_search_people(
    session: AsyncSession, *, trainer_id: int | None = None, category_id: int | None = None
) -> None:
    """Recompute ``search_people`` of the classes of a renamed trainer or category, in SQL.

    Classes already loaded in ``session`` are refreshed on their next load.
    """
    conditions = []
    if trainer_id is not None:
        conditions.append(OnDemandClass.trainer_id == trainer_id)
    if category_id is not None:
        conditions.append(OnDemandClass.category_id == category_id)
    if not conditions:
        return
    await session.execute(
        update(OnDemandClass)
        .where(or_(*conditions))
        .values(search_people=_people_expression())
        .execution_options(synchronize_session=False)
    )
    for obj in session.identity_map.values():
        if isinstance(obj, OnDemandClass):
            session.expire(obj, ["search_people"])


# --- categories -------------------------------------------------------------------------------


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80].rstrip("-") or "category"


async def list_categories(
    session: AsyncSession, paging: PageParams
) -> tuple[list[Category], int, dict[int, int]]:
    """Every category of the app, active or not, in sort order; with class counts."""
    items, total = await fetch_page(
        session, select(Category), paging, Category.sort_order, Category.name, Category.id
    )
    return items, total, await class_counts(session, [c.id for c in items])


async def class_counts(session: AsyncSession, category_ids: Sequence[int]) -> dict[int, int]:
    if not category_ids:
        return {}
    rows = await session.execute(
        select(OnDemandClass.category_id, func.count())
        .where(OnDemandClass.category_id.in_(category_ids))
        .group_by(OnDemandClass.category_id)
    )
    return {category_id: count for category_id, count in rows if category_id is not None}


async def get_category(session: AsyncSession, category_id: int) -> Category:
    category = await session.scalar(select(Category).where(Category.id == category_id))
    if category is None:
        raise CategoryNotFound()
    return category


async def _slug_free(session: AsyncSession, slug: str, *, but: int | None = None) -> None:
    query = select(Category.id).where(Category.slug == slug)
    if but is not None:
        query = query.where(Category.id != but)
    if await session.scalar(query) is not None:
        raise SlugTaken(details=[{"field": "slug", "message": f"'{slug}' is already used"}])


async def _flush_category(session: AsyncSession, category: Category) -> None:
    """Flush in a savepoint: a concurrent insert of the same slug surfaces as 409, not 500."""
    try:
        async with session.begin_nested():
            session.add(category)
            await session.flush()
    except IntegrityError:
        raise SlugTaken(
            details=[{"field": "slug", "message": f"'{category.slug}' is already used"}]
        ) from None


async def create_category(session: AsyncSession, body: CategoryIn) -> Category:
    slug = body.slug or slugify(body.name)
    await _slug_free(session, slug)
    category = Category(
        name=body.name,
        slug=slug,
        description=body.description,
        image_url=str(body.image_url) if body.image_url else None,
        sort_order=body.sort_order,
        is_active=body.is_active,
    )
    await _flush_category(session, category)
    return category


async def update_category(session: AsyncSession, category_id: int, body: CategoryPatch) -> Category:
    category = await get_category(session, category_id)
    changes = body.model_dump(exclude_unset=True)
    if "slug" in changes and changes["slug"] != category.slug:
        await _slug_free(session, changes["slug"], but=category.id)
    if changes.get("image_url") is not None:
        changes["image_url"] = str(changes["image_url"])
    renamed = "name" in changes and changes["name"] != category.name
    for field, value in changes.items():
        setattr(category, field, value)
    await _flush_category(session, category)
    if renamed:
        await refresh_search_people(session, category_id=category.id)
    return category


async def delete_category(session: AsyncSession, category_id: int) -> None:
    category = await get_category(session, category_id)
    used = await session.scalar(select(exists().where(OnDemandClass.category_id == category.id)))
    if used:
        raise CategoryInUse()
    try:
        async with session.begin_nested():
            await session.delete(category)
            await session.flush()
    except IntegrityError:  # a class took it up meanwhile (the reference refuses the delete)
        raise CategoryInUse() from None


async def list_platform_categories(
    session: AsyncSession, paging: PageParams
) -> tuple[list[tuple[PlatformCategory, int | None]], int]:
    """The platform's catalogue, each with this app's category made from it (or None)."""
    items, total = await fetch_page(
        session, select(PlatformCategory), paging, PlatformCategory.name, PlatformCategory.id
    )
    enabled: dict[int, int] = {}
    if items:
        rows = await session.execute(
            select(Category.platform_category_id, Category.id).where(
                Category.platform_category_id.in_([p.id for p in items])
            )
        )
        enabled = {pid: cid for pid, cid in rows if pid is not None}
    return [(p, enabled.get(p.id)) for p in items], total


async def enable_platform_category(
    session: AsyncSession, platform_category_id: int, *, sort_order: int | None
) -> tuple[Category, bool]:
    """This app's category made from a platform one; made now unless it exists (then False)."""
    platform = await session.scalar(
        select(PlatformCategory).where(PlatformCategory.id == platform_category_id)
    )
    if platform is None:
        raise NotFound("No such platform category")
    query = select(Category).where(Category.platform_category_id == platform.id)
    existing = await session.scalar(query)
    if existing is not None:
        return existing, False
    await _slug_free(session, platform.slug)
    category = Category(
        name=platform.name,
        slug=platform.slug,
        description=platform.description,
        image_url=platform.image_url,
        sort_order=sort_order if sort_order is not None else 0,
        is_active=True,
        platform_category_id=platform.id,
    )
    try:
        async with session.begin_nested():
            session.add(category)
            await session.flush()
    except IntegrityError:
        # A concurrent enable won; answer its category (or the slug clash, if that was it).
        winner = await session.scalar(query)
        if winner is None:
            raise SlugTaken() from None
        return winner, False
    return category, True


# --- classes ----------------------------------------------------------------------------------


def class_state(cls: OnDemandClass, now: datetime) -> ClassState:
    if cls.status != ClassStatus.PUBLISHED.value or cls.published_at is None:
        return "draft"
    return "scheduled" if cls.published_at > now else "published"


def _state_condition(state: ClassState, now: datetime) -> ColumnElement[bool]:
    """The SQL twin of :func:`class_state`."""
    published = OnDemandClass.status == ClassStatus.PUBLISHED.value
    if state == "draft":
        return OnDemandClass.status != ClassStatus.PUBLISHED.value
    if state == "scheduled":
        return published & (OnDemandClass.published_at > now)
    return published & (OnDemandClass.published_at <= now)


async def get_class(session: AsyncSession, class_id: int) -> OnDemandClass:
    found = await session.scalar(select(OnDemandClass).where(OnDemandClass.id == class_id))
    if found is None:
        raise ClassNotFound()
    return found


async def list_classes(
    session: AsyncSession,
    paging: PageParams,
    *,
    status: ClassState | None = None,
    category_id: int | None = None,
    trainer_id: int | None = None,
    search: str | None = None,
    featured: bool | None = None,
) -> tuple[list[OnDemandClass], int]:
    """Drafts included; newest first (featured order when asking for featured classes)."""
    query = select(OnDemandClass)
    if status is not None:
        query = query.where(_state_condition(status, utcnow()))
    if category_id is not None:
        query = query.where(OnDemandClass.category_id == category_id)
    if trainer_id is not None:
        query = query.where(OnDemandClass.trainer_id == trainer_id)
    term = (search or "").strip().lower()
    if term:
        query = query.where(func.lower(OnDemandClass.name).contains(term, autoescape=True))
    order: tuple[Any, ...] = (OnDemandClass.created_at.desc(), OnDemandClass.id.desc())
    if featured is not None:
        query = query.where(OnDemandClass.is_featured.is_(featured))
        if featured:
            order = (OnDemandClass.featured_order, OnDemandClass.id)
    return await fetch_page(session, query, paging, *order)


async def names_of(
    session: AsyncSession, classes: Iterable[OnDemandClass]
) -> tuple[dict[int, str], dict[int, str]]:
    """Trainer and category names of ``classes``: two queries, whatever their number."""
    classes = list(classes)
    trainer_ids = {c.trainer_id for c in classes if c.trainer_id is not None}
    category_ids = {c.category_id for c in classes if c.category_id is not None}
    trainers: dict[int, str] = {}
    categories: dict[int, str] = {}
    if trainer_ids:
        rows = await session.execute(
            select(Trainer.id, Trainer.name).where(Trainer.id.in_(trainer_ids))
        )
        trainers = {key: name for key, name in rows}
    if category_ids:
        rows = await session.execute(
            select(Category.id, Category.name).where(Category.id.in_(category_ids))
        )
        categories = {key: name for key, name in rows}
    return trainers, categories


async def _trainer_named(session: AsyncSession, trainer_id: int | None) -> Trainer | None:
    if trainer_id is None:
        return None
    trainer = await session.scalar(select(Trainer).where(Trainer.id == trainer_id))
    if trainer is None:
        raise ValidationFailed(
            "No such trainer in this app",
            details=[{"field": "trainerId", "message": "No such trainer in this app"}],
        )
    return trainer


async def _category_named(session: AsyncSession, category_id: int | None) -> Category | None:
    if category_id is None:
        return None
    category = await session.scalar(select(Category).where(Category.id == category_id))
    if category is None:
        raise ValidationFailed(
            "No such category in this app",
            details=[{"field": "categoryId", "message": "No such category in this app"}],
        )
    return category


_COLUMNS = {"duration": "duration_minutes"}


async def create_class(session: AsyncSession, body: ClassIn) -> OnDemandClass:
    trainer = await _trainer_named(session, body.trainer_id)
    category = await _category_named(session, body.category_id)
    cls = OnDemandClass(
        name=body.name,
        description=body.description,
        thumbnail_url=str(body.thumbnail_url) if body.thumbnail_url else None,
        video_url=str(body.video_url),
        video_provider=body.video_provider,
        duration_minutes=body.duration,
        intensity=body.intensity,
        is_premium=body.is_premium,
        equipment=body.equipment,
        tags=body.tags,
        trainer_id=trainer.id if trainer else None,
        category_id=category.id if category else None,
        status=ClassStatus.DRAFT.value,
        is_featured=False,
        featured_order=0,
        play_count=0,
        search_people=people_text(
            trainer.name if trainer else None, category.name if category else None
        ),
    )
    session.add(cls)
    await session.flush()
    return cls


async def update_class(session: AsyncSession, class_id: int, body: ClassPatch) -> OnDemandClass:
    cls = await get_class(session, class_id)
    changes = body.model_dump(exclude_unset=True)
    people_changed = False
    if "trainer_id" in changes:
        await _trainer_named(session, changes["trainer_id"])
        people_changed = True
    if "category_id" in changes:
        await _category_named(session, changes["category_id"])
        people_changed = True
    for field in ("thumbnail_url", "video_url"):
        if changes.get(field) is not None:
            changes[field] = str(changes[field])
    for field, value in changes.items():
        setattr(cls, _COLUMNS.get(field, field), value)
    if people_changed:
        trainer = await _trainer_named(session, cls.trainer_id)
        category = await _category_named(session, cls.category_id)
        cls.search_people = people_text(
            trainer.name if trainer else None, category.name if category else None
        )
    await session.flush()
    return cls


async def delete_class(session: AsyncSession, class_id: int) -> None:
    cls = await get_class(session, class_id)
    await session.delete(cls)
    await session.flush()


async def _transition(
    session: AsyncSession, cls: OnDemandClass, *, allowed_from: str, values: dict[str, Any]
) -> OnDemandClass:
    """An atomic conditional update: of two racing changes, only the legal one applies."""
    changed = await session.execute(
        update(OnDemandClass)
        .where(OnDemandClass.id == cls.id, OnDemandClass.status == allowed_from)
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        state = class_state(cls, utcnow())
        raise InvalidTransition(f"This class is {state}", details={"status": state})
    await session.refresh(cls)
    return cls


async def publish_class(
    session: AsyncSession, class_id: int, publish_at: datetime | None
) -> OnDemandClass:
    """Draft -> published now, or scheduled when ``publish_at`` is ahead."""
    cls = await get_class(session, class_id)
    return await _transition(
        session,
        cls,
        allowed_from=ClassStatus.DRAFT.value,
        values={"status": ClassStatus.PUBLISHED.value, "published_at": publish_at or utcnow()},
    )


async def unpublish_class(session: AsyncSession, class_id: int) -> OnDemandClass:
    """Published (or scheduled) -> draft. Its featured place is kept for when it returns."""
    cls = await get_class(session, class_id)
    return await _transition(
        session,
        cls,
        allowed_from=ClassStatus.PUBLISHED.value,
        values={"status": ClassStatus.DRAFT.value, "published_at": None},
    )


async def set_featured(session: AsyncSession, class_ids: list[int]) -> list[OnDemandClass]:
    """Feature exactly ``class_ids``, in that order; every other class is unfeatured."""
    found: dict[int, OnDemandClass] = {}
    if class_ids:
        rows = await session.scalars(select(OnDemandClass).where(OnDemandClass.id.in_(class_ids)))
        found = {c.id: c for c in rows}
    unknown = [i for i in class_ids if i not in found]
    if unknown:
        raise ValidationFailed(
            "Unknown class ids",
            details=[
                {"field": "classIds", "message": f"No such class: {', '.join(map(str, unknown))}"}
            ],
        )
    await session.execute(
        update(OnDemandClass)
        .where(OnDemandClass.is_featured.is_(True))
        .values(is_featured=False, featured_order=0)
        .execution_options(synchronize_session=False)
    )
    now = utcnow()
    for position, class_id in enumerate(class_ids, start=1):
        await session.execute(
            update(OnDemandClass)
            .where(OnDemandClass.id == class_id)
            .values(is_featured=True, featured_order=position, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    if not class_ids:
        return []
    rows = await session.scalars(
        select(OnDemandClass)
        .where(OnDemandClass.id.in_(class_ids))
        .order_by(OnDemandClass.featured_order)
        .execution_options(populate_existing=True)
    )
    return list(rows)
