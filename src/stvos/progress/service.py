"""Logging workouts, meals and water, and reading them back as history, summaries and streaks.

Every entry stores the calendar date in the member's time zone when it happened
(``local_date``), decided once at write time from the member's profile zone or else the
client's. Summaries then group by that column: constant statements, no zone math in SQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts.service import user_zone
from stvos.kit.clock import utcnow
from stvos.kit.paging import fetch_page
from stvos.kit.schemas import Page, PageParams
from stvos.models import ProgressEntry, ProgressKind
from stvos.playback import service as playback
from stvos.progress.errors import invalid
from stvos.progress.schemas import (
    MAX_ITEM_KCAL,
    MAX_SNACK_KCAL,
    DayOut,
    DayTotals,
    EntryOut,
    NutritionIn,
    Streaks,
    SummaryOut,
    WaterIn,
    WorkoutIn,
)

MAX_FUTURE = timedelta(minutes=5)
MAX_AGE = timedelta(days=365)
MAX_SUMMARY_DAYS = 366
DEFAULT_SUMMARY_DAYS = 7


# --- time -------------------------------------------------------------------------------------


def _moment(value: datetime | None, field: str, now: datetime) -> datetime:
    """When an entry happened: given (within the last year, at most 5 minutes ahead) or now."""
    if value is None:
        return now
    moment = value.astimezone(UTC)
    if moment > now + MAX_FUTURE:
        raise invalid(field, "must not be more than 5 minutes in the future")
    if moment < now - MAX_AGE:
        raise invalid(field, "must be within the last year")
    return moment


async def _new_entry(
    session: AsyncSession, user_id: int, kind: ProgressKind, moment: datetime, **fields: Any
) -> ProgressEntry:
    zone = await user_zone(session, user_id)
    entry = ProgressEntry(
        user_id=user_id,
        kind=kind.value,
        occurred_at=moment,
        local_date=moment.astimezone(zone).date(),
        **fields,
    )
    session.add(entry)
    await session.flush()
    return entry


def entry_out(entry: ProgressEntry) -> EntryOut:
    return EntryOut.model_validate(entry)


# --- writes -----------------------------------------------------------------------------------


async def log_workout(session: AsyncSession, user_id: int, body: WorkoutIn) -> EntryOut:
    if body.name is None and body.plan_reference is None:
        raise invalid("name", "give the workout a name or a planReference")
    moment = _moment(body.performed_at, "performedAt", utcnow())
    details = body.model_dump(
        mode="json", by_alias=True, include={"name", "plan_reference", "exercises"}
    )
    entry = await _new_entry(
        session,
        user_id,
        ProgressKind.WORKOUT,
        moment,
        duration_minutes=body.duration_minutes,
        calories_burned=body.calories_burned,
        details=details,
    )
    return entry_out(entry)


async def log_nutrition(session: AsyncSession, user_id: int, body: NutritionIn) -> EntryOut:
    for index, item in enumerate(body.items):
        if item.calories > MAX_ITEM_KCAL:
            raise invalid(
                f"items.{index}.calories",
                f"{item.calories:g} kcal in a single item is not plausible "
                f"(at most {MAX_ITEM_KCAL})",
            )
    calories = sum(item.calories for item in body.items)
    if body.meal_type == "snack" and calories > MAX_SNACK_KCAL:
        raise invalid(
            "items",
            f"a snack of {calories:g} kcal is not plausible (at most {MAX_SNACK_KCAL} in total)",
        )
    moment = _moment(body.logged_at, "loggedAt", utcnow())
    entry = await _new_entry(
        session,
        user_id,
        ProgressKind.NUTRITION,
        moment,
        calories_in=round(calories),
        protein_g=round(sum(item.protein_g for item in body.items), 1),
        carbs_g=round(sum(item.carbs_g for item in body.items), 1),
        fat_g=round(sum(item.fat_g for item in body.items), 1),
        details=body.model_dump(mode="json", by_alias=True, include={"meal_type", "items"}),
    )
    return entry_out(entry)


async def log_water(session: AsyncSession, user_id: int, body: WaterIn) -> EntryOut:
    moment = _moment(body.logged_at, "loggedAt", utcnow())
    entry = await _new_entry(session, user_id, ProgressKind.WATER, moment, water_ml=body.ml)
    return entry_out(entry)


# --- reads ------------------------------------------------------------------------------------


async def history(
    session: AsyncSession, user_id: int, kind: str | None, paging: PageParams
) -> Page[EntryOut]:
    query: Select[ProgressEntry] = select(ProgressEntry).where(ProgressEntry.user_id == user_id)
    if kind is not None:
        query = query.where(ProgressEntry.kind == kind)
    rows, total = await fetch_page(
        session, query, paging, ProgressEntry.occurred_at.desc(), ProgressEntry.id.desc()
    )
    return paging.page_of([entry_out(row) for row in rows], total)


async def class_minutes_by_day(
    session: AsyncSession, user_id: int, start: date, end: date, zone: ZoneInfo
) -> dict[date, int]:
    """Minutes of classes the member watched per local day (their zone), from the watch ledger
    (one query; its quarter hours add up exactly to any zone's days)."""
    seconds = await playback.class_seconds_by_day(session, user_id, start, end, zone)
    return {day: round(value / 60) for day, value in seconds.items()}


def _int(value: Any) -> int:
    return int(value or 0)


async def summary(
    session: AsyncSession, user_id: int, start: date | None, end: date | None
) -> SummaryOut:
    zone = await user_zone(session, user_id)
    today = utcnow().astimezone(zone).date()
    span = timedelta(days=DEFAULT_SUMMARY_DAYS - 1)
    if start is None and end is None:
        start, end = today - span, today
    elif start is None:
        assert end is not None
        start = end - span
    elif end is None:
        end = start + span
    if start > end:
        raise invalid("from", "must not be after 'to'")
    if (end - start).days + 1 > MAX_SUMMARY_DAYS:
        raise invalid("to", f"a summary covers at most {MAX_SUMMARY_DAYS} days")

    is_workout = ProgressEntry.kind == ProgressKind.WORKOUT.value
    grouped = (
        select(
            ProgressEntry.local_date,
            func.sum(case((is_workout, 1), else_=0)),
            func.sum(case((is_workout, ProgressEntry.duration_minutes), else_=0)),
            func.sum(ProgressEntry.calories_burned),
            func.sum(ProgressEntry.calories_in),
            func.sum(ProgressEntry.water_ml),
        )
        .where(
            ProgressEntry.user_id == user_id,
            ProgressEntry.local_date >= start,
            ProgressEntry.local_date <= end,
        )
        .group_by(ProgressEntry.local_date)
    )
    by_day = {row[0]: row for row in (await session.execute(grouped)).all()}
    class_minutes = await class_minutes_by_day(session, user_id, start, end, zone)

    days: list[DayOut] = []
    totals = DayTotals()
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        row = by_day.get(day)
        out = DayOut(
            day=day,
            workouts=_int(row[1]) if row else 0,
            active_minutes=(_int(row[2]) if row else 0) + class_minutes.get(day, 0),
            calories_burned=_int(row[3]) if row else 0,
            calories_in=_int(row[4]) if row else 0,
            water_ml=_int(row[5]) if row else 0,
        )
        days.append(out)
        totals.workouts += out.workouts
        totals.active_minutes += out.active_minutes
        totals.calories_burned += out.calories_burned
        totals.calories_in += out.calories_in
        totals.water_ml += out.water_ml

    return SummaryOut(
        from_=start,
        to=end,
        time_zone=zone.key,
        days=days,
        totals=totals,
        streaks=await streaks(session, user_id, today),
    )


async def streaks(session: AsyncSession, user_id: int, today: date) -> Streaks:
    """Runs of consecutive local days with at least one workout.

    ``current`` counts back from today, or from yesterday while today has none yet (a streak
    is not broken before the day is over); ``longest`` is the longest run ever.
    """
    workout_days = list(
        await session.scalars(
            select(ProgressEntry.local_date)
            .where(
                ProgressEntry.user_id == user_id,
                ProgressEntry.kind == ProgressKind.WORKOUT.value,
                ProgressEntry.local_date <= today,
            )
            .group_by(ProgressEntry.local_date)
            .order_by(ProgressEntry.local_date)
        )
    )
    return Streaks(
        current=current_streak(workout_days, today), longest=longest_streak(workout_days)
    )


def longest_streak(days: list[date]) -> int:
    longest = run = 0
    previous: date | None = None
    for day in days:
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    return longest


def current_streak(days: list[date], today: date) -> int:
    present = set(days)
    cursor = today if today in present else today - timedelta(days=1)
    count = 0
    while cursor in present:
        count += 1
        cursor -= timedelta(days=1)
    return count
