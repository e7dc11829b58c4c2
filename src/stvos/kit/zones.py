"""Local calendar days of UTC instants, in Python and in SQL, for any IANA zone.

Instants are stored in UTC; people count days in their own zone (a member's streak, a partner's
billing month, a studio's daily numbers). PostgreSQL converts with its own zone database. SQLite
has none, so the offset in force at each instant is chosen from the zone's offset changes (a
``CASE`` over them, pruned to the window a query reads) and added.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Date, case, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement

from stvos.kit.orm import UtcDateTime

QUARTER_HOUR = timedelta(minutes=15)
_FIRST_YEAR, _LAST_YEAR = 1990, 2060


def zone_named(name: str | None) -> ZoneInfo | None:
    """The IANA zone ``name``, or None when it is empty or unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` starts in ``zone``."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def quarter_hour_floor(moment: datetime) -> datetime:
    """The start of the UTC quarter hour holding ``moment``.

    Every zone's offset is a whole number of quarter hours, so a local midnight is always the
    start of one: a quarter hour lies wholly inside one local day in every zone.
    """
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


@lru_cache(maxsize=128)
def offset_changes(zone_name: str) -> tuple[tuple[datetime, int], ...]:
    """``(utc_instant, offset_seconds_from_then_on)`` for the zone, 1990-2060; the first entry
    is the offset in force before the first change. Found by stepping a day at a time and
    narrowing each change to the second; cached per zone."""
    zone = ZoneInfo(zone_name)

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta else 0

    moment = datetime(_FIRST_YEAR, 1, 1, tzinfo=UTC)
    end = datetime(_LAST_YEAR, 1, 1, tzinfo=UTC)
    current = offset(moment)
    changes = [(datetime(1, 1, 2, tzinfo=UTC), current)]
    while moment < end:
        following = moment + timedelta(days=1)
        if offset(following) != current:
            low, high = moment, following  # offset(low) == current != offset(high)
            while (high - low) > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == current else (low, middle)
            current = offset(high)
            changes.append((high.replace(microsecond=0), current))
        moment = following
    return tuple(changes)


def local_date_sql(
    column: Any,
    zone: ZoneInfo,
    dialect: str,
    *,
    within: tuple[datetime, datetime] | None = None,
) -> ColumnElement[Any]:
    """SQL for the calendar day (in ``zone``) of the UTC instant ``column``.

    ``within``: the query only reads instants in ``[start, end)``, so on SQLite the ``CASE``
    keeps just the offset changes that matter there. Compares correctly with a ``Date``.
    """
    if dialect == "postgresql":
        return cast(func.timezone(zone.key, column), Date)
    changes = list(offset_changes(zone.key))
    if within is not None:
        start, end = within
        # The offset in force at ``start``, then every change before ``end``.
        before = [c for c in changes if c[0] <= start]
        changes = before[-1:] + [c for c in changes if start < c[0] < end]
    if len(changes) == 1:
        return func.date(column, f"{changes[0][1]:+d} seconds")
    whens = [
        (column < literal(changes[index + 1][0], UtcDateTime()), f"{offset:+d} seconds")
        for index, (_, offset) in enumerate(changes[:-1])
    ]
    return func.date(column, case(*whens, else_=f"{changes[-1][1]:+d} seconds"))


def quarter_hour_shares(end: datetime, seconds: int) -> list[tuple[datetime, int]]:
    """Split the stretch ``[end - seconds, end)`` at UTC quarter hours.

    Answers ``(quarter hour start, whole seconds in it)`` in time order; the shares add up to
    ``seconds`` exactly. An empty stretch gives an empty list.
    """
    start = end - timedelta(seconds=seconds)
    period, last = quarter_hour_floor(start), quarter_hour_floor(end)
    shares: list[tuple[datetime, int]] = []
    counted = 0  # whole seconds given to earlier quarter hours
    while period <= last and counted < seconds:
        following = period + QUARTER_HOUR
        through = seconds if following >= end else round((following - start).total_seconds())
        share = max(0, min(seconds, through) - counted)
        if share:
            shares.append((period, share))
        counted += share
        period = following
    return shares
