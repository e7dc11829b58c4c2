"""The heartbeat: the hottest path of the API (every viewer, every 30 seconds).

Its database work is two statements on PostgreSQL, built once at import and reused:

1. one read that locks the playback session and the class progress (``FOR UPDATE``), joins the
   class's duration and, as one more column, answers the caller's account check (active, token
   version, sign-in not ended: the route declares ``sign_in_checked_by_route``);
2. one write: the ledger upsert with both updates as data-modifying CTEs.

SQLite runs the read and then the three writes in turn, in-process, inside its write
transaction (``BEGIN IMMEDIATE`` already serialises writers). The statements name the client
explicitly on every table they touch: they run on the session's connection, beside the ORM's
tenant filter, with row-level security behind them on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, ClassVar, Protocol, cast
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import Executable, Table, and_, bindparam, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from stvos.accounts.access import SIGN_IN_LIVE, check_sign_in, confirm_sign_in, sign_in_params
from stvos.kit.clock import utcnow
from stvos.kit.db import DriverStatement, driver_transaction
from stvos.kit.policy import ClientContext, PendingSignIn
from stvos.kit.zones import quarter_hour_floor, quarter_hour_shares
from stvos.models import ClassProgress, OnDemandClass, PlaybackSession, SessionStatus, WatchLedger
from stvos.playback import coverage
from stvos.playback.errors import SessionClosed, SessionExpired, SessionNotFound
from stvos.playback.service import IDLE_LIMIT, TOLERANCE_SECONDS, session_out

# A quarter hour (UTC start), its local day (client's zone), seconds credited, completions.
LedgerPiece = tuple[datetime, date, int, int]

_sessions = cast(Table, PlaybackSession.__table__)
_classes = cast(Table, OnDemandClass.__table__)
_progress = cast(Table, ClassProgress.__table__)
_ledger = cast(Table, WatchLedger.__table__)


@dataclass(slots=True)
class _SessionState:
    """The locked playback session row, changed in memory, then written back."""

    id: int
    user_id: int
    class_id: int
    device_id: str | None
    status: str
    started_at: datetime
    last_heartbeat_at: datetime
    ended_at: datetime | None
    position_seconds: int
    credited_seconds: int


@dataclass(slots=True)
class _ProgressState:
    """The locked class progress row of the session's user and class."""

    id: int
    covered: bytes
    covered_buckets: int
    resume_position: int
    resume_session_id: int | None
    last_watched_at: datetime
    completed_at: datetime | None


_SESSION_COLUMNS = [
    _sessions.c.id,
    _sessions.c.user_id,
    _sessions.c.class_id,
    _sessions.c.device_id,
    _sessions.c.status,
    _sessions.c.started_at,
    _sessions.c.last_heartbeat_at,
    _sessions.c.ended_at,
    _sessions.c.position_seconds,
    _sessions.c.credited_seconds,
]
_PROGRESS_COLUMNS = [
    _progress.c.id,
    _progress.c.covered,
    _progress.c.covered_buckets,
    _progress.c.resume_position,
    _progress.c.resume_session_id,
    _progress.c.last_watched_at,
    _progress.c.completed_at,
]


_same_class = and_(
    _classes.c.client_id == _sessions.c.client_id, _classes.c.id == _sessions.c.class_id
)
_same_progress = and_(
    _progress.c.client_id == _sessions.c.client_id,
    _progress.c.user_id == _sessions.c.user_id,
    _progress.c.class_id == _sessions.c.class_id,
)


def _read_statement(with_sign_in: bool) -> Executable:
    signed_in = SIGN_IN_LIVE if with_sign_in else literal(True)
    return (
        select(
            *_SESSION_COLUMNS,
            _classes.c.duration_minutes,
            *[column.label(f"progress_{column.name}") for column in _PROGRESS_COLUMNS],
            signed_in.label("signed_in"),
        )
        .select_from(_sessions.join(_classes, _same_class).join(_progress, _same_progress))
        .where(
            _sessions.c.client_id == bindparam("b_client"),
            _sessions.c.id == bindparam("b_session"),
            _sessions.c.user_id == bindparam("b_user"),
        )
        .with_for_update(of=[_sessions, _progress])
    )


_READ = {True: _read_statement(True), False: _read_statement(False)}

_SESSION_UPDATE = (
    update(_sessions)
    .where(_sessions.c.client_id == bindparam("b_client"), _sessions.c.id == bindparam("s_id"))
    .values(
        status=bindparam("s_status"),
        ended_at=bindparam("s_ended_at"),
        last_heartbeat_at=bindparam("s_last_heartbeat_at"),
        position_seconds=bindparam("s_position_seconds"),
        credited_seconds=bindparam("s_credited_seconds"),
    )
)
_PROGRESS_UPDATE = (
    update(_progress)
    .where(_progress.c.client_id == bindparam("b_client"), _progress.c.id == bindparam("p_id"))
    .values(
        covered=bindparam("p_covered"),
        covered_buckets=bindparam("p_covered_buckets"),
        resume_position=bindparam("p_resume_position"),
        last_watched_at=bindparam("p_last_watched_at"),
        completed_at=bindparam("p_completed_at"),
    )
)
_LEDGER_FIELDS = ("period_start", "day", "watched_seconds", "completions")


@cache
def _ledger_upsert(dialect: str, piece: int) -> Any:
    """Add one piece's seconds and completions to its quarter hour's ledger row.

    One single-row statement per piece (bind parameters ``l{piece}_*``): a multi-row ``VALUES``
    would not be cacheable by SQLAlchemy and would be compiled again on every heartbeat.
    """
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(_ledger).values(
        client_id=bindparam("b_client"),
        user_id=bindparam("b_user"),
        class_id=bindparam("b_class"),
        **{name: bindparam(f"l{piece}_{name}") for name in _LEDGER_FIELDS},
    )
    return statement.on_conflict_do_update(
        index_elements=["client_id", "user_id", "class_id", "period_start"],
        set_={
            "watched_seconds": _ledger.c.watched_seconds + statement.excluded.watched_seconds,
            "completions": _ledger.c.completions + statement.excluded.completions,
        },
    )


@cache
def _combined_write(pieces: int) -> Executable:
    """PostgreSQL: one statement, one round trip. The updates, and the upserts of all pieces but
    the first, ride as data-modifying CTEs of the first piece's upsert (of a bare ``SELECT 1``
    when nothing was credited). A 30 s heartbeat has one piece, two across a quarter hour, and
    two pieces never share a row, as one statement requires."""
    carrier: Any = _ledger_upsert("postgresql", 0) if pieces else select(literal(1))
    combined: Executable = carrier.add_cte(
        _SESSION_UPDATE.returning(_sessions.c.id).cte("session_written"),
        _PROGRESS_UPDATE.returning(_progress.c.id).cte("progress_written"),
        *[
            _ledger_upsert("postgresql", i).returning(_ledger.c.id).cte(f"ledger_written_{i}")
            for i in range(1, pieces)
        ],
    )
    return combined


def _by_quarter_hour(
    now: datetime, seconds: int, completions: int, time_zone: str
) -> list[LedgerPiece]:
    """Split the credited stretch ``[now - seconds, now)`` at UTC quarter hours.

    Each piece carries the client's local day of its quarter hour; the completion belongs to
    the quarter hour it happened in (``now``'s). A heartbeat every 30 s gives one or two pieces.
    """
    zone = ZoneInfo(time_zone)
    shares = dict(quarter_hour_shares(now, seconds))
    if completions:
        shares.setdefault(quarter_hour_floor(now), 0)
    current = quarter_hour_floor(now)
    return [
        (period, period.astimezone(zone).date(), share, completions if period == current else 0)
        for period, share in sorted(shares.items())
    ]


def _write_params(
    client: ClientContext, row: _SessionState, progress: _ProgressState, pieces: list[LedgerPiece]
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "b_client": client.id,
        "b_user": row.user_id,
        "b_class": row.class_id,
        "s_id": row.id,
        "s_status": row.status,
        "s_ended_at": row.ended_at,
        "s_last_heartbeat_at": row.last_heartbeat_at,
        "s_position_seconds": row.position_seconds,
        "s_credited_seconds": row.credited_seconds,
        "p_id": progress.id,
        "p_covered": progress.covered,
        "p_covered_buckets": progress.covered_buckets,
        "p_resume_position": progress.resume_position,
        "p_last_watched_at": progress.last_watched_at,
        "p_completed_at": progress.completed_at,
    }
    for i, piece in enumerate(pieces):
        for name, value in zip(_LEDGER_FIELDS, piece, strict=True):
            params[f"l{i}_{name}"] = value
    return params


class _Executor(Protocol):
    async def read(self, with_sign_in: bool, params: dict[str, Any]) -> Mapping[str, Any] | None:
        """The locked row of the session, its class and progress (None: no such session)."""
        ...

    async def write(self, pieces: int, params: dict[str, Any]) -> None: ...

    async def expire(self, params: dict[str, Any]) -> None: ...


class _OnDriver:
    """PostgreSQL: the statements compiled once, run on asyncpg (see kit.db.driver_transaction)."""

    read_statements: ClassVar[dict[bool, DriverStatement]] = {
        flag: DriverStatement.of(statement) for flag, statement in _READ.items()
    }
    session_update: ClassVar[DriverStatement] = DriverStatement.of(_SESSION_UPDATE)

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def read(self, with_sign_in: bool, params: dict[str, Any]) -> Mapping[str, Any] | None:
        record = await self.read_statements[with_sign_in].fetchrow(self.connection, params)
        return None if record is None else cast(Mapping[str, Any], record)

    async def write(self, pieces: int, params: dict[str, Any]) -> None:
        await _driver_write(pieces).execute(self.connection, params)

    async def expire(self, params: dict[str, Any]) -> None:
        await self.session_update.execute(self.connection, params)


@cache
def _driver_write(pieces: int) -> DriverStatement:
    return DriverStatement.of(_combined_write(pieces))


class _OnSession:
    """Any other database (SQLite): the same statements through the session's connection; the
    writes run in turn (in-process, no round trips)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def read(self, with_sign_in: bool, params: dict[str, Any]) -> Mapping[str, Any] | None:
        found = (await self.connection.execute(_READ[with_sign_in], params)).one_or_none()
        return None if found is None else cast(Mapping[str, Any], found._mapping)

    async def write(self, pieces: int, params: dict[str, Any]) -> None:
        await self.connection.execute(_SESSION_UPDATE, params)
        await self.connection.execute(_PROGRESS_UPDATE, params)
        for i in range(pieces):
            await self.connection.execute(_ledger_upsert(self.connection.dialect.name, i), params)

    async def expire(self, params: dict[str, Any]) -> None:
        await self.connection.execute(_SESSION_UPDATE, params)


async def heartbeat(
    session: AsyncSession,
    client: ClientContext,
    user_id: int,
    session_id: int,
    position: int | None,
    *,
    ending: bool = False,
    sign_in: PendingSignIn | None = None,
) -> dict[str, Any]:
    """Credit a heartbeat (or end the session) and answer the session with its progress.

    ``sign_in`` is the caller's pending account check (from a ``sign_in_checked_by_route``
    route): it is answered by the locked read and confirmed before anything is written.
    """
    beat = _Beat(session, client, user_id, session_id, position, ending, sign_in)
    # Straight on the driver only when the session has begun nothing: that transaction is then
    # the request's only one. A caller with work in progress (the demo) must be seen by the read.
    on_asyncpg = session.bind is not None and session.bind.dialect.driver == "asyncpg"
    if on_asyncpg and not session.in_transaction():
        async with driver_transaction(session) as connection:
            return await beat.run(_OnDriver(connection))
    return await beat.run(_OnSession(await session.connection()))


@dataclass(slots=True)
class _Beat:
    session: AsyncSession
    client: ClientContext
    user_id: int
    session_id: int
    position: int | None
    ending: bool
    sign_in: PendingSignIn | None

    async def run(self, db: _Executor) -> dict[str, Any]:
        now = utcnow()
        client, sign_in = self.client, self.sign_in
        params: dict[str, Any] = {
            "b_client": client.id,
            "b_session": self.session_id,
            "b_user": self.user_id,
        }
        if sign_in is not None:
            params |= sign_in_params(client.id, sign_in)
        found = await db.read(sign_in is not None, params)
        if found is None:
            if sign_in is not None:  # a dead sign-in is told 401 before any 404
                await check_sign_in(self.session, client.id, sign_in)
            raise SessionNotFound()
        if sign_in is not None:
            confirm_sign_in(sign_in, bool(found["signed_in"]))
        row = _SessionState(**{column.name: found[column.name] for column in _SESSION_COLUMNS})
        progress = _ProgressState(
            **{column.name: found[f"progress_{column.name}"] for column in _PROGRESS_COLUMNS}
        )
        if row.status != SessionStatus.ACTIVE.value:
            raise SessionClosed()
        if now - row.last_heartbeat_at > IDLE_LIMIT:
            row.status = SessionStatus.EXPIRED.value
            row.ended_at = row.last_heartbeat_at
            await db.expire(_write_params(client, row, progress, []))
            raise SessionExpired()  # keeps the change: the session is closed either way
        duration_minutes: int = found["duration_minutes"]
        pieces = self._credit(now, row, progress, duration_minutes * 60)
        await db.write(len(pieces), _write_params(client, row, progress, pieces))
        return session_out(row, duration_minutes, progress, client.completion_threshold)

    def _credit(
        self, now: datetime, row: _SessionState, progress: _ProgressState, duration: int
    ) -> list[LedgerPiece]:
        """Apply the heartbeat to the locked rows in memory; the ledger pieces to add."""
        position = self.position
        credited = 0
        if position is not None:
            position = min(position, duration)
            allowed = max(0.0, (now - row.last_heartbeat_at).total_seconds()) + TOLERANCE_SECONDS
            start_at = max(float(row.position_seconds), position - allowed)
            if position > start_at:
                credited = round(position - start_at)
                progress.covered = coverage.cover(progress.covered, start_at, position, duration)
                progress.covered_buckets = coverage.covered(progress.covered)
            row.position_seconds = position
            if progress.resume_session_id == row.id:
                progress.resume_position = position
        row.last_heartbeat_at = now
        row.credited_seconds += credited
        progress.last_watched_at = now

        completions = 0
        buckets = coverage.bucket_count(duration)
        if (
            progress.completed_at is None
            and 100 * progress.covered_buckets >= self.client.completion_threshold * buckets
        ):
            progress.completed_at = now  # once per user and class: the row is locked
            progress.resume_position = 0
            completions = 1
        if self.ending:
            row.status = SessionStatus.ENDED.value
            row.ended_at = now
        return _by_quarter_hour(now, credited, completions, self.client.time_zone)
