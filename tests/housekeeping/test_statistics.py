"""On SQLite, each housekeeping round refreshes the query planner's statistics (PRAGMA optimize)
and has every pooled connection reload them; on PostgreSQL it leaves that to autovacuum."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, text

from stvos.housekeeping.service import (
    SQLITE_ANALYSIS_LIMIT,
    SQLITE_OPTIMIZE,
    refresh_statistics,
)
from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import OnDemandClass
from tests.content import a_class, add_category, save
from tests.support.factories import TestClient
from tests.support.statements import count_statements


async def test_each_round_runs_pragma_optimize_on_sqlite_only(
    app: FastAPI, http: httpx.AsyncClient, db: Database, client_a: TestClient, is_postgres: bool
) -> None:
    response = await http.get("/content/classes", headers=client_a.headers)
    assert response.status_code == 200, response.text
    with count_statements(db) as seen:
        await app.state.housekeeper.run_once()
    pragmas = [s for s in seen if s.startswith("PRAGMA")]
    limit = f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}"
    assert pragmas == ([] if is_postgres else [limit, SQLITE_OPTIMIZE])


async def _schema_version(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int(await conn.scalar(text("PRAGMA schema_version")) or 0)


async def test_sqlite_statistics_appear_for_the_tables_in_use_and_reach_every_connection(
    db: Database, client_a: TestClient, clock: FrozenClock, is_postgres: bool
) -> None:
    """A library queried without statistics has them after a round (on the same connection:
    SQLite before 3.46 looks at the tables the connection has used), and the schema changed
    (other connections reload their statistics with it); a round with nothing stale changes
    nothing."""
    category = await add_category(db, client_a, "Yoga")
    now = clock.now()
    await save(
        db,
        client_a,
        *(a_class(f"C {i}", now - timedelta(hours=i + 1), category_id=category) for i in range(50)),
    )
    version = 0 if is_postgres else await _schema_version(db)

    async def round_after_a_query() -> list[str]:
        async with db.transaction(TenantScope.for_client(client_a.id)) as session:
            published = await session.scalar(
                select(func.count()).where(OnDemandClass.category_id == category)
            )
            assert published == 50
            with count_statements(db) as seen:
                analysed = await refresh_statistics(session)
        assert (SQLITE_OPTIMIZE in seen) is not is_postgres
        return analysed

    analysed = await round_after_a_query()
    if is_postgres:
        assert analysed == []
        return
    assert "on_demand_classes" in analysed
    async with db.engine.connect() as conn:
        tables = set(await conn.scalars(text("SELECT DISTINCT tbl FROM sqlite_stat1")))
    assert "on_demand_classes" in tables
    assert await _schema_version(db) > version

    version = await _schema_version(db)
    assert await round_after_a_query() == []  # nothing stale: no new statistics, no change
    assert await _schema_version(db) == version
