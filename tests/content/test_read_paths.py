"""The library's read paths at scale: what the category-filtered list answers (every category
of that name, totals, pages past the end), and the plans that keep discover, the class list and
search bounded by the page rather than the library (migration 0014's indexes).

Plans are checked on the statements' shapes: on PostgreSQL with sorting and sequential scans
priced out (so the plan shows whether an index *can* give the rows in the answer's order; which
index wins otherwise depends on statistics an empty table does not have), and as SQLite plans
them (it keeps no statistics, so its plan on a small table is its plan at 100,000 classes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from tests.content import a_class, add_category, save
from tests.support.factories import TestClient
from tests.support.statements import count_statements


@pytest.fixture
async def two_yogas(db: Database, client_a: TestClient, clock: FrozenClock) -> dict[str, int]:
    """Two categories named Yoga (in different cases) and an inactive one, with classes."""
    now = clock.now()
    upper = await add_category(db, client_a, "Yoga", slug="yoga")
    lower = await add_category(db, client_a, "yoga", slug="yoga-2")
    resting = await add_category(db, client_a, "Resting", is_active=False)
    specs = [
        ("Up 1", upper, 1, "low"),
        ("Low 1", lower, 2, "low"),
        ("Up 2", upper, 3, "high"),
        ("Low 2", lower, 4, "low"),
        ("Up 3", upper, 5, "low"),
        ("Rest 1", resting, 6, "low"),
    ]
    classes = [
        a_class(name, now - timedelta(hours=hours), category_id=category, intensity=intensity)
        for name, category, hours, intensity in specs
    ]
    classes.append(a_class("Up draft", None, category_id=upper, status="draft"))
    classes.append(a_class("Up later", now + timedelta(hours=1), category_id=upper))
    await save(db, client_a, *classes)
    return {"upper": upper, "lower": lower, "resting": resting}


async def _page(http: httpx.AsyncClient, client: TestClient, query: str) -> dict[str, Any]:
    response = await http.get(f"/content/classes?{query}", headers=client.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _names(data: dict[str, Any]) -> list[str]:
    return [item["name"] for item in data["items"]]


async def test_a_category_name_selects_every_category_of_that_name(
    http: httpx.AsyncClient, client_a: TestClient, two_yogas: dict[str, int]
) -> None:
    data = await _page(http, client_a, "category=YOGA")
    assert _names(data) == ["Up 1", "Low 1", "Up 2", "Low 2", "Up 3"]
    assert data["pagination"]["total"] == 5
    low = await _page(http, client_a, "category=yoga&intensity=low&sort=name")
    assert _names(low) == ["Low 1", "Low 2", "Up 1", "Up 3"]
    assert (await _page(http, client_a, "category=resting"))["pagination"]["total"] == 1
    nothing = await _page(http, client_a, "category=yoga&intensity=medium")
    assert (nothing["items"], nothing["pagination"]["total"]) == ([], 0)


async def test_category_pages_and_totals(
    http: httpx.AsyncClient, client_a: TestClient, two_yogas: dict[str, int]
) -> None:
    second = await _page(http, client_a, "category=yoga&limit=2&page=2")
    assert _names(second) == ["Up 2", "Low 2"]
    assert second["pagination"] == {"page": 2, "limit": 2, "total": 5, "totalPages": 3}
    beyond = await _page(http, client_a, "category=yoga&limit=2&page=4")
    assert beyond["items"] == []
    assert beyond["pagination"] == {"page": 4, "limit": 2, "total": 5, "totalPages": 3}


async def test_category_counts_follow_publishing(
    http: httpx.AsyncClient,
    client_a: TestClient,
    two_yogas: dict[str, int],
    clock: FrozenClock,
) -> None:
    """A scheduled class counts once its time has come (kept counts less the scheduled ones)."""

    async def counts() -> dict[int, int]:
        response = await http.get("/content/categories", headers=client_a.headers)
        assert response.status_code == 200, response.text
        return {c["id"]: c["classCount"] for c in response.json()["data"]["items"]}

    assert await counts() == {two_yogas["upper"]: 3, two_yogas["lower"]: 2}
    clock.advance(2 * 3600)
    assert await counts() == {two_yogas["upper"]: 4, two_yogas["lower"]: 2}


# --- plans ------------------------------------------------------------------------------------

NEWEST = "ORDER BY published_at DESC, id DESC LIMIT 20"
NEWEST_INDEX = "ix_on_demand_classes_client_id_status_published_at_id"
CATEGORY_INDEX = "ix_on_demand_classes_client_id_category_id_status_published_at"
FEATURED_INDEX = "ix_on_demand_classes_client_id_is_featured_status_published_at"
PUBLISHED = "status = 'published' AND published_at IS NOT NULL AND published_at <= '2030-01-01'"


async def _plan(db: Database, sql: str, is_postgres: bool, params: Any = ()) -> str:
    """The plan of ``sql``; on PostgreSQL with sequential scans and sorts priced out, so what
    is left shows what the indexes allow, whatever the (tiny) table's statistics."""
    async with db.engine.connect() as conn:
        if is_postgres:
            for setting in ("enable_seqscan", "enable_sort", "enable_incremental_sort"):
                await conn.execute(text(f"SET LOCAL {setting} = off"))
            rows = await conn.execute(text(f"EXPLAIN {sql}"))
            return "\n".join(str(r[0]) for r in rows)
        rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(r[-1]) for r in rows)


async def test_newest_first_is_read_from_an_index_in_order(db: Database, is_postgres: bool) -> None:
    """The class list (and discover's new this week) newest first, with or without a category
    and intensity: no sort of the matches, so a page costs a page whatever their number."""
    plain = await _plan(
        db, f"SELECT id FROM on_demand_classes WHERE client_id = 1 AND {PUBLISHED} {NEWEST}",
        is_postgres,
    )  # fmt: skip
    in_category = await _plan(
        db,
        "SELECT id FROM on_demand_classes WHERE client_id = 1 AND category_id = 2 "
        f"AND intensity = 'low' AND {PUBLISHED} {NEWEST}",
        is_postgres,
    )
    for plan, index in (
        (plain, NEWEST_INDEX),
        (in_category, CATEGORY_INDEX),
    ):
        assert index in plan, plan
        assert "Sort" not in plan, plan
        assert "TEMP B-TREE" not in plan, plan


async def _index_columns(db: Database, name: str) -> list[str]:
    async with db.engine.connect() as conn:
        indexes = await conn.run_sync(lambda c: inspect(c).get_indexes("on_demand_classes"))
    return next(list(i["column_names"]) for i in indexes if i["name"] == name)


async def test_category_counts_read_only_the_index(db: Database, is_postgres: bool) -> None:
    """A category's count is one range of an index that holds every column it tests (on
    PostgreSQL an index-only scan at scale; an empty table's plan proves nothing there)."""
    columns = await _index_columns(db, CATEGORY_INDEX)
    assert columns[:4] == ["client_id", "category_id", "status", "published_at"]
    assert "intensity" in columns
    if not is_postgres:
        plan = await _plan(
            db,
            "SELECT count(*) FROM on_demand_classes WHERE client_id = 1 AND category_id = 2 "
            f"AND {PUBLISHED} AND intensity = 'low'",
            is_postgres,
        )
        assert f"COVERING INDEX {CATEGORY_INDEX}" in plan, plan


async def test_featured_classes_are_one_index_range(db: Database, is_postgres: bool) -> None:
    columns = await _index_columns(db, FEATURED_INDEX)
    assert columns[:4] == ["client_id", "is_featured", "status", "published_at"]
    if not is_postgres:  # SQLite picks it (not the published_at range of every class)
        plan = await _plan(
            db,
            f"SELECT id FROM on_demand_classes WHERE client_id = 1 AND is_featured IS 1 "
            f"AND {PUBLISHED} ORDER BY featured_order, published_at DESC, id DESC LIMIT 10",
            is_postgres,
        )
        assert FEATURED_INDEX in plan, plan


async def test_sqlite_search_starts_from_the_full_text_index(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    two_yogas: dict[str, int],
    is_postgres: bool,
) -> None:
    """SQLite, with no statistics, would otherwise read every published class of the client
    and look each one up in the FTS index (seconds at 100,000 classes). (PostgreSQL's plan:
    test_search.test_the_search_uses_the_index.)"""
    with count_statements(db, with_parameters=True) as seen:
        response = await http.get("/content/search?q=up", headers=client_a.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [i["name"] for i in data["items"]] == ["Up 1", "Up 2", "Up 3"]
    assert data["pagination"]["total"] == 3
    if is_postgres:
        return
    (statement, params) = next((s, p) for s, p in seen if "MATCH" in s)
    plan = await _plan(db, statement, False, params)
    lines = plan.splitlines()
    fts = next(i for i, line in enumerate(lines) if "SCAN on_demand_classes_fts" in line)
    assert "INDEX 0:M" in lines[fts], plan  # the MATCH alone, not a lookup by rowid
    assert "SEARCH on_demand_classes USING INTEGER PRIMARY KEY" in lines[fts + 1], plan
