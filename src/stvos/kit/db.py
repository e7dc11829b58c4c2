"""Async engine, per-request sessions, and the per-transaction tenant setting.

One :class:`Database` per process. Each request gets one session and one transaction, committed
by the request boundary (see :mod:`stvos.kit.deps`), never by a service.

SQLite: WAL, foreign keys and a busy timeout on every connection; transactions are begun
explicitly, ``BEGIN IMMEDIATE`` for writing requests so that two writers queue on the busy
timeout instead of failing half-way when a read lock cannot be upgraded.

PostgreSQL: every connection switches to the application role (not the table owner) and every
transaction starts by declaring its tenant scope with ``set_config(..., true)``, which the
row-level security policies read. The declaration travels in the same message as the ``BEGIN``
(see :class:`DeclaringConnection`), so it costs no round trip of its own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import asyncpg
from sqlalchemy import ClauseElement, Executable, event, text
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn

from stvos.config import Settings
from stvos.kit.errors import StvosError
from stvos.kit.tenancy import TenantScope, get_scope, set_scope

log = logging.getLogger(__name__)

# PostgreSQL settings read by the row-level security policies (see migrations/rls.py).
PG_CLIENT_SETTING = "stvos.client_id"
PG_PLATFORM_SETTING = "stvos.platform"

_WRITE_OPTION = "stvos_write"
_COMMIT_CONDITIONS = "stvos.commit_conditions"


class CommitCondition(Protocol):
    def unmet(self) -> str | None:
        """Why the transaction must not commit yet, or None when it may."""
        ...


class CommitRefused(RuntimeError):
    """A request's work was about to commit with a declared condition unmet (a programming
    error: answered 500, nothing written)."""


def require_before_commit(session: AsyncSession, condition: CommitCondition) -> None:
    """Make the request's commit depend on ``condition`` (checked at the commit itself)."""
    session.info.setdefault(_COMMIT_CONDITIONS, []).append(condition)


def unmet_condition(session: AsyncSession) -> str | None:
    for condition in session.info.get(_COMMIT_CONDITIONS, ()):
        reason: str | None = condition.unmet()
        if reason is not None:
            return reason
    return None


_ISOLATION_SQL = {
    "read_committed": " ISOLATION LEVEL READ COMMITTED",
    "read_uncommitted": " ISOLATION LEVEL READ UNCOMMITTED",
    "repeatable_read": " ISOLATION LEVEL REPEATABLE READ",
    "serializable": " ISOLATION LEVEL SERIALIZABLE",
}


def scope_declaration(scope: TenantScope) -> str:
    """The statement that tells row-level security which client a transaction works for.

    Rendered with literals (an integer and two fixed words), so it can share a simple-protocol
    message with ``BEGIN``.
    """
    client = "" if scope.client_id is None else str(int(scope.client_id))
    platform = "on" if scope.platform else ""
    return (
        f"SELECT set_config('{PG_CLIENT_SETTING}', '{client}', true), "
        f"set_config('{PG_PLATFORM_SETTING}', '{platform}', true)"
    )


class _DeclaringTransaction:
    """What SQLAlchemy's asyncpg adapter drives (start, commit, rollback), opening with
    ``BEGIN ...; SELECT set_config(...)`` in one simple-protocol message."""

    def __init__(self, connection: asyncpg.Connection, opening: str) -> None:
        self._connection = connection
        self._opening = opening

    async def start(self) -> None:
        try:
            await self._connection.execute(self._opening)
        except BaseException:
            # BEGIN may have run before the declaration failed: never hand the pool a
            # connection inside a transaction nobody tracks.
            if not self._connection.is_closed() and self._connection.is_in_transaction():
                await self._connection.execute("ROLLBACK")
            raise

    async def commit(self) -> None:
        await self._connection.execute("COMMIT")

    async def rollback(self) -> None:
        await self._connection.execute("ROLLBACK")


class DeclaringConnection(asyncpg.Connection):  # type: ignore[misc]
    """An asyncpg connection whose next transaction opens with a pending tenant declaration.

    SQLAlchemy's asyncpg adapter begins a transaction lazily, right before the first statement.
    The session's ``after_begin`` hook (below) leaves the declaration here instead of sending it
    as a statement of its own; the transaction that starts next carries it in its ``BEGIN``
    message. A declaration not consumed is dropped when the connection returns to the pool, and
    a transaction begun without one declares nothing, so row-level security sees no client.
    """

    pending_declaration: str | None = None

    def transaction(
        self, *, isolation: str | None = None, readonly: bool = False, deferrable: bool = False
    ) -> Any:
        declaration, self.pending_declaration = self.pending_declaration, None
        if declaration is None:
            return super().transaction(
                isolation=isolation, readonly=readonly, deferrable=deferrable
            )
        begin = "BEGIN" + _ISOLATION_SQL.get(isolation or "", "")
        begin += " READ ONLY" if readonly else ""
        begin += " DEFERRABLE" if deferrable else ""
        return _DeclaringTransaction(self, f"{begin}; {declaration}")


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a SQLite file so a first run needs no set-up."""
    database = make_url(url).database
    if url.startswith("sqlite") and database:
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.database_url
        self.is_sqlite = self.url.startswith("sqlite")
        self.engine = self._create_engine()
        self._read_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(
            self.engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False
        )

    def _create_engine(self) -> AsyncEngine:
        db = self.settings.database
        kwargs: dict[str, Any] = {"echo": db.echo, "pool_pre_ping": False}
        if self.is_sqlite:
            if ":memory:" in self.url or self.url.endswith("://"):
                raise ValueError("stvos needs a SQLite file, not an in-memory database")
            ensure_sqlite_directory(self.url)
        else:
            kwargs |= {
                "pool_size": db.pool_size,
                "max_overflow": db.max_overflow,
                "pool_timeout": db.pool_timeout_seconds,
                "connect_args": {"connection_class": DeclaringConnection},
            }
        engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            self._install_sqlite_hooks(engine)
        else:
            self._install_postgres_hooks(engine)
        return engine

    def _install_sqlite_hooks(self, engine: AsyncEngine) -> None:
        busy_ms = self.settings.database.sqlite_busy_timeout_ms

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get(_WRITE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    def _install_postgres_hooks(self, engine: AsyncEngine) -> None:
        @event.listens_for(engine.sync_engine, "checkin")
        def _on_checkin(dbapi_conn: Any, _record: Any) -> None:
            driver = getattr(dbapi_conn, "driver_connection", None)
            if isinstance(driver, DeclaringConnection):
                driver.pending_declaration = None

        role = self.settings.database.app_role
        if not role:
            return

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute(f'SET ROLE "{role}"')  # validated identifier, see config
            cursor.close()
            # The adapter ran that in a transaction of its own: end it, so a new connection is
            # handed out idle. Left open, driver_transaction's BEGIN ran inside it and the
            # pool's reset on return then failed outside a greenlet, discarding the connection:
            # every connection first used by a heartbeat was closed after it, a new backend each.
            dbapi_conn.commit()

    def session(self, scope: TenantScope, *, write: bool = True) -> AsyncSession:
        factory = self._write_sessions if write else self._read_sessions
        session = factory()
        set_scope(session.sync_session, scope)
        return session

    @asynccontextmanager
    async def transaction(
        self, scope: TenantScope, *, write: bool = True
    ) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error."""
        async with self.session(scope, write=write) as session:
            try:
                yield session
                unmet = unmet_condition(session)
                if unmet is not None:
                    raise CommitRefused(unmet)
                if session.in_transaction():  # a request that never touched it has nothing to end
                    await session.commit()
            except StvosError as exc:
                keep = exc.keeps_changes and unmet_condition(session) is None
                await (session.commit() if keep else session.rollback())
                raise
            except BaseException:
                await session.rollback()
                raise

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


@event.listens_for(Session, "after_begin")
def _declare_scope_to_postgres(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    """Tell PostgreSQL's row-level security which client this transaction works for.

    When the driver has not begun the transaction yet (the usual case: asyncpg begins right
    before the first statement), the declaration rides in the ``BEGIN`` message; otherwise it
    is sent now, as a statement of its own.
    """
    if connection.dialect.name != "postgresql":
        return
    declaration = scope_declaration(get_scope(session))
    driver = connection.connection.driver_connection
    if isinstance(driver, DeclaringConnection) and not driver.is_in_transaction():
        driver.pending_declaration = declaration
        return
    connection.exec_driver_sql(declaration)


# --- PostgreSQL hot paths: prebuilt statements straight on the driver -------------------------


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A SQLAlchemy statement compiled once for asyncpg: its SQL (``$n`` parameters, with the
    casts SQLAlchemy renders) and the order of its bind parameters."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]  # values bound in the statement itself (literals)

    @classmethod
    def of(cls, statement: Executable) -> DriverStatement:
        dialect = postgresql_asyncpg.dialect()  # type: ignore[no-untyped-call]
        compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect))
        defaults = {name: value for name, value in compiled.params.items() if value is not None}
        return cls(compiled.string, tuple(compiled.positiontup or ()), defaults)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] if name in params else self.defaults[name] for name in self.names]

    async def fetch(
        self, connection: asyncpg.Connection, params: Mapping[str, Any]
    ) -> list[asyncpg.Record]:
        args = self.args(params)
        _observed(self.sql, args)
        return cast(list[asyncpg.Record], await connection.fetch(self.sql, *args))

    async def execute(self, connection: asyncpg.Connection, params: Mapping[str, Any]) -> None:
        args = self.args(params)
        _observed(self.sql, args)
        await connection.execute(self.sql, *args)


# Statements sent straight on the driver are invisible to SQLAlchemy's cursor events; counters
# (tests, the benchmark harness) watch them here. Empty in production: one check per statement.
DriverObserver = Callable[[str, Sequence[Any]], None]
_driver_observers: list[DriverObserver] = []


def _observed(sql: str, args: Sequence[Any] = ()) -> None:
    for observer in _driver_observers:
        observer(sql, args)


@contextmanager
def observe_driver_statements(observer: DriverObserver) -> Iterator[None]:
    """Call ``observer(sql, args)`` for every statement sent by :func:`driver_transaction`
    code (its ``BEGIN`` and ``COMMIT`` messages included)."""
    _driver_observers.append(observer)
    try:
        yield
    finally:
        _driver_observers.remove(observer)


async def _send(connection: asyncpg.Connection, sql: str) -> None:
    _observed(sql)
    await connection.execute(sql)


@asynccontextmanager
async def driver_transaction(
    engine: AsyncEngine, scope: TenantScope
) -> AsyncIterator[asyncpg.Connection]:
    """A PostgreSQL transaction straight on a pooled asyncpg connection, for the hottest paths.

    SQLAlchemy's per-statement work (about 100 us of CPU per round trip, greenlet hand-offs
    included) is most of a heartbeat's cost; prebuilt :class:`DriverStatement` s skip it. Its
    ``BEGIN`` message declares ``scope`` for row-level security; it commits when the block ends
    and rolls back on any error; a connection is never returned to the pool inside it. It is no
    request's transaction: whoever runs requests' work in it (see :mod:`stvos.kit.group_commit`)
    applies their commit conditions (:func:`unmet_condition`) to that work itself.
    """
    declaration = scope_declaration(scope)
    # The pooled connection itself, not an AsyncConnection around it: that wrapper's set-up and
    # tear-down (two more greenlet hand-offs) cost as much as a statement here. Checking it in
    # is synchronous work only (SQLAlchemy's reset has no transaction of its own to end).
    pooled = await engine.raw_connection()
    driver = pooled.driver_connection
    assert isinstance(driver, asyncpg.Connection)
    try:
        await _send(driver, f"BEGIN ISOLATION LEVEL READ COMMITTED; {declaration}")
        try:
            yield driver
            await _send(driver, "COMMIT")
        except BaseException:
            await _send(driver, "ROLLBACK")
            raise
    finally:
        if driver.is_closed() or driver.is_in_transaction():
            await greenlet_spawn(pooled.invalidate)  # broken or interrupted: never reuse it
        else:
            pooled.close()
