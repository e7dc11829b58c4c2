"""Monthly billing of a partner: who is billable, their usage, and the amount owed.

A month is read in the partner's zone. While it is open (until its end plus a day of grace)
the report is computed live (``closed: false``). Once closed it is computed one last time and
kept in ``BillingStatement`` (one per partner and month); every later request answers that
stored report, so re-running a closed month gives the same numbers even if memberships change.
Money is computed in integer minor units and shown as decimal strings.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, distinct, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.clock import utcnow
from stvos.kit.errors import invalid_field
from stvos.kit.policy import Caller
from stvos.models import BillingStatement, PartnerMembership, User, WatchLedger
from stvos.partners.insights import (
    PartnerView,
    counted_ledger,
    dialect_of,
    in_days,
    load_partner,
    minutes,
)
from stvos.partners.insights_schemas import BillingReport

GRACE = timedelta(days=1)
BILLABLE_RULE = (
    "A member is billable for a month when their access [joinedAt, accessUntil) overlapped the "
    "month in the partner's time zone (no accessUntil: access without end). Each billable "
    "member is charged the partner's rate once for the month, whatever their usage."
)
USAGE_RULE = (
    "Usage is read from the watch ledger: watching during the month in the partner's time zone, "
    "on or after the member's joined day. Minutes are rounded half up per member; the totals "
    "row adds the members' figures."
)
CLOSING_RULE = (
    "A month closes one day after it ends in the partner's time zone; a closed month's report "
    "is computed once, stored and served unchanged from then on."
)
EXPORT_HEADER = (
    "userId",
    "email",
    "name",
    "joinedAt",
    "accessUntil",
    "watchTimeMinutes",
    "classesWatched",
    "completions",
    "charge",
    "currency",
)


def _month_bounds(view: PartnerView, month: str) -> tuple[datetime, datetime]:
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=view.zone)
    following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=view.zone)
    return start.astimezone(UTC), following.astimezone(UTC)


def decimal_text(minor: int) -> str:
    """Integer minor units as a two-decimal string (``450`` -> ``"4.50"``)."""
    return str((Decimal(minor) / 100).quantize(Decimal("0.01")))


async def report(
    session: AsyncSession, caller: Caller, month: str | None
) -> tuple[BillingReport | None, PartnerView, str]:
    """The month's report when it can be answered from ``session``; None when the month is
    closed and its statement not yet stored (the caller then runs :func:`close_month` in a
    write transaction). Also answers the partner and the month (default: the current one)."""
    view = await load_partner(session, caller)
    now = utcnow()
    month = month or now.astimezone(view.zone).strftime("%Y-%m")
    start, end = _month_bounds(view, month)
    if start > now:
        raise invalid_field("month", "is in the future")
    if now < end + GRACE:
        return await _compute(session, view, month, closed=False), view, month
    stored = await _stored(session, view, month)
    return stored, view, month


async def close_month(session: AsyncSession, caller: Caller, month: str) -> BillingReport:
    """Store the closed month's report once (concurrent closers agree on the first one)."""
    view = await load_partner(session, caller)
    stored = await _stored(session, view, month)
    if stored is not None:
        return stored
    computed = await _compute(session, view, month, closed=True)
    row = BillingStatement(
        partner_id=view.id,
        month=month,
        report=computed.model_dump(mode="json", by_alias=True),  # the wire shape
        closed_at=computed.generated_at,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:  # another request closed it first: theirs is the statement
        stored = await _stored(session, view, month)
        assert stored is not None
        return stored
    return computed


async def _stored(session: AsyncSession, view: PartnerView, month: str) -> BillingReport | None:
    row = await session.scalar(
        select(BillingStatement).where(
            BillingStatement.partner_id == view.id, BillingStatement.month == month
        )
    )
    return None if row is None else BillingReport.model_validate(row.report)


async def _compute(
    session: AsyncSession, view: PartnerView, month: str, *, closed: bool
) -> BillingReport:
    start, end = _month_bounds(view, month)
    first_day = start.astimezone(view.zone).date()
    last_day = (end.astimezone(view.zone) - timedelta(days=1)).date()
    dialect = dialect_of(session)
    in_month = in_days(view, first_day, last_day)
    usage = (
        select(
            WatchLedger.user_id.label("user_id"),
            func.sum(WatchLedger.watched_seconds).label("seconds"),
            func.count(
                distinct(case((WatchLedger.watched_seconds > 0, WatchLedger.class_id)))
            ).label("classes"),
            func.sum(WatchLedger.completions).label("completions"),
        )
        .join(PartnerMembership, counted_ledger(view, dialect, (first_day, last_day)))
        .where(in_month)
        .group_by(WatchLedger.user_id)
        .subquery("usage")
    )
    rows = (
        await session.execute(
            select(
                PartnerMembership.user_id,
                PartnerMembership.joined_at,
                PartnerMembership.access_until,
                User.email,
                User.name,
                User.deleted_at,
                func.coalesce(usage.c.seconds, 0),
                func.coalesce(usage.c.classes, 0),
                func.coalesce(usage.c.completions, 0),
            )
            .join(User, User.id == PartnerMembership.user_id)
            .outerjoin(usage, usage.c.user_id == PartnerMembership.user_id)
            .where(
                PartnerMembership.partner_id == view.id,
                PartnerMembership.joined_at < end,
                or_(
                    PartnerMembership.access_until.is_(None), PartnerMembership.access_until > start
                ),
            )
            .order_by(PartnerMembership.joined_at, PartnerMembership.user_id)
        )
    ).all()
    members = [
        {
            "user_id": row[0],
            "email": None if row[5] is not None else row[3],
            "name": None if row[5] is not None else row[4],
            "joined_at": row[1],
            "access_until": row[2],
            "watch_time_minutes": minutes(row[6]),
            "classes_watched": int(row[7]),
            "completions": int(row[8]),
        }
        for row in rows
    ]
    rate = view.billing_rate_minor
    return BillingReport.model_validate(
        {
            "month": month,
            "partner": {"id": view.id, "name": view.name},
            "time_zone": view.zone_name,
            "period_start": start,
            "period_end": end,
            "closed": closed,
            "generated_at": utcnow(),
            "billable_rule": BILLABLE_RULE,
            "usage_rule": USAGE_RULE,
            "closing_rule": CLOSING_RULE,
            "members": members,
            "totals": {
                "billable_members": len(members),
                "rate": decimal_text(rate),
                "rate_minor": rate,
                "currency": view.currency,
                "amount": decimal_text(rate * len(members)),
                "amount_minor": rate * len(members),
                "watch_time_minutes": sum(m["watch_time_minutes"] for m in members),
                "classes_watched": sum(m["classes_watched"] for m in members),
                "completions": sum(m["completions"] for m in members),
            },
        }
    )


def export_rows(answer: BillingReport) -> list[list[Any]]:
    """The CSV body: one row per billable member, then a totals row."""
    totals = answer.totals
    rate = Decimal(totals.rate)
    rows: list[list[Any]] = [
        [
            m.user_id,
            m.email,
            m.name,
            m.joined_at,
            m.access_until,
            m.watch_time_minutes,
            m.classes_watched,
            m.completions,
            rate,
            totals.currency,
        ]
        for m in answer.members
    ]
    rows.append(
        [
            "TOTAL",
            f"{totals.billable_members} billable members",
            None,
            None,
            None,
            totals.watch_time_minutes,
            totals.classes_watched,
            totals.completions,
            Decimal(totals.amount),
            totals.currency,
        ]
    )
    return rows
