"""Playback sessions: start, read, history, continue watching, idle closing; the heartbeat
itself (the hot path) lives in :mod:`stvos.playback.heartbeat`.

A heartbeat credits at most the wall time since the previous one (plus a little tolerance),
and only forwards: the credited stretch is the last part of the jump, ``[position - allowed,
position)``. So seeking to the end covers a few seconds, not the class; replaying a stretch
sets the same coverage bits; duplicate or late heartbeats credit nothing. The session and the
class progress rows are locked for the update (PostgreSQL ``FOR UPDATE``; SQLite's write
transaction already serialises), so concurrent heartbeats cannot lose or double seconds.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.content.errors import ClassNotFound
from stvos.content.service import NOW, is_published, summary_of, with_briefs
from stvos.kit.clock import utcnow
from stvos.kit.paging import fetch_page
from stvos.kit.policy import ClientContext
from stvos.kit.schemas import PageParams
from stvos.kit.zones import (
    local_date_sql,
    local_midnight,
)
from stvos.models import (
    ClassProgress,
    OnDemandClass,
    PlaybackSession,
    SessionStatus,
    WatchLedger,
)
from stvos.playback import coverage
from stvos.playback.errors import SessionNotFound

TOLERANCE_SECONDS = 5
IDLE_LIMIT = timedelta(minutes=5)
CONTINUE_WATCHING_LIMIT = 10


class SessionFacts(Protocol):
    """What an answer about a playback session reads (an ORM row or the heartbeat's state)."""

    @property
    def id(self) -> int: ...
    @property
    def class_id(self) -> int: ...
    @property
    def device_id(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def last_heartbeat_at(self) -> datetime: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def position_seconds(self) -> int: ...
    @property
    def credited_seconds(self) -> int: ...


class ProgressFacts(Protocol):
    @property
    def covered_buckets(self) -> int: ...
    @property
    def completed_at(self) -> datetime | None: ...


def _progress_answer(
    progress: ProgressFacts, duration_seconds: int, position: int, threshold: int
) -> dict[str, Any]:
    buckets = coverage.bucket_count(duration_seconds)
    percent = round(100 * progress.covered_buckets / buckets, 1)
    return {
        "position": position,
        "watched_seconds": min(
            duration_seconds, progress.covered_buckets * coverage.BUCKET_SECONDS
        ),
        "percent_complete": min(100.0, percent),
        "completed": progress.completed_at is not None,
        "completion_threshold": threshold,
    }


def session_out(
    row: SessionFacts, duration_minutes: int, progress: ProgressFacts, threshold: int
) -> dict[str, Any]:
    return {
        **_progress_answer(progress, duration_minutes * 60, row.position_seconds, threshold),
        "id": row.id,
        "class_id": row.class_id,
        "device_id": row.device_id,
        "status": row.status,
        "duration": duration_minutes,
        "started_at": row.started_at,
        "last_heartbeat_at": row.last_heartbeat_at,
        "ended_at": row.ended_at,
        "credited_seconds": row.credited_seconds,
    }


async def _progress_for_update(
    session: AsyncSession, user_id: int, class_id: int
) -> ClassProgress | None:
    return await session.scalar(
        select(ClassProgress)
        .where(ClassProgress.user_id == user_id, ClassProgress.class_id == class_id)
        .with_for_update()
    )


async def start(
    session: AsyncSession, client: ClientContext, user_id: int, class_id: int, device_id: str | None
) -> dict[str, Any]:
    now = utcnow()
    item = await session.scalar(
        select(OnDemandClass).where(OnDemandClass.id == class_id, is_published(now))
    )
    if item is None:
        raise ClassNotFound()
    row = PlaybackSession(
        user_id=user_id,
        class_id=item.id,
        device_id=device_id,
        status=SessionStatus.ACTIVE.value,
        started_at=now,
        last_heartbeat_at=now,
        position_seconds=0,
        credited_seconds=0,
    )
    session.add(row)
    await session.flush()
    progress = await _progress_for_update(session, user_id, item.id)
    if progress is None:
        progress = ClassProgress(
            user_id=user_id,
            class_id=item.id,
            covered=b"",
            covered_buckets=0,
            resume_position=0,
            last_watched_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(progress)
                await session.flush()
        except IntegrityError:  # another device started this class at the same moment
            progress = await _progress_for_update(session, user_id, item.id)
            assert progress is not None
    # The newest session owns the resume position from now on (other devices are stale).
    progress.resume_session_id = row.id
    resume = 0 if progress.completed_at is not None else progress.resume_position
    row.position_seconds = resume
    await session.execute(
        update(OnDemandClass)
        .where(OnDemandClass.id == item.id)
        .values(play_count=OnDemandClass.play_count + 1)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    return session_out(row, item.duration_minutes, progress, client.completion_threshold)


async def _owned(
    session: AsyncSession, user_id: int, session_id: int
) -> tuple[PlaybackSession, OnDemandClass]:
    query = (
        select(PlaybackSession, OnDemandClass)
        .join(OnDemandClass, OnDemandClass.id == PlaybackSession.class_id)
        .where(PlaybackSession.id == session_id, PlaybackSession.user_id == user_id)
    )
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise SessionNotFound()
    return row[0], row[1]


async def get(
    session: AsyncSession, client: ClientContext, user_id: int, session_id: int
) -> dict[str, Any]:
    row, item = await _owned(session, user_id, session_id)
    progress = await session.scalar(
        select(ClassProgress).where(
            ClassProgress.user_id == user_id, ClassProgress.class_id == item.id
        )
    )
    assert progress is not None
    return session_out(row, item.duration_minutes, progress, client.completion_threshold)


async def history(
    session: AsyncSession, client: ClientContext, user_id: int, paging: PageParams
) -> tuple[list[dict[str, Any]], int]:
    rows, total = await fetch_page(
        session,
        select(PlaybackSession).where(PlaybackSession.user_id == user_id),
        paging,
        PlaybackSession.started_at.desc(),
        PlaybackSession.id.desc(),
    )
    class_ids = {row.class_id for row in rows}
    classes = {
        c.id: c
        for c in await session.scalars(select(OnDemandClass).where(OnDemandClass.id.in_(class_ids)))
    }
    progress = {
        p.class_id: p
        for p in await session.scalars(
            select(ClassProgress).where(
                ClassProgress.user_id == user_id, ClassProgress.class_id.in_(class_ids)
            )
        )
    }
    items = [
        session_out(
            row,
            classes[row.class_id].duration_minutes,
            progress[row.class_id],
            client.completion_threshold,
        )
        for row in rows
    ]
    return items, total


@cache
def _continue_watching_query() -> Select[Any]:
    """The statement of :func:`continue_watching`, built once; run with ``user_id`` and
    ``now``."""
    return (
        with_briefs(
            select(OnDemandClass, ClassProgress.resume_position, ClassProgress.covered_buckets)
            .select_from(ClassProgress)
            .join(OnDemandClass, OnDemandClass.id == ClassProgress.class_id)
        )
        .where(
            ClassProgress.user_id == bindparam("user_id"),
            ClassProgress.completed_at.is_(None),
            ClassProgress.covered_buckets > 0,
            is_published(NOW),
        )
        .order_by(ClassProgress.last_watched_at.desc(), ClassProgress.id.desc())
        .limit(CONTINUE_WATCHING_LIMIT)
    )


async def continue_watching(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    """Started, not completed, most recent first, with how much was watched: one statement
    (the classes' trainer and category briefs are joined in)."""
    rows = await session.execute(_continue_watching_query(), {"user_id": user_id, "now": utcnow()})
    out = []
    for row in rows:
        item: OnDemandClass = row[0]
        buckets = coverage.bucket_count(item.duration_minutes * 60)
        out.append(
            {
                **summary_of(item, row).model_dump(),
                "position": row.resume_position,
                "percent_watched": min(100.0, round(100 * row.covered_buckets / buckets, 1)),
            }
        )
    return out


async def close_idle_sessions(session: AsyncSession) -> int:
    """Close active sessions silent for longer than the idle limit (platform scope)."""
    cutoff = utcnow() - IDLE_LIMIT
    result = await session.execute(
        update(PlaybackSession)
        .where(
            # Rendered in the SQL, not bound: the planner then matches the partial index of the
            # active sessions (migration 0018) in a cached generic plan too.
            PlaybackSession.status == literal(SessionStatus.ACTIVE.value, literal_execute=True),
            PlaybackSession.last_heartbeat_at < cutoff,
        )
        .values(status=SessionStatus.EXPIRED.value, ended_at=PlaybackSession.last_heartbeat_at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def class_seconds_by_day(
    session: AsyncSession, user_id: int, start: date, end: date, zone: ZoneInfo
) -> dict[date, int]:
    """Seconds of classes ``user_id`` watched per local day of ``zone``, ``start``..``end``."""
    window = (local_midnight(start, zone), local_midnight(end + timedelta(days=1), zone))
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    local_day = local_date_sql(WatchLedger.period_start, zone, dialect, within=window)
    rows = await session.execute(
        select(local_day, func.sum(WatchLedger.watched_seconds))
        .where(
            WatchLedger.user_id == user_id,
            WatchLedger.period_start >= window[0],
            WatchLedger.period_start < window[1],
        )
        .group_by(local_day)
    )
    return {_as_date(day): int(seconds or 0) for day, seconds in rows.all()}


def _as_date(value: date | str) -> date:
    """SQLite answers a computed date as text."""
    return value if isinstance(value, date) else date.fromisoformat(value)
