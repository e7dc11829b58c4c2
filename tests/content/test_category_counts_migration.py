"""Migration 0017 counts the classes that exist when it runs, and goes down leaving the classes
writable (no trigger left behind); up again, it counts afresh."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from stvos import migrations
from stvos.config import Settings
from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from tests.content import a_class, add_category, add_class, save
from tests.content.test_category_counts import kept, recount
from tests.support.factories import make_client

BEFORE = "0016"


async def _has_counts_table(settings: Settings) -> bool:
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    finally:
        await engine.dispose()
    return "category_class_counts" in names


async def test_the_migration_counts_existing_classes_and_goes_down_cleanly(
    empty_settings: Settings, clock: FrozenClock
) -> None:
    now = clock.now()
    await asyncio.to_thread(migrations.upgrade, empty_settings, BEFORE)
    db = Database(empty_settings)
    try:
        alpha = await make_client(db, "Alpha Studio")
        beta = await make_client(db, "Beta Gym")
        yoga_a = await add_category(db, alpha, "Yoga")
        hiit_a = await add_category(db, alpha, "HIIT")
        yoga_b = await add_category(db, beta, "Yoga")
        await save(
            db,
            alpha,
            *(
                a_class(f"A {i}", now - timedelta(hours=i + 1), category_id=yoga_a)
                for i in range(3)
            ),
            a_class("A later", now + timedelta(days=1), category_id=yoga_a),  # scheduled: kept
            a_class("A draft", None, category_id=hiit_a, status="draft"),
            a_class("A loose", now - timedelta(hours=1)),
        )
        await save(
            db,
            beta,
            *(
                a_class(f"B {i}", now - timedelta(hours=i + 1), category_id=yoga_b)
                for i in range(2)
            ),
        )
    finally:
        await db.dispose()

    await asyncio.to_thread(migrations.upgrade, empty_settings)
    db = Database(empty_settings)
    try:
        assert await kept(db) == {(alpha.id, yoga_a): 4, (beta.id, yoga_b): 2}
        await add_class(db, alpha, "A new", now - timedelta(minutes=1), category_id=hiit_a)
        assert await kept(db) == await recount(db)
    finally:
        await db.dispose()

    await asyncio.to_thread(migrations.downgrade, empty_settings, BEFORE)
    assert not await _has_counts_table(empty_settings)
    db = Database(empty_settings)
    try:  # no trigger left writing to a table that is gone
        await add_class(db, alpha, "A newer", now - timedelta(minutes=1), category_id=hiit_a)
    finally:
        await db.dispose()

    await asyncio.to_thread(migrations.upgrade, empty_settings)
    db = Database(empty_settings)
    try:
        assert await kept(db) == {
            (alpha.id, yoga_a): 4,
            (alpha.id, hiit_a): 2,
            (beta.id, yoga_b): 2,
        }
    finally:
        await db.dispose()
