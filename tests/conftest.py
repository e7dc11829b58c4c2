from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from stvos.app import create_app
from stvos.config import Settings
from stvos.kit.clock import Clock, FrozenClock, set_clock
from stvos.kit.db import Database
from tests.support.databases import (
    PostgresDatabase,
    SqliteTemplate,
    postgres_url,
    settings_for,
)
from tests.support.factories import TestClient, make_client

BASE_URL = "http://testserver/api/v1"


def pytest_report_header() -> str:
    url = postgres_url()
    where = "PostgreSQL " + re.sub(r":[^@/]*@", ":***@", url) if url else "SQLite"
    return f"stvos test database: {where}"


@pytest.fixture(scope="session")
async def database_source(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    root = tmp_path_factory.mktemp("db")
    url = postgres_url()
    source: SqliteTemplate | PostgresDatabase
    if url:
        source = PostgresDatabase(url)
        await source.prepare(root)
    else:
        source = SqliteTemplate(root)
        await source.prepare()
    yield source
    await source.finish()


@pytest.fixture
def is_postgres() -> bool:
    return postgres_url() is not None


@pytest.fixture
def only_postgres(is_postgres: bool) -> None:
    """Skips the test on SQLite: what it checks exists on PostgreSQL only (the driver path, a
    sized connection pool)."""
    if not is_postgres:
        pytest.skip("PostgreSQL only")


@pytest.fixture
async def database_url(database_source: Any, request: pytest.FixtureRequest) -> str:
    return str(await database_source.fresh(re.sub(r"\W+", "_", request.node.name)[:40]))


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def build(**overrides: object) -> Settings:
        return settings_for(database_url, tmp_path / "data", **overrides)

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
def db(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


@pytest.fixture
async def client_a(db: Database) -> TestClient:
    return await make_client(db, "Alpha Studio", time_zone="Europe/London")


@pytest.fixture
async def client_b(db: Database) -> TestClient:
    return await make_client(db, "Beta Gym", time_zone="America/New_York")


@pytest.fixture
def clock() -> Any:
    frozen = FrozenClock()
    set_clock(frozen)
    yield frozen
    set_clock(Clock())


@pytest.fixture
async def plumbing_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The real app plus the test-only routes of tests/support/routes.py."""
    from tests.support.routes import router as test_router

    application = create_app(settings)
    application.include_router(test_router)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def phttp(plumbing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=plumbing_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


@pytest.fixture
def pdb(plumbing_app: FastAPI) -> Database:
    database: Database = plumbing_app.state.db
    return database


@pytest.fixture
async def empty_settings(tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings pointing at a brand-new, empty database of the suite's kind."""
    url = postgres_url()
    if url is None:
        yield settings_for(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}", tmp_path)
        return
    scratch = PostgresDatabase(url)
    await scratch.create()
    yield settings_for(scratch.url, tmp_path)
    await scratch.finish()
