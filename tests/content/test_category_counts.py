"""The categories' class counts (discover, ``/content/categories``) are kept by the database
(``category_class_counts``, migration 0017) and stay exact through every way a class changes:
the services, Core statements that bypass the ORM, bulk inserts, deletes and cascades. After
each change the kept counts equal a full recount, and the counts the API answers are the kept
ones less the classes scheduled after ``now`` (the frozen clock)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from stvos.kit.clock import FrozenClock, utcnow
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.manage import content_service
from stvos.manage.content_schemas import ClassPatch
from stvos.models import CategoryClassCount, Client, OnDemandClass
from tests.content import a_class, add_category, add_class, save
from tests.support.factories import TestClient, make_user
from tests.support.statements import count_statements

COUNTER_SEQUENCE = "category_class_counts_id_seq"  # PostgreSQL: one value per upsert tried


async def visible(http: httpx.AsyncClient, client: TestClient) -> dict[int, int]:
    """Each active category's class count, as the app answers it."""
    response = await http.get("/content/categories?limit=100", headers=client.headers)
    assert response.status_code == 200, response.text
    return {c["id"]: c["classCount"] for c in response.json()["data"]["items"]}


async def kept(db: Database) -> dict[tuple[int, int], int]:
    """The kept counts of every client, rows at zero left out (none may be negative)."""
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        rows = await session.execute(
            select(
                CategoryClassCount.client_id,
                CategoryClassCount.category_id,
                CategoryClassCount.published_count,
            )
        )
        counts = {(client, category): n for client, category, n in rows}
    assert all(n >= 0 for n in counts.values()), counts
    return {key: n for key, n in counts.items() if n}


async def recount(db: Database) -> dict[tuple[int, int], int]:
    """What the kept counts must be: every client's published classes, counted now."""
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        rows = await session.execute(
            select(OnDemandClass.client_id, OnDemandClass.category_id, func.count())
            .where(
                OnDemandClass.status == "published",
                OnDemandClass.published_at.is_not(None),
                OnDemandClass.category_id.is_not(None),
            )
            .group_by(OnDemandClass.client_id, OnDemandClass.category_id)
        )
        return {(client, category): n for client, category, n in rows}


async def assert_exact(db: Database) -> None:
    assert await kept(db) == await recount(db)


async def run(db: Database, client: TestClient, statement: Any) -> None:
    """A Core statement in the client's scope (the ORM's identity map never sees it)."""
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        await session.execute(statement.execution_options(synchronize_session=False))


def _row(client_id: int, category_id: int | None, i: int, **fields: Any) -> dict[str, Any]:
    """A class row for a Core insert, as the benchmark's seed writes them (published unless
    ``fields`` say otherwise)."""
    now = utcnow()
    row: dict[str, Any] = {
        "client_id": client_id,
        "name": f"Bulk {i}",
        "description": None,
        "thumbnail_url": None,
        "video_url": f"https://cdn.example.com/v/{i}.m3u8",
        "video_provider": "hls",
        "duration_minutes": 30,
        "intensity": "medium",
        "is_premium": False,
        "equipment": [],
        "tags": [],
        "trainer_id": None,
        "category_id": category_id,
        "status": "published",
        "published_at": now,
        "is_featured": False,
        "featured_order": 0,
        "play_count": 0,
        "search_people": "",
        "created_at": now,
        "updated_at": now,
    }
    row.update(fields)
    return row


async def test_counts_follow_every_change_of_a_class(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    now = clock.now()
    yoga = await add_category(db, client_a, "Yoga")
    hiit = await add_category(db, client_a, "HIIT")
    assert await visible(http, client_a) == {yoga: 0, hiit: 0}

    # Insert: published, draft, without a category.
    first = await add_class(db, client_a, "Flow", now - timedelta(hours=1), category_id=yoga)
    draft = await add_class(db, client_a, "Later", None, category_id=yoga, status="draft")
    await add_class(db, client_a, "Loose", now - timedelta(hours=1))
    assert await visible(http, client_a) == {yoga: 1, hiit: 0}
    await assert_exact(db)

    # Publish (the back office's conditional Core update), then unpublish.
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await content_service.publish_class(session, draft, None)
    assert await visible(http, client_a) == {yoga: 2, hiit: 0}
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await content_service.unpublish_class(session, draft)
    assert await visible(http, client_a) == {yoga: 1, hiit: 0}
    await assert_exact(db)

    # Scheduled for later: kept as published, not visible until its time.
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await content_service.update_class(
            session, draft, ClassPatch.model_validate({"categoryId": hiit})
        )
        await content_service.publish_class(session, draft, now + timedelta(hours=1))
    assert await visible(http, client_a) == {yoga: 1, hiit: 0}
    assert await kept(db) == {(client_a.id, yoga): 1, (client_a.id, hiit): 1}
    clock.advance(timedelta(hours=2))
    assert await visible(http, client_a) == {yoga: 1, hiit: 1}

    # Category change (the service, then a Core update), and a change that moves nothing:
    # a new publication instant, a play, a rename.
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await content_service.update_class(
            session, first, ClassPatch.model_validate({"categoryId": hiit})
        )
    assert await visible(http, client_a) == {yoga: 0, hiit: 2}
    await run(
        db,
        client_a,
        update(OnDemandClass).where(OnDemandClass.id == draft).values(category_id=yoga),
    )
    assert await visible(http, client_a) == {yoga: 1, hiit: 1}
    await run(
        db,
        client_a,
        update(OnDemandClass)
        .where(OnDemandClass.id == first)
        .values(
            published_at=now - timedelta(days=3),
            play_count=OnDemandClass.play_count + 1,
            name="Flow again",
        ),
    )
    assert await visible(http, client_a) == {yoga: 1, hiit: 1}
    await assert_exact(db)

    # Out of its category (no category: counted nowhere), and back.
    await run(
        db,
        client_a,
        update(OnDemandClass).where(OnDemandClass.id == first).values(category_id=None),
    )
    assert await visible(http, client_a) == {yoga: 1, hiit: 0}
    await run(
        db,
        client_a,
        update(OnDemandClass).where(OnDemandClass.id == first).values(category_id=hiit),
    )
    assert await visible(http, client_a) == {yoga: 1, hiit: 1}

    # Delete (the service), then a Core delete.
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await content_service.delete_class(session, first)
    assert await visible(http, client_a) == {yoga: 1, hiit: 0}
    await run(db, client_a, delete(OnDemandClass).where(OnDemandClass.id == draft))
    assert await visible(http, client_a) == {yoga: 0, hiit: 0}
    await assert_exact(db)

    # A category without classes may be deleted: its counts row goes with it.
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await content_service.delete_category(session, yoga)
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        left = set(await session.scalars(select(CategoryClassCount.category_id)))
    assert yoga not in left


async def test_a_class_moved_to_another_client_moves_its_count(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    clock: FrozenClock,
) -> None:
    now = clock.now()
    yoga_a = await add_category(db, client_a, "Yoga")
    yoga_b = await add_category(db, client_b, "Yoga")
    moved = await add_class(db, client_a, "Mover", now - timedelta(hours=1), category_id=yoga_a)
    await add_class(db, client_a, "Stayer", now - timedelta(hours=1), category_id=yoga_a)
    assert await visible(http, client_a) == {yoga_a: 2}
    assert await visible(http, client_b) == {yoga_b: 0}

    async with db.transaction(TenantScope.for_platform()) as session:
        await session.execute(
            update(OnDemandClass)
            .where(OnDemandClass.id == moved)
            .values(client_id=client_b.id, category_id=yoga_b)
        )
    assert await visible(http, client_a) == {yoga_a: 1}
    assert await visible(http, client_b) == {yoga_b: 1}
    await assert_exact(db)


async def test_bulk_writes_through_core_keep_the_counts_exact(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    clock: FrozenClock,
    is_postgres: bool,
) -> None:
    """Rows written as the benchmark's seed writes them (Core, no ORM): an executemany and one
    multi-row INSERT, in the client's scope (on PostgreSQL: the app role under row-level
    security, which the trigger's writes pass); a Core delete of many rows at once."""
    now = clock.now()
    categories = [await add_category(db, client_a, f"C{i}") for i in range(3)]

    def rows(start: int, count: int) -> list[dict[str, Any]]:
        made = []
        for i in range(start, start + count):
            fields: dict[str, Any] = {"published_at": now - timedelta(minutes=i + 1)}
            if i % 4 == 0:
                fields = {"status": "draft", "published_at": None}
            elif i % 10 == 1:
                fields["published_at"] = now + timedelta(days=1)  # scheduled
            made.append(_row(client_a.id, categories[i % 3], i, **fields))
        return made

    table = OnDemandClass.__table__
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        conn = await session.connection()
        await conn.execute(insert(table), rows(0, 600))  # executemany
    await assert_exact(db)

    sequence_before = await _sequence_value(db) if is_postgres else 0
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await session.execute(insert(table).values(rows(600, 300)))  # one statement
    await assert_exact(db)
    if is_postgres:  # the statement-level trigger: one upsert per category, not per row
        assert await _sequence_value(db) - sequence_before == len(categories)

    everything = rows(0, 900)
    expected = {
        c: sum(
            1
            for r in everything
            if r["category_id"] == c and r["status"] == "published" and r["published_at"] <= now
        )
        for c in categories
    }
    assert await visible(http, client_a) == expected

    await run(db, client_a, delete(OnDemandClass).where(OnDemandClass.category_id == categories[0]))
    assert await visible(http, client_a) == {**expected, categories[0]: 0}
    await assert_exact(db)


async def _sequence_value(db: Database) -> int:
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        value = await session.scalar(text(f"SELECT last_value FROM {COUNTER_SEQUENCE}"))
    return int(value or 0)


async def test_a_deleted_client_takes_its_counts_and_leaves_the_others(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    clock: FrozenClock,
) -> None:
    """The cascade deletes the client's classes after (or before) its categories: decrements of
    a counts row already gone are no-ops, never a new row pointing at a deleted category."""
    now = clock.now()
    for client in (client_a, client_b):
        category = await add_category(db, client, "Yoga")
        await save(
            db,
            client,
            *(
                a_class(f"Class {i}", now - timedelta(hours=i + 1), category_id=category)
                for i in range(3)
            ),
        )
    assert len(await kept(db)) == 2
    async with db.transaction(TenantScope.for_platform()) as session:
        await session.execute(delete(Client).where(Client.id == client_a.id))
    assert set(await kept(db)) == {(client_b.id, c) for c in await visible(http, client_b)}
    assert list((await visible(http, client_b)).values()) == [3]
    await assert_exact(db)


async def test_a_client_never_sees_another_clients_counts(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    clock: FrozenClock,
    is_postgres: bool,
) -> None:
    now = clock.now()
    yoga_a = await add_category(db, client_a, "Yoga")
    yoga_b = await add_category(db, client_b, "Yoga")
    await save(
        db,
        client_a,
        *(a_class(f"A {i}", now - timedelta(hours=1), category_id=yoga_a) for i in range(4)),
    )
    await add_class(db, client_b, "B 1", now - timedelta(hours=1), category_id=yoga_b)
    assert await visible(http, client_a) == {yoga_a: 4}
    assert await visible(http, client_b) == {yoga_b: 1}

    # The ORM filter: B's scope reads B's counts only, even when it names A's category.
    async with db.transaction(TenantScope.for_client(client_b.id), write=False) as session:
        rows = (await session.execute(select(CategoryClassCount.client_id))).scalars().all()
        named = await session.scalar(
            select(CategoryClassCount).where(CategoryClassCount.category_id == yoga_a)
        )
    assert (rows, named) == ([client_b.id], None)

    if not is_postgres:
        return
    # Row-level security: raw SQL as the app role sees the declared client's rows, none
    # without a declaration, and cannot write a row for another client.
    async with db.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM category_class_counts")) == 0
        await conn.execute(
            text("SELECT set_config('stvos.client_id', :c, true)"), {"c": str(client_b.id)}
        )
        seen = (await conn.execute(text("SELECT client_id FROM category_class_counts"))).all()
        assert [c for (c,) in seen] == [client_b.id]
        hidden = await conn.execute(
            text("UPDATE category_class_counts SET published_count = 99 WHERE category_id = :a"),
            {"a": yoga_a},
        )
        assert hidden.rowcount == 0
        with pytest.raises(DBAPIError, match="row-level security"):
            await conn.execute(
                text(
                    "INSERT INTO category_class_counts (client_id, category_id, published_count) "
                    "VALUES (:c, :a, 99)"
                ),
                {"c": client_a.id, "a": yoga_a},
            )
        await conn.rollback()
    assert await visible(http, client_a) == {yoga_a: 4}


async def test_discover_reads_the_kept_counts_in_the_same_statements_at_any_size(
    http: httpx.AsyncClient, app: FastAPI, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    """The categories (with their counts) stay one statement of discover, and it reads the kept
    counts; adding 400 classes adds no statement (the whole budget: test_discover_budget)."""
    now = clock.now()
    member = await make_user(http, db, client_a, "member@example.com")
    categories = [await add_category(db, client_a, f"C{i}") for i in range(4)]

    async def discover() -> tuple[list[str], dict[int, int]]:
        with count_statements(app) as statements:
            response = await http.get("/content/discover", headers=member.headers)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        work = [s for s in statements if not s.startswith(("BEGIN", "COMMIT"))]
        return work, {c["id"]: c["classCount"] for c in data["categories"]}

    small, counts = await discover()
    assert counts == dict.fromkeys(categories, 0)
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await session.execute(
            insert(OnDemandClass.__table__).values(
                [
                    _row(
                        client_a.id,
                        categories[i % 4],
                        i,
                        published_at=now - timedelta(minutes=i + 1),
                    )
                    for i in range(400)
                ]
            )
        )
    large, counts = await discover()
    assert counts == dict.fromkeys(categories, 100)
    assert len(large) == len(small), large
    with_counts = [s for s in large if "category_class_counts" in s]
    assert len(with_counts) == 1, large
    assert "FROM categories" in with_counts[0]


async def test_the_counts_read_only_the_scheduled_classes(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, is_postgres: bool
) -> None:
    """The categories statement reads the kept counts by their key and, of the classes, only
    the range scheduled after ``now``, so its cost does not grow with the published library.
    The plan is checked as SQLite plans it (no statistics: its plan here is its plan at 100,000
    classes); an empty PostgreSQL table's plan proves nothing (at 100,000 classes it is an
    index-only scan of that range, see the issue's measurements)."""
    await add_category(db, client_a, "Yoga")
    with count_statements(db, with_parameters=True) as seen:
        await visible(http, client_a)
    sql, params = next((s, p) for s, p in seen if "category_class_counts" in s)
    assert "on_demand_classes.published_at >" in sql, sql
    if is_postgres:
        return
    async with db.engine.connect() as conn:
        rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = "\n".join(str(row[-1]) for row in rows)
    index = "ix_on_demand_classes_client_id_category_id_status_published_at"
    assert f"COVERING INDEX {index}" in plan, plan
    assert "published_at>?" in plan, plan
    assert "SEARCH category_class_counts USING INDEX" in plan, plan
