"""The heartbeat: the hottest path of the API (every viewer, every 30 seconds).

On PostgreSQL heartbeats are group-committed (:mod:`stvos.kit.group_commit`): those that
arrive while the worker's previous batch of the same client is in the database run together
as the next batch, in one transaction of two statements built once at import:

1. one read that locks every heartbeat's playback session and class progress (``FOR
   UPDATE``, in session order), joins the class's duration and, as one more column per
   heartbeat, answers its caller's account check (active, token version, sign-in not ended:
   the route declares ``sign_in_checked_by_route``);
2. one write of what the batch changed: the ledger upsert, with both updates as
   data-modifying CTEs (arrays in, ``unnest`` to rows).

Between them each heartbeat's rules run in arrival order on the locked rows (two of one
session or one progress row see each other's changes) and each gets its own answer: a dead
sign-in, a closed or silent session refuses that heartbeat only, and leaves its changes out.
A heartbeat at an idle worker is a batch of one and waits for nobody.

SQLite (and a caller with work in progress: the demo) runs the single-heartbeat read and then
the writes in turn, in-process, inside the request's transaction (``BEGIN IMMEDIATE`` already
serialises writers). Every statement names the client explicitly on every table it touches:
they run beside the ORM's tenant filter, with row-level security behind them on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, cast
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import (
    Executable,
    Integer,
    Table,
    and_,
    any_,
    bindparam,
    func,
    literal,
    select,
    update,
)
from sqlalchemy import cast as cast_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.types import TypeEngine

from stvos.accounts.access import (
    SIGN_IN_LIVE,
    check_sign_in,
    confirm_sign_in,
    sign_in_live,
    sign_in_params,
)
from stvos.kit.clock import utcnow
from stvos.kit.db import CommitRefused, DriverStatement, unmet_condition
from stvos.kit.errors import StvosError
from stvos.kit.group_commit import GroupCommit
from stvos.kit.policy import ClientContext, PendingSignIn
from stvos.kit.tenancy import get_scope
from stvos.kit.zones import quarter_hour_floor, quarter_hour_shares
from stvos.models import (
    ClassProgress,
    OnDemandClass,
    PlaybackSession,
    RefreshToken,
    SessionStatus,
    User,
    WatchLedger,
)
from stvos.playback import coverage
from stvos.playback.errors import SessionClosed, SessionExpired, SessionNotFound
from stvos.playback.service import IDLE_LIMIT, TOLERANCE_SECONDS, session_out

# A quarter hour (UTC start), its local day (client's zone), seconds credited, completions.
LedgerPiece = tuple[datetime, date, int, int]

_sessions = cast(Table, PlaybackSession.__table__)
_classes = cast(Table, OnDemandClass.__table__)
_progress = cast(Table, ClassProgress.__table__)
_ledger = cast(Table, WatchLedger.__table__)
_users = cast(Table, User.__table__)
_refresh = cast(Table, RefreshToken.__table__)


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


# --- PostgreSQL: a batch of heartbeats (group commit) -------------------------------------------
#
# The read and the write take arrays, one element per heartbeat (``unnest`` turns them into
# rows), so one statement serves a batch of any size and is prepared once per connection.


def _array(name: str, kind: TypeEngine[Any]) -> Any:
    return cast_(bindparam(name), ARRAY(kind))


def _rows(name: str, **types: TypeEngine[Any]) -> Any:
    """``unnest`` of one array parameter per column (named ``{name}_{column}``), as a FROM."""
    arrays = [_array(f"{name}_{key}", kind) for key, kind in types.items()]
    return func.unnest(*arrays).table_valued(*types).render_derived(name=name)


def _one_of(column: Any, name: str) -> Any:
    """``column = ANY(array)``: the rows to read or change are found by their index, whatever
    plan the batch's join gets (an ``unnest`` has no statistics)."""
    return column == any_(_array(name, column.type))


_asked = _rows(
    "asked",
    ord=Integer(),  # the heartbeat's place in the batch
    session_id=_sessions.c.id.type,
    user_id=_sessions.c.user_id.type,
    version=_users.c.token_version.type,
    family=_refresh.c.family.type,
)
# Each heartbeat's locked rows and its own account check; a heartbeat without a row (no such
# session of that user) is absent. ``ORDER BY`` the session id: batches lock in one order.
_BATCH_READ = DriverStatement.of(
    select(
        _asked.c.ord,
        *_SESSION_COLUMNS,
        _classes.c.duration_minutes,
        *[column.label(f"progress_{column.name}") for column in _PROGRESS_COLUMNS],
        sign_in_live(
            bindparam("b_client"), _asked.c.user_id, _asked.c.version, _asked.c.family
        ).label("signed_in"),
    )
    .select_from(
        _asked.join(
            _sessions,
            and_(
                _sessions.c.client_id == bindparam("b_client"),
                _one_of(_sessions.c.id, "asked_session_id"),
                _sessions.c.id == _asked.c.session_id,
                _sessions.c.user_id == _asked.c.user_id,
            ),
        )
        .join(_classes, _same_class)
        .join(_progress, _same_progress)
    )
    .order_by(_sessions.c.id)
    .with_for_update(of=[_sessions, _progress])
)

_SESSION_FIELDS = ("id", "status", "ended_at", "last_heartbeat_at", "position_seconds")
_PROGRESS_FIELDS = (
    "id",
    "covered",
    "covered_buckets",
    "resume_position",
    "last_watched_at",
    "completed_at",
)
_new_sessions = _rows(
    "sessions",
    **{name: _sessions.c[name].type for name in (*_SESSION_FIELDS, "credited_seconds")},
)
_new_progress = _rows("progress", **{name: _progress.c[name].type for name in _PROGRESS_FIELDS})
_pieces = _rows(
    "pieces",
    user_id=_ledger.c.user_id.type,
    class_id=_ledger.c.class_id.type,
    **{name: _ledger.c[name].type for name in _LEDGER_FIELDS},
)


def _written(table: Table, rows: Any, fields: Sequence[str], name: str) -> Any:
    """A CTE that updates ``table``'s rows named by ``rows.id`` (this client's) with the other
    ``fields`` of ``rows``."""
    return (
        update(table)
        .where(
            table.c.client_id == bindparam("b_client"),
            _one_of(table.c.id, f"{rows.name}_id"),
            table.c.id == rows.c.id,
        )
        .values({field: rows.c[field] for field in fields if field != "id"})
        .returning(table.c.id)
        .cte(name)
    )


def _batch_write() -> Executable:
    """The batch's changed sessions and progress rows and its ledger pieces, one statement: the
    updates ride as data-modifying CTEs of the ledger upsert."""
    session_written = _written(
        _sessions, _new_sessions, (*_SESSION_FIELDS, "credited_seconds"), "session_written"
    )
    progress_written = _written(_progress, _new_progress, _PROGRESS_FIELDS, "progress_written")
    insert = pg_insert(_ledger).from_select(
        ["client_id", "user_id", "class_id", *_LEDGER_FIELDS],
        select(
            cast_(bindparam("b_client"), _ledger.c.client_id.type),
            _pieces.c.user_id,
            _pieces.c.class_id,
            *[_pieces.c[name] for name in _LEDGER_FIELDS],
        ),
    )
    return insert.on_conflict_do_update(
        index_elements=["client_id", "user_id", "class_id", "period_start"],
        set_={
            "watched_seconds": _ledger.c.watched_seconds + insert.excluded.watched_seconds,
            "completions": _ledger.c.completions + insert.excluded.completions,
        },
    ).add_cte(session_written, progress_written)


_BATCH_WRITE = DriverStatement.of(_batch_write())


# --- One heartbeat's rules, the same on every database -----------------------------------------


@dataclass(slots=True, frozen=True)
class _Asked:
    """One heartbeat (or end) as its request asked for it."""

    client: ClientContext
    user_id: int
    session_id: int
    position: int | None
    ending: bool
    sign_in: PendingSignIn | None
    # The request's session: its commit conditions gate this heartbeat's writes.
    session: AsyncSession


# What a heartbeat answers: the session (as session_out), or the error its request raises;
# None when there is no such session of that user (the request tells 401 before that 404).
Answer = dict[str, Any] | Exception | None


@dataclass(slots=True)
class _Applied:
    answer: dict[str, Any] | Exception
    pieces: list[LedgerPiece]
    session_changed: bool = False
    progress_changed: bool = False


def _states(found: Mapping[str, Any]) -> tuple[_SessionState, _ProgressState]:
    row = _SessionState(**{column.name: found[column.name] for column in _SESSION_COLUMNS})
    progress = _ProgressState(
        **{column.name: found[f"progress_{column.name}"] for column in _PROGRESS_COLUMNS}
    )
    return row, progress


def _apply(
    asked: _Asked,
    signed_in: bool,
    row: _SessionState,
    progress: _ProgressState,
    duration_minutes: int,
    now: datetime,
) -> _Applied:
    """Apply one heartbeat to its locked rows (changed in place) and say what to write. A
    refusal changes nothing: it is decided before any change."""
    try:
        if asked.sign_in is not None:
            confirm_sign_in(asked.sign_in, signed_in)
        unmet = unmet_condition(asked.session)
        if unmet is not None:  # fail closed: a route that left a condition open writes nothing
            raise CommitRefused(unmet)
    except (StvosError, CommitRefused) as refused:
        return _Applied(refused, [])
    if row.status != SessionStatus.ACTIVE.value:
        return _Applied(SessionClosed(), [])
    if now - row.last_heartbeat_at > IDLE_LIMIT:
        row.status = SessionStatus.EXPIRED.value
        row.ended_at = row.last_heartbeat_at
        return _Applied(SessionExpired(), [], session_changed=True)  # closed either way
    pieces = _credit(asked, now, row, progress, duration_minutes * 60)
    answer = session_out(row, duration_minutes, progress, asked.client.completion_threshold)
    return _Applied(answer, pieces, session_changed=True, progress_changed=True)


def _credit(
    asked: _Asked, now: datetime, row: _SessionState, progress: _ProgressState, duration: int
) -> list[LedgerPiece]:
    """Credit the heartbeat to the locked rows in memory; the ledger pieces to add."""
    position = asked.position
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
        and 100 * progress.covered_buckets >= asked.client.completion_threshold * buckets
    ):
        progress.completed_at = now  # once per user and class: the row is locked
        progress.resume_position = 0
        completions = 1
    if asked.ending:
        row.status = SessionStatus.ENDED.value
        row.ended_at = now
    return _by_quarter_hour(now, credited, completions, asked.client.time_zone)


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
    asked = _Asked(client, user_id, session_id, position, ending, sign_in, session)
    # On PostgreSQL the heartbeat joins the worker's next batch (group commit) when the session
    # has begun nothing: that transaction is then all the request writes. A caller with work in
    # progress (the demo) runs it in its own transaction, where the read sees that work.
    engine = session.bind
    if (
        isinstance(engine, AsyncEngine)
        and engine.dialect.driver == "asyncpg"
        and not session.in_transaction()
    ):
        answer = await _batches.submit(engine, get_scope(session.sync_session), asked)
    else:
        answer = await _in_session(asked)
    if answer is None:
        if sign_in is not None and not sign_in.confirmed:  # a dead sign-in is told 401 first
            await check_sign_in(session, client.id, sign_in)
        raise SessionNotFound()
    if isinstance(answer, Exception):
        raise answer
    return answer


async def _in_session(asked: _Asked) -> Answer:
    """The heartbeat in the request's own transaction (SQLite, or a caller's work in progress):
    the same statements one by one; the writes run in turn (in-process on SQLite)."""
    connection = await asked.session.connection()
    params: dict[str, Any] = {
        "b_client": asked.client.id,
        "b_session": asked.session_id,
        "b_user": asked.user_id,
    }
    if asked.sign_in is not None:
        params |= sign_in_params(asked.client.id, asked.sign_in)
    found = (await connection.execute(_READ[asked.sign_in is not None], params)).one_or_none()
    if found is None:
        return None
    row, progress = _states(cast(Mapping[str, Any], found._mapping))
    applied = _apply(asked, bool(found.signed_in), row, progress, found.duration_minutes, utcnow())
    writes = _write_params(asked.client, row, progress, applied.pieces)
    if applied.session_changed:
        await connection.execute(_SESSION_UPDATE, writes)
    if applied.progress_changed:
        await connection.execute(_PROGRESS_UPDATE, writes)
    for i in range(len(applied.pieces)):
        await connection.execute(_ledger_upsert(connection.dialect.name, i), writes)
    return applied.answer  # an expiry's error keeps its write (SessionExpired.keeps_changes)


async def _run_batch(connection: asyncpg.Connection, batch: Sequence[_Asked]) -> list[Answer]:
    """A batch of one client's heartbeats in one transaction: one locked read, the rules of each
    heartbeat in arrival order (two of one session or one progress row see each other's
    changes), one write of what the successful ones changed."""
    client_id = batch[0].client.id
    if any(asked.client.id != client_id for asked in batch):  # a batch is one tenant scope's
        raise RuntimeError("a heartbeat batch mixed clients")
    asked_params: dict[str, list[Any]] = {
        "asked_ord": list(range(len(batch))),
        "asked_session_id": [asked.session_id for asked in batch],
        "asked_user_id": [asked.user_id for asked in batch],
        "asked_version": [a.sign_in.token_version if a.sign_in else None for a in batch],
        "asked_family": [a.sign_in.family if a.sign_in else None for a in batch],
    }
    records = await _BATCH_READ.fetch(connection, {"b_client": client_id, **asked_params})
    found = {record["ord"]: record for record in records}

    now = utcnow()
    sessions: dict[int, _SessionState] = {}
    progresses: dict[int, _ProgressState] = {}
    changed_sessions: set[int] = set()
    changed_progress: set[int] = set()
    ledger: dict[tuple[int, int, datetime], list[Any]] = {}  # (user, class, period): day, s, c
    answers: list[Answer] = []
    for i, asked in enumerate(batch):
        record = found.get(i)
        if record is None:
            answers.append(None)
            continue
        fresh_row, fresh_progress = _states(record)
        # A second heartbeat of a session (or of a progress row) sees the first one's changes.
        row = sessions.setdefault(fresh_row.id, fresh_row)
        progress = progresses.setdefault(fresh_progress.id, fresh_progress)
        applied = _apply(asked, record["signed_in"], row, progress, record["duration_minutes"], now)
        answers.append(applied.answer)
        if applied.session_changed:
            changed_sessions.add(row.id)
        if applied.progress_changed:
            changed_progress.add(progress.id)
        for period, day, seconds, completions in applied.pieces:
            total = ledger.setdefault((row.user_id, row.class_id, period), [day, 0, 0])
            total[1] += seconds
            total[2] += completions

    if changed_sessions:
        await _BATCH_WRITE.execute(
            connection,
            {
                "b_client": client_id,
                **_columns(
                    "sessions",
                    (*_SESSION_FIELDS, "credited_seconds"),
                    [sessions[key] for key in sorted(changed_sessions)],
                ),
                **_columns(
                    "progress",
                    _PROGRESS_FIELDS,
                    [progresses[key] for key in sorted(changed_progress)],
                ),
                **_ledger_columns(ledger),
            },
        )
    return answers


def _columns(name: str, fields: Sequence[str], states: Sequence[Any]) -> dict[str, list[Any]]:
    return {f"{name}_{field}": [getattr(state, field) for state in states] for field in fields}


def _ledger_columns(ledger: dict[tuple[int, int, datetime], list[Any]]) -> dict[str, list[Any]]:
    keys = sorted(ledger)  # one order for every batch: concurrent upserts of a row queue
    return {
        "pieces_user_id": [user for user, _, _ in keys],
        "pieces_class_id": [class_id for _, class_id, _ in keys],
        "pieces_period_start": [period for _, _, period in keys],
        "pieces_day": [ledger[key][0] for key in keys],
        "pieces_watched_seconds": [ledger[key][1] for key in keys],
        "pieces_completions": [ledger[key][2] for key in keys],
    }


# One per process: each worker batches its own requests' heartbeats.
_batches: GroupCommit[_Asked, Answer] = GroupCommit("heartbeat", _run_batch)
