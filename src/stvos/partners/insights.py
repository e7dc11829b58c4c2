"""What a partner sees of its members: shared building blocks and the dashboard.

Every number here reads the watch ledger (seconds and completions per user, class and UTC
quarter hour), class progress (last watched) and playback sessions; never raw heartbeats.
Days, weeks and months are the **partner's** local ones (its zone, else the client's): a
quarter hour lies wholly inside one local day in every zone, so those sums are exact. A
member's watching counts from their joined day on (the partner's local day of ``joined_at``).
Each query is scoped to the caller's partner here (``partner_id``); the client filter is added
by the tenancy layer.

The members list, analytics and billing live beside this module (members.py, analytics.py,
billing.py) and build on the pieces below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from stvos.kit.clock import utcnow
from stvos.kit.policy import Caller
from stvos.kit.zones import local_date_sql, local_midnight, zone_named
from stvos.models import ClassProgress, Partner, PartnerMembership, User, WatchLedger
from stvos.partners.errors import PartnerNotFound

ACTIVE_WINDOW = timedelta(days=30)
DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class PartnerView:
    """The caller's partner and the zone its numbers are read in."""

    id: int
    name: str
    billing_rate_minor: int
    currency: str
    zone: ZoneInfo  # the partner's (None in the row: the client's): every day it sees

    @property
    def zone_name(self) -> str:
        return self.zone.key

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()


def _zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    return zone_named(name) or ZoneInfo(fallback)


async def load_partner(session: AsyncSession, caller: Caller) -> PartnerView:
    """The signed-in partner staff member's partner (client-scoped lookup)."""
    client = caller.require_client()
    if caller.partner_id is None:
        raise PartnerNotFound()
    partner = await session.get(Partner, caller.partner_id)
    if partner is None:
        raise PartnerNotFound()
    return PartnerView(
        id=partner.id,
        name=partner.name,
        billing_rate_minor=partner.billing_rate_minor or 0,
        currency=partner.currency or "GBP",
        zone=_zone(partner.time_zone, _zone(client.time_zone).key),
    )


def minutes(seconds: int | None) -> int:
    """Whole minutes, rounded half up (every minute figure of the partner portal)."""
    return (int(seconds or 0) + 30) // 60


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


# --- shared sub-queries -----------------------------------------------------------------------


def counted_ledger(
    view: PartnerView, dialect: str, window: tuple[date, date] | None = None
) -> ColumnElement[bool]:
    """Join condition: the ledger row is a member's, on or after their joined local day.

    ``window``: the query reads only the partner's local days ``first..last`` (see
    :func:`in_days`), which keeps the SQLite zone arithmetic short.
    """
    joined_day = local_date_sql(PartnerMembership.joined_at, view.zone, dialect)
    return and_(
        PartnerMembership.user_id == WatchLedger.user_id,
        PartnerMembership.partner_id == view.id,
        ledger_day(view, dialect, window) >= joined_day,
    )


def _bounds(view: PartnerView, window: tuple[date, date]) -> tuple[datetime, datetime]:
    first, last = window
    return local_midnight(first, view.zone), local_midnight(last + timedelta(days=1), view.zone)


def ledger_day(
    view: PartnerView, dialect: str, window: tuple[date, date] | None = None
) -> ColumnElement[Any]:
    """The partner's local day of a ledger row (its quarter hour's)."""
    within = _bounds(view, window) if window is not None else None
    return local_date_sql(WatchLedger.period_start, view.zone, dialect, within=within)


def in_days(view: PartnerView, first: date, last: date) -> ColumnElement[bool]:
    """Ledger rows of the partner's local days ``first..last``, exactly (by quarter hour).

    The client-day column, two days wider than any zone difference needs, lets the database
    narrow by its index first.
    """
    start, end = _bounds(view, (first, last))
    return and_(
        WatchLedger.day >= first - timedelta(days=2),
        WatchLedger.day <= last + timedelta(days=2),
        WatchLedger.period_start >= start,
        WatchLedger.period_start < end,
    )


def member_user_ids(view: PartnerView) -> Any:
    return select(PartnerMembership.user_id).where(PartnerMembership.partner_id == view.id)


def last_watched_subquery(view: PartnerView) -> Any:
    """Per member: the latest ``ClassProgress.last_watched_at`` (any class)."""
    return (
        select(
            ClassProgress.user_id.label("user_id"),
            func.max(ClassProgress.last_watched_at).label("last_watched_at"),
        )
        .where(ClassProgress.user_id.in_(member_user_ids(view)))
        .group_by(ClassProgress.user_id)
        .subquery("last_watched")
    )


def last_active_expr(last_watched: Any) -> ColumnElement[Any]:
    """The later of the user's last sign-in and last watching (NULL when neither happened)."""
    login = User.last_login_at
    watched = last_watched.c.last_watched_at
    return case(
        (watched.is_(None), login),
        (login.is_(None), watched),
        (watched > login, watched),
        else_=login,
    )


def percent_change(current: int, previous: int) -> float | None:
    """Percent change against the previous period; None when the previous period had nothing."""
    if previous == 0:
        return None
    return round((current - previous) * 100 / previous, 1)


# --- dashboard --------------------------------------------------------------------------------


async def dashboard(session: AsyncSession, caller: Caller, days: int) -> dict[str, Any]:
    """Headline numbers for the last ``days`` local days (partner's zone) and their trends.

    totalMembers: every member joined so far. activeMembers: members whose last activity
    (sign-in or watching) is on or after the period's first local midnight.
    totalWatchTimeMinutes / totalClassesWatched: ledger minutes / completions in the period.
    trends: percent change of new members and of watch minutes against the previous period of
    the same length (None when that period had none).
    """
    view = await load_partner(session, caller)
    dialect = dialect_of(session)
    now = utcnow()
    last_day = view.today(now)
    first_day = last_day - timedelta(days=days - 1)
    previous_first = first_day - timedelta(days=days)
    period_start = local_midnight(first_day, view.zone)
    previous_start = local_midnight(previous_first, view.zone)

    joined = PartnerMembership.joined_at
    members = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((joined >= period_start, 1), else_=0)), 0),
                func.coalesce(
                    func.sum(case((and_(joined >= previous_start, joined < period_start), 1))),
                    0,
                ),
            ).where(PartnerMembership.partner_id == view.id, joined <= now)
        )
    ).one()

    last_watched = last_watched_subquery(view)
    last_active = last_active_expr(last_watched)
    active = await session.scalar(
        select(func.count())
        .select_from(PartnerMembership)
        .join(User, User.id == PartnerMembership.user_id)
        .outerjoin(last_watched, last_watched.c.user_id == PartnerMembership.user_id)
        .where(PartnerMembership.partner_id == view.id, last_active >= period_start)
    )

    in_period = WatchLedger.period_start >= period_start
    watched = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((in_period, WatchLedger.watched_seconds))), 0),
                func.coalesce(func.sum(case((in_period, WatchLedger.completions))), 0),
                func.coalesce(func.sum(case((~in_period, WatchLedger.watched_seconds))), 0),
                func.count(distinct(case((in_period, WatchLedger.class_id)))),
            )
            .select_from(WatchLedger)
            .join(PartnerMembership, counted_ledger(view, dialect, (previous_first, last_day)))
            .where(in_days(view, previous_first, last_day))
        )
    ).one()
    watch_minutes, previous_minutes = minutes(watched[0]), minutes(watched[2])
    return {
        "total_members": int(members[0]),
        "active_members": int(active or 0),
        "total_watch_time_minutes": watch_minutes,
        "total_classes_watched": int(watched[1]),
        "trends": {
            "members_change": percent_change(int(members[1]), int(members[2])),
            "watch_time_change": percent_change(watch_minutes, previous_minutes),
        },
        "period": {
            "from": first_day,
            "to": last_day,
            "days": days,
            "time_zone": view.zone_name,
            "new_members": int(members[1]),
            "distinct_classes_watched": int(watched[3]),
        },
    }
