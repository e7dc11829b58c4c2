"""PostgreSQL's connection pool under more requests than connections: requests wait for a
pooled connection (no overflow connections opened and closed per burst), and one that waits
longer than ``pool_timeout_seconds`` is told to come back (503 with ``Retry-After``), not 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from stvos.app import create_app
from stvos.config import Settings
from stvos.kit.db import Database
from tests.support.factories import make_client

pytestmark = pytest.mark.usefixtures("only_postgres")  # the SQLite engine keeps no sized pool


@pytest.fixture
async def tight_app(make_settings: Callable[..., Settings]) -> AsyncIterator[FastAPI]:
    settings = make_settings()
    database = settings.database.model_copy(update={"pool_size": 1, "pool_timeout_seconds": 0.3})
    application = create_app(settings.model_copy(update={"database": database}))
    async with LifespanManager(application):
        yield application


def test_requests_queue_for_the_pool_by_default(make_settings: Callable[..., Settings]) -> None:
    pool = Database(make_settings()).engine.pool
    assert pool.overflow() == -pool.size()  # no overflow allowed: max_overflow 0
    assert make_settings().database.max_overflow == 0


async def test_an_exhausted_pool_answers_503_then_recovers(tight_app: FastAPI) -> None:
    database: Database = tight_app.state.db
    client = await make_client(database, "Alpha Studio")
    headers = {"X-API-Key": client.api_key}
    transport = httpx.ASGITransport(app=tight_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as http:
        assert (await http.get("/content/categories", headers=headers)).status_code == 200
        async with database.engine.connect() as held:  # the pool's only connection
            await held.exec_driver_sql("SELECT 1")
            busy = await http.get("/content/categories", headers=headers)
        assert busy.status_code == 503, busy.text
        assert busy.headers["Retry-After"] == "1"
        assert busy.json()["code"] == "PROVIDER_UNAVAILABLE"
        assert busy.json()["success"] is False

        # Requests beyond the pool wait their turn rather than fail.
        answers = await asyncio.gather(
            *(http.get("/content/categories", headers=headers) for _ in range(5))
        )
        assert [a.status_code for a in answers] == [200] * 5
