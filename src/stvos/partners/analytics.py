"""Partner analytics from the watch ledger: a zero-filled watch-time series and content tops.

Days, weeks and months are the partner's local ones (its zone, else the client's; said in
the answer as ``timeZone``), summed exactly from the ledger's UTC quarter hours. Only members'
watching on or after their joined day counts.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import Date, case, cast, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.clock import utcnow
from stvos.kit.errors import invalid_field
from stvos.kit.policy import Caller
from stvos.models import Category, OnDemandClass, PartnerMembership, WatchLedger
from stvos.partners.insights import (
    DEFAULT_DAYS,
    PartnerView,
    counted_ledger,
    dialect_of,
    in_days,
    ledger_day,
    load_partner,
    minutes,
)

Granularity = Literal["day", "week", "month"]
MAX_WINDOW_DAYS = 731  # two years (a leap year included)


def _window(view: PartnerView, start: date | None, end: date | None) -> tuple[date, date]:
    """``[from, to]`` inclusive; default the last 30 days ending today in the partner's zone."""
    last = end or view.today(utcnow())
    first = start or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise invalid_field("from", "must not be after 'to'")
    if (last - first).days + 1 > MAX_WINDOW_DAYS:
        raise invalid_field("to", f"a window covers at most {MAX_WINDOW_DAYS} days")
    return first, last


def bucket_start(day: date, granularity: Granularity) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())  # weeks start on Monday
    if granularity == "month":
        return day.replace(day=1)
    return day


def _next_bucket(start: date, granularity: Granularity) -> date:
    if granularity == "week":
        return start + timedelta(days=7)
    if granularity == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def _bucket_sql(day: Any, granularity: Granularity, dialect: str) -> Any:
    if granularity == "day":
        return day
    if dialect == "postgresql":
        return cast(func.date_trunc(granularity, day), Date)
    if granularity == "week":
        return func.date(day, "-6 days", "weekday 1")  # the Monday on or before the day
    return func.strftime("%Y-%m-01", day)


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


async def watch_time(
    session: AsyncSession,
    caller: Caller,
    start: date | None,
    end: date | None,
    granularity: Granularity,
) -> dict[str, Any]:
    view = await load_partner(session, caller)
    dialect = dialect_of(session)
    first, last = _window(view, start, end)
    local_day = ledger_day(view, dialect, (first, last))
    bucket = _bucket_sql(local_day, granularity, dialect).label("bucket")
    in_window = (in_days(view, first, last),)
    metrics = (
        func.coalesce(func.sum(WatchLedger.watched_seconds), 0),
        func.coalesce(func.sum(WatchLedger.completions), 0),
        func.count(distinct(WatchLedger.user_id)),
    )
    rows = (
        await session.execute(
            select(bucket, *metrics)
            .join(PartnerMembership, counted_ledger(view, dialect, (first, last)))
            .where(*in_window)
            .group_by(bucket)
        )
    ).all()
    found = {_as_date(row[0]): row for row in rows}
    series = []
    cursor = bucket_start(first, granularity)
    while cursor <= last:
        row = found.get(cursor)
        series.append(
            {
                "start": cursor,
                "minutes": minutes(row[1]) if row else 0,
                "completions": int(row[2]) if row else 0,
                "active_members": int(row[3]) if row else 0,
            }
        )
        cursor = _next_bucket(cursor, granularity)
    totals = (
        await session.execute(
            select(*metrics)
            .join(PartnerMembership, counted_ledger(view, dialect, (first, last)))
            .where(*in_window)
        )
    ).one()
    return {
        "from": first,
        "to": last,
        "granularity": granularity,
        "time_zone": view.zone_name,
        "series": series,
        "totals": {
            "minutes": minutes(totals[0]),
            "completions": int(totals[1]),
            "active_members": int(totals[2]),
        },
    }


async def content(
    session: AsyncSession, caller: Caller, start: date | None, end: date | None, limit: int
) -> dict[str, Any]:
    view = await load_partner(session, caller)
    dialect = dialect_of(session)
    first, last = _window(view, start, end)
    seconds = func.sum(WatchLedger.watched_seconds)
    viewers = func.count(distinct(WatchLedger.user_id))
    completers = func.count(distinct(case((WatchLedger.completions > 0, WatchLedger.user_id))))
    completions = func.sum(WatchLedger.completions)
    base = (
        select()
        .select_from(WatchLedger)
        .join(PartnerMembership, counted_ledger(view, dialect, (first, last)))
        .join(OnDemandClass, OnDemandClass.id == WatchLedger.class_id)
        .where(in_days(view, first, last))
    )
    classes = (
        await session.execute(
            base.add_columns(
                WatchLedger.class_id,
                OnDemandClass.name,
                OnDemandClass.category_id,
                seconds,
                viewers,
                completers,
                completions,
            )
            .group_by(WatchLedger.class_id, OnDemandClass.name, OnDemandClass.category_id)
            .order_by(seconds.desc(), viewers.desc(), WatchLedger.class_id)
            .limit(limit)
        )
    ).all()
    categories = (
        await session.execute(
            base.outerjoin(Category, Category.id == OnDemandClass.category_id)
            .add_columns(
                Category.id,
                Category.name,
                seconds,
                viewers,
                completers,
                completions,
                func.count(distinct(WatchLedger.class_id)),
            )
            .group_by(Category.id, Category.name)
            .order_by(seconds.desc(), viewers.desc(), Category.id)
            .limit(limit)
        )
    ).all()
    return {
        "from": first,
        "to": last,
        "time_zone": view.zone_name,
        "top_classes": [
            {
                "class_id": row[0],
                "title": row[1],
                "category_id": row[2],
                "minutes": minutes(row[3]),
                "viewers": int(row[4]),
                "completions": int(row[6] or 0),
                "completion_rate": _rate(int(row[5]), int(row[4])),
            }
            for row in classes
        ],
        "top_categories": [
            {
                "category_id": row[0],
                "name": row[1] or "Uncategorised",
                "minutes": minutes(row[2]),
                "viewers": int(row[3]),
                "completions": int(row[5] or 0),
                "completion_rate": _rate(int(row[4]), int(row[3])),
                "classes": int(row[6]),
            }
            for row in categories
        ],
    }


def _rate(completed: int, viewers: int) -> float:
    return round(completed / viewers, 3) if viewers else 0.0
