"""The partner's members: list (search, active filter, sorting), detail with viewing history,
and the CSV export.

A page costs a constant number of statements whatever its size: one count and one select that
joins per-member aggregates (ledger usage, latest watching, session count) as ``GROUP BY``
sub-queries, never a query per member.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import Select, and_, case, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.clock import utcnow
from stvos.kit.policy import Caller
from stvos.kit.schemas import PageParams
from stvos.models import (
    ClassProgress,
    OnDemandClass,
    PartnerMembership,
    PlaybackSession,
    User,
    WatchLedger,
)
from stvos.partners.errors import MemberNotFound
from stvos.partners.insights import (
    ACTIVE_WINDOW,
    PartnerView,
    counted_ledger,
    dialect_of,
    in_days,
    last_active_expr,
    last_watched_subquery,
    load_partner,
    minutes,
)

MemberStatus = Literal["active", "inactive"]
MemberSort = Literal["joined", "lastActive", "watchTime"]
HISTORY_LIMIT = 50
EXPORT_HEADER = (
    "userId",
    "email",
    "name",
    "joinedAt",
    "accessUntil",
    "premium",
    "lastActiveAt",
    "active",
    "watchTimeMinutes",
    "classesWatched",
    "completions",
    "sessions",
)


def _usage_subquery(view: PartnerView, dialect: str) -> Any:
    """Per member: ledger seconds, distinct classes with watch time, completions since joining."""
    return (
        select(
            WatchLedger.user_id.label("user_id"),
            func.sum(WatchLedger.watched_seconds).label("seconds"),
            func.count(
                distinct(case((WatchLedger.watched_seconds > 0, WatchLedger.class_id)))
            ).label("classes"),
            func.sum(WatchLedger.completions).label("completions"),
        )
        .join(PartnerMembership, counted_ledger(view, dialect))
        .group_by(WatchLedger.user_id)
        .subquery("usage")
    )


def _sessions_subquery(view: PartnerView) -> Any:
    """Per member: playback sessions started since joining."""
    return (
        select(
            PlaybackSession.user_id.label("user_id"),
            func.count(PlaybackSession.id).label("sessions"),
        )
        .join(
            PartnerMembership,
            and_(
                PartnerMembership.user_id == PlaybackSession.user_id,
                PartnerMembership.partner_id == view.id,
                PlaybackSession.started_at >= PartnerMembership.joined_at,
            ),
        )
        .group_by(PlaybackSession.user_id)
        .subquery("session_counts")
    )


def _members_query(
    view: PartnerView,
    dialect: str,
    *,
    search: str | None = None,
    status: MemberStatus | None = None,
    user_id: int | None = None,
) -> tuple[Select[Any], dict[str, Any]]:
    usage = _usage_subquery(view, dialect)
    sessions = _sessions_subquery(view)
    last_watched = last_watched_subquery(view)
    last_active = last_active_expr(last_watched).label("last_active_at")
    seconds = func.coalesce(usage.c.seconds, 0).label("seconds")
    query = (
        select(
            PartnerMembership.id.label("membership_id"),
            PartnerMembership.user_id,
            PartnerMembership.joined_at,
            PartnerMembership.access_until,
            PartnerMembership.premium,
            User.email,
            User.name,
            User.deleted_at,
            last_active,
            seconds,
            func.coalesce(usage.c.classes, 0).label("classes"),
            func.coalesce(usage.c.completions, 0).label("completions"),
            func.coalesce(sessions.c.sessions, 0).label("sessions"),
        )
        .join(User, User.id == PartnerMembership.user_id)
        .outerjoin(usage, usage.c.user_id == PartnerMembership.user_id)
        .outerjoin(sessions, sessions.c.user_id == PartnerMembership.user_id)
        .outerjoin(last_watched, last_watched.c.user_id == PartnerMembership.user_id)
        .where(PartnerMembership.partner_id == view.id)
    )
    if user_id is not None:
        query = query.where(PartnerMembership.user_id == user_id)
    if search:
        pattern = "%" + _escape_like(search.lower()) + "%"
        query = query.where(
            User.deleted_at.is_(None),  # an erased member has no email or name to match
            or_(
                func.lower(User.email).like(pattern, escape="\\"),
                func.lower(func.coalesce(User.name, "")).like(pattern, escape="\\"),
            ),
        )
    cutoff = utcnow() - ACTIVE_WINDOW
    expression = last_active_expr(last_watched)
    if status == "active":
        query = query.where(expression >= cutoff)
    elif status == "inactive":
        query = query.where(or_(expression.is_(None), expression < cutoff))
    return query, {"last_active": expression, "seconds": func.coalesce(usage.c.seconds, 0)}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _order(sort: MemberSort, columns: dict[str, Any]) -> tuple[Any, ...]:
    tie = (PartnerMembership.joined_at.desc(), PartnerMembership.id.desc())
    if sort == "lastActive":
        return (columns["last_active"].desc().nulls_last(), *tie)
    if sort == "watchTime":
        return (columns["seconds"].desc(), *tie)
    return tie


def _member_out(row: Any) -> dict[str, Any]:
    erased = row.deleted_at is not None
    last_active = row.last_active_at
    return {
        "user_id": row.user_id,
        "email": None if erased else row.email,
        "name": None if erased else row.name,
        "erased": erased,
        "joined_at": row.joined_at,
        "access_until": row.access_until,
        "premium": bool(row.premium),
        "last_active_at": last_active,
        "active": last_active is not None and last_active >= utcnow() - ACTIVE_WINDOW,
        "watch_time_minutes": minutes(row.seconds),
        "classes_watched": int(row.classes),
        "completions": int(row.completions),
        "sessions": int(row.sessions),
    }


async def list_members(
    session: AsyncSession,
    caller: Caller,
    paging: PageParams,
    *,
    search: str | None,
    status: MemberStatus | None,
    sort: MemberSort,
) -> tuple[list[dict[str, Any]], int]:
    view = await load_partner(session, caller)
    query, columns = _members_query(view, dialect_of(session), search=search, status=status)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(*_order(sort, columns)).offset(paging.offset).limit(paging.limit)
    rows = (await session.execute(page)).all()
    return [_member_out(row) for row in rows], total


async def export_rows(
    session: AsyncSession,
    caller: Caller,
    *,
    search: str | None,
    status: MemberStatus | None,
    sort: MemberSort,
) -> list[list[object]]:
    """Every matching member as a CSV row (``EXPORT_HEADER`` order), one statement."""
    view = await load_partner(session, caller)
    query, columns = _members_query(view, dialect_of(session), search=search, status=status)
    rows = (await session.execute(query.order_by(*_order(sort, columns)))).all()
    out = [_member_out(row) for row in rows]
    return [
        [
            m["user_id"],
            m["email"],
            m["name"],
            m["joined_at"],
            m["access_until"],
            m["premium"],
            m["last_active_at"],
            m["active"],
            m["watch_time_minutes"],
            m["classes_watched"],
            m["completions"],
            m["sessions"],
        ]
        for m in out
    ]


async def member_detail(session: AsyncSession, caller: Caller, user_id: int) -> dict[str, Any]:
    """One member (by user id) with their recent classes; another partner's user is a 404."""
    view = await load_partner(session, caller)
    dialect = dialect_of(session)
    query, _ = _members_query(view, dialect, user_id=user_id)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise MemberNotFound()
    member = _member_out(row)

    history = (
        await session.execute(
            select(
                WatchLedger.class_id,
                OnDemandClass.name,
                func.sum(WatchLedger.watched_seconds).label("seconds"),
                func.sum(WatchLedger.completions).label("completions"),
                ClassProgress.completed_at,
                ClassProgress.last_watched_at,
            )
            .join(PartnerMembership, counted_ledger(view, dialect))
            .join(OnDemandClass, OnDemandClass.id == WatchLedger.class_id)
            .outerjoin(
                ClassProgress,
                and_(
                    ClassProgress.user_id == WatchLedger.user_id,
                    ClassProgress.class_id == WatchLedger.class_id,
                ),
            )
            .where(WatchLedger.user_id == user_id)
            .group_by(
                WatchLedger.class_id,
                OnDemandClass.name,
                ClassProgress.completed_at,
                ClassProgress.last_watched_at,
            )
            .order_by(
                ClassProgress.last_watched_at.desc().nulls_last(),
                func.max(WatchLedger.period_start).desc(),
                WatchLedger.class_id.desc(),
            )
            .limit(HISTORY_LIMIT)
        )
    ).all()
    member["history"] = [
        {
            "class_id": item.class_id,
            "title": item.name,
            "minutes": minutes(item.seconds),
            "completed": item.completed_at is not None or int(item.completions or 0) > 0,
            "completions": int(item.completions or 0),
            "last_watched_at": item.last_watched_at,
        }
        for item in history
    ]
    member["totals"] = {
        "watch_time_minutes": member["watch_time_minutes"],
        "classes_watched": member["classes_watched"],
        "completions": member["completions"],
        "sessions": member["sessions"],
        "last_30_days_minutes": await _recent_minutes(session, view, dialect, user_id),
    }
    return member


async def _recent_minutes(
    session: AsyncSession, view: PartnerView, dialect: str, user_id: int
) -> int:
    today = view.today(utcnow())
    window = (today - timedelta(days=29), today)
    seconds = await session.scalar(
        select(func.coalesce(func.sum(WatchLedger.watched_seconds), 0))
        .join(PartnerMembership, counted_ledger(view, dialect, window))
        .where(WatchLedger.user_id == user_id, in_days(view, *window))
    )
    return minutes(seconds)
