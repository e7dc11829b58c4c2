"""Async engine, per-request sessions, and the per-transaction tenant setting.

One :class:`Database` per process. Each request gets one session and one transaction, committed
by the request boundary (see :mod:`stvos.kit.deps`), never by a service.

SQLite: WAL, foreign keys and a busy timeout on every connection; transactions are begun
explicitly, ``BEGIN IMMEDIATE`` for writing requests so that two writers queue on the busy
timeout instead of failing half-way when a read lock cannot be upgraded.

PostgreSQL: every connection switches to the application role (not the table owner) and every
transaction starts by declaring its tenant scope with ``set_config(..., true)``, which the
row-level security policies read.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction

from stvos.config import Settings
from stvos.kit.errors import StvosError
from stvos.kit.tenancy import TenantScope, get_scope, set_scope

log = logging.getLogger(__name__)

# PostgreSQL settings read by the row-level security policies (see migrations/rls.py).
PG_CLIENT_SETTING = "stvos.client_id"
PG_PLATFORM_SETTING = "stvos.platform"

_WRITE_OPTION = "stvos_write"


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
            kwargs |= {"pool_size": db.pool_size, "max_overflow": db.max_overflow}
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
        role = self.settings.database.app_role
        if not role:
            return

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute(f'SET ROLE "{role}"')  # validated identifier, see config
            cursor.close()

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
                await session.commit()
            except StvosError as exc:
                await (session.commit() if exc.keeps_changes else session.rollback())
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
    """Tell PostgreSQL's row-level security which client this transaction works for."""
    if connection.dialect.name != "postgresql":
        return
    scope = get_scope(session)
    connection.execute(
        text(
            "SELECT set_config(:client_key, :client_id, true), "
            "set_config(:platform_key, :platform, true)"
        ),
        {
            "client_key": PG_CLIENT_SETTING,
            "client_id": "" if scope.client_id is None else str(scope.client_id),
            "platform_key": PG_PLATFORM_SETTING,
            "platform": "on" if scope.platform else "",
        },
    )
