"""Reading the on-demand library: published classes, categories with counts, discover, and
signed video access.

Every query runs in the caller's client scope (the session filters tenant-owned models), so
nothing here names a client. A class is visible to the apps only when it is *published*:
status ``published`` and ``published_at`` not in the future. Every answer is built with a
constant number of statements, whatever the library size: a page of classes, then its
trainers and categories in one query each; discover joins them in (four statements in all).

The work of each statement is bounded by the page, not the library (migration 0014's indexes:
newest first is an index read backwards), except a list's total: an index-only range count, so
it still grows with the classes it counts. The categories' class counts do not: the database
keeps each category's count of published classes (``category_class_counts``, maintained by
triggers, migration 0017), and a count at ``now`` is that number less the category's classes
scheduled after ``now`` (a range count over the future ones only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    case,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts.service import current_user
from stvos.content.errors import ClassNotFound, PremiumRequired
from stvos.content.schemas import (
    CategoryBrief,
    CategoryOut,
    ClassDetail,
    ClassSort,
    ClassSummary,
    ContinueWatching,
    DiscoverAnswer,
    IntensityName,
    TrainerBrief,
    VideoAccess,
)
from stvos.content.video import sign_url
from stvos.kit.clock import utcnow
from stvos.kit.errors import ValidationFailed
from stvos.kit.orm import UtcDateTime
from stvos.kit.paging import fetch_page
from stvos.kit.schemas import FieldError, PageParams
from stvos.live import seats as live_seats
from stvos.live.member_schemas import LiveClassOut
from stvos.models import (
    Category,
    CategoryClassCount,
    ClassStatus,
    OnDemandClass,
    PlatformCategory,
    Trainer,
)

RELATED_LIMIT = 6
FEATURED_LIMIT = 10
NEW_THIS_WEEK_LIMIT = 10
NEW_WINDOW = timedelta(days=7)


def is_published(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """The condition that makes a class visible to the apps at ``now`` (a value, or a bind
    parameter of a statement built once)."""
    return and_(
        OnDemandClass.status == ClassStatus.PUBLISHED.value,
        OnDemandClass.published_at.is_not(None),
        OnDemandClass.published_at <= now,
    )


_NEWEST = (OnDemandClass.published_at.desc(), OnDemandClass.id.desc())
# The time of a statement built once and run many times (``functools.cache`` below): building
# one per request (subqueries, their column proxies) costs more CPU than running it.
NOW: BindParameter[datetime] = bindparam("now", type_=UtcDateTime())
_ORDER: dict[str, tuple[Any, ...]] = {
    "newest": _NEWEST,
    "popular": (OnDemandClass.play_count.desc(), *_NEWEST),
    "duration": (OnDemandClass.duration_minutes.asc(), *_NEWEST),
    "name": (func.lower(OnDemandClass.name).asc(), OnDemandClass.id.asc()),
}


# --- class summaries: the page, then its trainers and categories in one query each ------------
#
# Or, where one statement matters (discover, continue watching), the class rows with their
# trainer and category briefs joined in: ``with_briefs`` adds the columns, ``summary_of`` reads
# them back. Both paths build the same summaries.

_BRIEF_COLUMNS = (
    Trainer.id.label("brief_trainer_id"),
    Trainer.name.label("brief_trainer_name"),
    Trainer.image_url.label("brief_trainer_image"),
    Category.id.label("brief_category_id"),
    Category.name.label("brief_category_name"),
)


def with_briefs(query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    """``query`` (which selects from ``OnDemandClass``) plus its trainer's and category's brief
    columns, outer-joined (a class without either keeps its row)."""
    return (
        query.add_columns(*_BRIEF_COLUMNS)
        .outerjoin(Trainer, Trainer.id == OnDemandClass.trainer_id)
        .outerjoin(Category, Category.id == OnDemandClass.category_id)
    )


def summary_of(item: OnDemandClass, row: Any) -> ClassSummary:
    """The summary of ``item`` from a row of a :func:`with_briefs` query."""
    trainer = (
        TrainerBrief(
            id=row.brief_trainer_id, name=row.brief_trainer_name, image=row.brief_trainer_image
        )
        if row.brief_trainer_id is not None
        else None
    )
    category = (
        CategoryBrief(id=row.brief_category_id, name=row.brief_category_name)
        if row.brief_category_id is not None
        else None
    )
    return _summary(item, trainer, category)


async def summaries(session: AsyncSession, classes: Sequence[OnDemandClass]) -> list[ClassSummary]:
    """Wire summaries of ``classes``: at most two statements, whatever their number."""
    trainer_ids = {c.trainer_id for c in classes if c.trainer_id is not None}
    category_ids = {c.category_id for c in classes if c.category_id is not None}
    trainers: dict[int, TrainerBrief] = {}
    categories: dict[int, CategoryBrief] = {}
    if trainer_ids:
        rows = await session.execute(
            select(Trainer.id, Trainer.name, Trainer.image_url).where(Trainer.id.in_(trainer_ids))
        )
        trainers = {r.id: TrainerBrief(id=r.id, name=r.name, image=r.image_url) for r in rows}
    if category_ids:
        rows = await session.execute(
            select(Category.id, Category.name).where(Category.id.in_(category_ids))
        )
        categories = {r.id: CategoryBrief(id=r.id, name=r.name) for r in rows}
    return [
        _summary(
            c,
            trainers.get(c.trainer_id) if c.trainer_id is not None else None,
            categories.get(c.category_id) if c.category_id is not None else None,
        )
        for c in classes
    ]


def _summary(
    item: OnDemandClass, trainer: TrainerBrief | None, category: CategoryBrief | None
) -> ClassSummary:
    return ClassSummary(
        id=item.id,
        name=item.name,
        description=item.description,
        thumbnail_url=item.thumbnail_url,
        duration=item.duration_minutes,
        intensity=item.intensity,  # a str in the model; validated against the Literal
        is_premium=item.is_premium,
        equipment=list(item.equipment or []),
        tags=list(item.tags or []),
        trainer=trainer,
        category=category,
        published_at=item.published_at,
    )


# --- the class list ---------------------------------------------------------------------------


def _class_count(*conditions: ColumnElement[bool]) -> ScalarSelect[int]:
    """How many classes of the enclosing query's category satisfy ``conditions``: one
    index-only range count per category (``client_id, category_id, status, published_at,
    intensity``), never a scan of the whole library grouped afterwards."""
    return (
        select(func.count())
        .select_from(OnDemandClass)
        .where(OnDemandClass.category_id == Category.id, *conditions)
        .correlate(Category)
        .scalar_subquery()
    )


@dataclass(frozen=True, slots=True)
class ClassFilters:
    category: str | None = None  # category name, any case
    trainer_id: int | None = None
    intensity: IntensityName | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    # On-demand classes are never live: True selects nothing, False or None everything.
    is_live: bool | None = None
    sort: ClassSort = "newest"

    def check(self) -> None:
        if (
            self.min_duration is not None
            and self.max_duration is not None
            and self.min_duration > self.max_duration
        ):
            raise ValidationFailed(
                "minDuration must not be greater than maxDuration",
                details=[
                    FieldError(
                        field="minDuration", message="must not be greater than maxDuration"
                    ).model_dump()
                ],
            )

    def conditions(self) -> list[ColumnElement[bool]]:
        """What a class must satisfy, besides being published (the category aside: a name,
        resolved to the client's categories of that name)."""
        found: list[ColumnElement[bool]] = []
        if self.is_live:
            found.append(false())  # nothing on demand is live
        if self.trainer_id is not None:
            found.append(OnDemandClass.trainer_id == self.trainer_id)
        if self.intensity is not None:
            found.append(OnDemandClass.intensity == self.intensity)
        if self.min_duration is not None:
            found.append(OnDemandClass.duration_minutes >= self.min_duration)
        if self.max_duration is not None:
            found.append(OnDemandClass.duration_minutes <= self.max_duration)
        return found


async def list_classes(
    session: AsyncSession, filters: ClassFilters, paging: PageParams
) -> tuple[list[ClassSummary], int]:
    filters.check()
    conditions = [is_published(utcnow()), *filters.conditions()]
    if filters.category is not None:
        classes, total = await _page_in_category(
            session, filters.category, filters.sort, conditions, paging
        )
    else:
        query = select(OnDemandClass).where(*conditions)
        classes, total = await fetch_page(session, query, paging, *_ORDER[filters.sort])
    return await summaries(session, classes), total


async def _page_in_category(
    session: AsyncSession,
    category: str,
    sort: ClassSort,
    conditions: list[ColumnElement[bool]],
    paging: PageParams,
) -> tuple[list[OnDemandClass], int]:
    """The page of a category-filtered list and its total.

    The categories of that name come first, each with its count of matching classes (one
    statement: an index-only range count per category); the page then names the category ids,
    so it is read from the ``(client_id, category_id, status, published_at, ...)`` index newest
    first and stops at the page, whether the category holds few matches or many. No category
    or no match: no page query."""
    found = await session.execute(
        select(Category.id, _class_count(*conditions)).where(
            func.lower(Category.name) == func.lower(category)
        )
    )
    counts = {category_id: count for category_id, count in found}
    total = sum(counts.values())
    if not total or paging.offset >= total:
        return [], total
    in_category = OnDemandClass.category_id.in_([c for c, count in counts.items() if count])
    rows = await session.scalars(
        select(OnDemandClass)
        .where(in_category, *conditions)
        .order_by(*_ORDER[sort])
        .offset(paging.offset)
        .limit(paging.limit)
    )
    return list(rows), total


# --- one class --------------------------------------------------------------------------------


async def published_class(session: AsyncSession, class_id: int) -> OnDemandClass:
    """The published class ``class_id`` of the caller's client, else 404."""
    found = await session.scalar(
        select(OnDemandClass).where(OnDemandClass.id == class_id, is_published(utcnow()))
    )
    if found is None:
        raise ClassNotFound()
    return found


async def _related(session: AsyncSession, item: OnDemandClass) -> list[OnDemandClass]:
    same_category = (
        OnDemandClass.category_id == item.category_id if item.category_id is not None else None
    )
    same_trainer = (
        OnDemandClass.trainer_id == item.trainer_id if item.trainer_id is not None else None
    )
    if same_category is None and same_trainer is None:
        return []
    order: list[Any] = list(_NEWEST)
    if same_category is not None and same_trainer is not None:
        matches = or_(same_category, same_trainer)
        # Same category and trainer, then same category, then same trainer.
        order.insert(0, case((and_(same_category, same_trainer), 0), (same_category, 1), else_=2))
    else:
        matches = same_category if same_category is not None else same_trainer  # type: ignore[assignment]
    rows = await session.scalars(
        select(OnDemandClass)
        .where(is_published(utcnow()), OnDemandClass.id != item.id, matches)
        .order_by(*order)
        .limit(RELATED_LIMIT)
    )
    return list(rows)


async def class_detail(session: AsyncSession, class_id: int) -> ClassDetail:
    item = await published_class(session, class_id)
    related = await _related(session, item)
    main, *others = await summaries(session, [item, *related])
    return ClassDetail(**dict(main), related_classes=others)


# --- categories -------------------------------------------------------------------------------


def _active_categories() -> ColumnElement[bool]:
    return Category.is_active.is_(True)


def _visible_class_count(now: ColumnElement[datetime]) -> ColumnElement[int]:
    """The enclosing query's category's count of classes published at ``now``, exact and at a
    cost that does not grow with the library: the kept count of its published classes (joined
    by :func:`_categories_query`; no row: none) less those scheduled after ``now``, an
    index range count over the future classes alone (``client_id, category_id, status,
    published_at``)."""
    scheduled = _class_count(
        OnDemandClass.client_id == Category.client_id,
        OnDemandClass.status == ClassStatus.PUBLISHED.value,
        OnDemandClass.published_at.is_not(None),
        OnDemandClass.published_at > now,
    )
    return func.coalesce(CategoryClassCount.published_count, 0) - scheduled


@cache
def _categories_query() -> Select[*tuple[Any, ...]]:
    """The client's active categories with their published class counts, in display order.

    Built once (see :data:`NOW`); run it with ``{"now": ...}``."""
    return (
        select(
            Category.id,
            Category.name,
            Category.slug,
            func.coalesce(Category.description, PlatformCategory.description).label("description"),
            func.coalesce(Category.image_url, PlatformCategory.image_url).label("image"),
            _visible_class_count(NOW).label("class_count"),
        )
        .outerjoin(PlatformCategory, PlatformCategory.id == Category.platform_category_id)
        .outerjoin(
            CategoryClassCount,
            and_(
                CategoryClassCount.client_id == Category.client_id,
                CategoryClassCount.category_id == Category.id,
            ),
        )
        .where(_active_categories())
        .order_by(Category.sort_order, func.lower(Category.name), Category.id)
    )


async def all_categories(session: AsyncSession) -> list[CategoryOut]:
    """Every active category with its published class count: one statement."""
    rows = await session.execute(_categories_query(), {"now": utcnow()})
    return [CategoryOut.model_validate(row._mapping) for row in rows]


async def list_categories(
    session: AsyncSession, paging: PageParams
) -> tuple[list[CategoryOut], int]:
    """A page of the active categories with their counts, and how many there are (counted
    without the class counts: each active category is one row)."""
    total = await session.scalar(select(func.count(Category.id)).where(_active_categories()))
    rows = await session.execute(
        _categories_query().offset(paging.offset).limit(paging.limit), {"now": utcnow()}
    )
    return [CategoryOut.model_validate(row._mapping) for row in rows], total or 0


# --- discover ---------------------------------------------------------------------------------
#
# Four statements, whatever the library size: featured and new this week (one UNION ALL, the
# summaries' trainers and categories joined in), continue watching (playback, one statement),
# upcoming live (one statement) and the categories with their counts (one statement).

_FEATURED, _NEW = 0, 1


@cache
def _featured_and_new_query() -> Select[*tuple[Any, ...]]:
    """The statement of :func:`_featured_and_new`, built once; run with ``now`` and
    ``new_since`` (the start of the new-this-week window)."""
    featured = (
        select(OnDemandClass.id.label("class_id"), literal(_FEATURED).label("section"))
        .where(is_published(NOW), OnDemandClass.is_featured.is_(True))
        .order_by(OnDemandClass.featured_order, *_NEWEST)
        .limit(FEATURED_LIMIT)
        .subquery()
    )
    new = (
        select(OnDemandClass.id.label("class_id"), literal(_NEW).label("section"))
        .where(is_published(NOW), OnDemandClass.published_at > bindparam("new_since"))
        .order_by(*_NEWEST)
        .limit(NEW_THIS_WEEK_LIMIT)
        .subquery()
    )
    picked = union_all(select(featured), select(new)).subquery("picked")
    in_featured_order = case(
        (picked.c.section == _FEATURED, OnDemandClass.featured_order), else_=None
    )
    return with_briefs(
        select(OnDemandClass, picked.c.section).join(picked, picked.c.class_id == OnDemandClass.id)
    ).order_by(picked.c.section, in_featured_order, *_NEWEST)


async def _featured_and_new(
    session: AsyncSession, now: datetime
) -> tuple[list[ClassSummary], list[ClassSummary]]:
    """The featured classes and those new this week, with their summaries: one statement.

    Each section is picked (ordered and limited) in its own subquery of ids; the two are glued
    with UNION ALL and the class rows read once, with their briefs, in section order (the
    featured by ``featured_order``, then both newest first, as the sections were picked)."""
    rows = await session.execute(
        _featured_and_new_query(), {"now": now, "new_since": now - NEW_WINDOW}
    )
    sections: tuple[list[ClassSummary], list[ClassSummary]] = ([], [])
    for row in rows:
        sections[row.section].append(summary_of(row[0], row))
    return sections


async def upcoming_live(
    session: AsyncSession, user_id: int, *, live_enabled: bool
) -> list[LiveClassOut]:
    """The next scheduled or live classes, soonest first, with their free seats and the
    member's own registration; empty (and no statement) when the client has live classes
    switched off (``live_enabled``: the caller's client context, as the live routes' gate)."""
    if not live_enabled:
        return []
    return await live_seats.upcoming(session, now=utcnow(), user_id=user_id)


async def discover(
    session: AsyncSession,
    user_id: int,
    continue_watching: list[dict[str, Any]],
    *,
    live_enabled: bool,
) -> DiscoverAnswer:
    """The home screen; ``continue_watching`` comes from the playback domain."""
    featured, new = await _featured_and_new(session, utcnow())
    return DiscoverAnswer(
        featured=featured,
        continue_watching=[ContinueWatching.model_validate(c) for c in continue_watching],
        upcoming_live=await upcoming_live(session, user_id, live_enabled=live_enabled),
        categories=await all_categories(session),
        new_this_week=new,
    )


# --- video access -----------------------------------------------------------------------------


async def video_access(
    session: AsyncSession, class_id: int, user_id: int, *, key: bytes, ttl: timedelta
) -> VideoAccess:
    """A signed playback URL of a published class, valid for ``ttl``.

    Premium classes need ``users.premium_until`` in the future, else 403 PREMIUM_REQUIRED.
    """
    item = await published_class(session, class_id)
    now = utcnow()
    if item.is_premium:
        user = await current_user(session, user_id)
        if user.premium_until is None or user.premium_until <= now:
            raise PremiumRequired()
    expires_at = (now + ttl).replace(microsecond=0)  # the URL carries whole seconds
    return VideoAccess(
        class_id=item.id,
        url=sign_url(item.video_url, key, expires_at),
        provider=item.video_provider,
        expires_at=expires_at,
    )
