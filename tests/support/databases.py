"""Test databases: each test gets a freshly migrated schema on SQLite or PostgreSQL.

SQLite: the migrations run once into a template file; each test gets a copy (fast, isolated).
PostgreSQL (``STVOS_TEST_DATABASE_URL``): a throw-away database is created for the run and
migrated once; each test starts by truncating every table, and the database is dropped at the
end. Both paths build the schema by running the real migrations.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from stvos import migrations
from stvos.config import Settings, load_settings

TEST_DATABASE_ENV = "STVOS_TEST_DATABASE_URL"


def postgres_url() -> str | None:
    return os.environ.get(TEST_DATABASE_ENV) or None


def settings_for(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    """Test settings; limits are high unless a test asks for the real ones."""
    values: dict[str, object] = {
        "environment": "test",
        "data_dir": data_dir,
        "database": {"url": database_url},
        "rate_limit": {"per_minute": 100_000, "burst": 100_000},
    }
    values.update(overrides)
    return load_settings(**values)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class SqliteTemplate:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / "template.db"

    async def prepare(self) -> None:
        settings = settings_for(f"sqlite+aiosqlite:///{self.template}", self.root)
        await asyncio.to_thread(migrations.upgrade, settings)

    async def fresh(self, name: str) -> str:
        target = self.root / f"{name}-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(self.template, target)
        return f"sqlite+aiosqlite:///{target}"

    async def finish(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class PostgresDatabase:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"stvos_test_{uuid.uuid4().hex[:10]}"
        self.url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)
        self.tables: list[str] = []

    async def create(self) -> None:
        """An empty database (no schema)."""
        conn = await asyncpg.connect(_asyncpg_dsn(self.admin_url))
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await conn.close()

    async def prepare(self, data_dir: Path) -> None:
        await self.create()
        await asyncio.to_thread(migrations.upgrade, settings_for(self.url, data_dir))
        conn = await asyncpg.connect(_asyncpg_dsn(self.url))
        try:
            rows = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        finally:
            await conn.close()
        self.tables = [r["tablename"] for r in rows]

    async def fresh(self, _name: str) -> str:
        conn = await asyncpg.connect(_asyncpg_dsn(self.url))
        try:
            await conn.execute(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in self.tables) + " RESTART IDENTITY CASCADE"
            )
        finally:
            await conn.close()
        return self.url

    async def finish(self) -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(self.admin_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await conn.close()
