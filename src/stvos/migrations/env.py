"""Alembic environment: async engines for both dialects, batch mode on SQLite."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import stvos.models  # noqa: F401 - registers every model on the metadata
from stvos.config import Settings, get_settings
from stvos.kit.orm import Base

config = context.config
settings: Settings = config.attributes.get("settings") or get_settings()
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations(app_role=settings.database.app_role or None)


async def _run_async() -> None:
    # Migrations run as the connecting (owner) role: no SET ROLE, no tenant scope.
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=settings.database_url, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations(app_role=settings.database.app_role or None)
else:
    asyncio.run(_run_async())
