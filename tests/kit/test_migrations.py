"""One Alembic chain for both databases: it goes up and down, and matches the models."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from stvos import migrations
from stvos.config import Settings
from stvos.kit.orm import Base, TenantOwned

# Content search objects (migration 0006) that live only in the database, on purpose not in the
# models: SQLite's FTS5 table with its shadow tables; PostgreSQL's generated tsvector column of
# on_demand_classes and its GIN index.
SEARCH_OBJECTS = frozenset(
    {
        "on_demand_classes_fts",
        "on_demand_classes_fts_config",
        "on_demand_classes_fts_data",
        "on_demand_classes_fts_docsize",
        "on_demand_classes_fts_idx",
        "search_vector",
        "ix_on_demand_classes_search_vector",
    }
)


async def _tables(settings: Settings) -> set[str]:
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    finally:
        await engine.dispose()
    return set(names) - {"alembic_version"}


async def test_the_chain_goes_up_down_and_up_again(empty_settings: Settings) -> None:
    model_tables = set(Base.metadata.tables)
    await asyncio.to_thread(migrations.upgrade, empty_settings)
    assert await _tables(empty_settings) - SEARCH_OBJECTS == model_tables
    assert await migrations.current_revision(empty_settings) == migrations.head_revision(
        empty_settings
    )
    await asyncio.to_thread(migrations.downgrade, empty_settings, "base")
    assert await _tables(empty_settings) == set()
    await asyncio.to_thread(migrations.upgrade, empty_settings)
    assert await _tables(empty_settings) - SEARCH_OBJECTS == model_tables


async def test_migrated_schema_matches_the_models(settings: Settings) -> None:
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(
                        c,
                        opts={
                            "compare_type": True,
                            "include_name": lambda name, *_: name not in SEARCH_OBJECTS,
                        },
                    ),
                    Base.metadata,
                )
            )
    finally:
        await engine.dispose()
    assert diff == []


def test_every_tenant_table_has_an_index_led_by_client_id() -> None:
    tenant_tables = [
        mapper.local_table
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantOwned)
    ]
    assert tenant_tables
    for table in tenant_tables:
        leading = [
            next(c.name for c in index.columns) for index in table.indexes if len(index.columns)
        ] + [
            constraint.columns.keys()[0]
            for constraint in table.constraints
            if constraint.__class__.__name__ == "UniqueConstraint"
        ]
        assert "client_id" in leading, table.name
        assert not table.c.client_id.nullable, table.name
