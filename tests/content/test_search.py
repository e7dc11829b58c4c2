"""GET /content/search: ranked prefix full text over the published library, per client."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, text, update

from stvos.content.search import PG_VECTOR_COLUMN
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Category, OnDemandClass, Trainer
from tests.support.factories import TestClient, make_client
from tests.support.statements import count_statements

NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Library:
    ids: dict[str, int]


async def add_classes(
    db: Database, client: TestClient, rows: Sequence[tuple[str, str | None, str, str, int]]
) -> dict[str, int]:
    """Classes given as (name, description, trainer name, category name, days ago; negative
    days are in the future). Trainers and categories are created once per name."""
    async with db.transaction(TenantScope.for_client(client.id)) as s:
        trainers: dict[str, Trainer] = {}
        categories: dict[str, Category] = {}
        for _, _, trainer_name, category_name, _ in rows:
            if trainer_name not in trainers:
                trainers[trainer_name] = Trainer(name=trainer_name)
            if category_name not in categories:
                slug = category_name.lower().replace(" ", "-")
                categories[category_name] = Category(name=category_name, slug=slug)
        s.add_all([*trainers.values(), *categories.values()])
        await s.flush()
        made = []
        for name, description, trainer_name, category_name, days_ago in rows:
            item = OnDemandClass(
                name=name,
                description=description,
                video_url="https://cdn.example/v.m3u8",
                duration_minutes=30,
                trainer_id=trainers[trainer_name].id,
                category_id=categories[category_name].id,
                status="published",
                published_at=NOW - timedelta(days=days_ago),
                search_people=f"{trainer_name} {category_name}",
            )
            made.append(item)
        s.add_all(made)
        await s.flush()
        return {item.name: item.id for item in made}


@pytest.fixture
async def library(db: Database, client_a: TestClient) -> Library:
    ids = await add_classes(
        db,
        client_a,
        [
            ("Morning Yoga Flow", "Wake up slowly", "Anna Berg", "Yoga", 5),
            ("Yoga for Runners", "Open the hips", "Marco Rossi", "Yoga", 4),
            ("HIIT Cardio Blast", "Short intervals", "Marco Rossi", "Strength", 3),
            ("HIIT Core", "Abs and planks", "Anna Berg", "Strength", 2),
            (
                "Evening Stretch",
                "Gentle moves after a day of yoga practice",
                "Anna Berg",
                "Rest",
                1,
            ),
            ("Yoga Tomorrow", None, "Anna Berg", "Yoga", -1),
        ],
    )
    async with db.transaction(TenantScope.for_client(client_a.id)) as s:
        draft = OnDemandClass(
            name="Yoga Draft",
            video_url="https://cdn.example/v.m3u8",
            duration_minutes=20,
            status="draft",
            published_at=NOW - timedelta(days=1),
            search_people="",
        )
        s.add(draft)
        await s.flush()
        ids["Yoga Draft"] = draft.id
    return Library(ids)


async def search(
    http: httpx.AsyncClient, client: TestClient, q: str, **params: Any
) -> dict[str, Any]:
    response = await http.get("/content/search", params={"q": q, **params}, headers=client.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    data: dict[str, Any] = body["data"]
    return data


def names(data: dict[str, Any]) -> list[str]:
    return [item["name"] for item in data["items"]]


async def test_a_prefix_finds_the_class_with_its_summary_and_score(
    http: httpx.AsyncClient, client_a: TestClient, library: Library
) -> None:
    data = await search(http, client_a, "yog")
    assert set(names(data)) == {"Morning Yoga Flow", "Yoga for Runners", "Evening Stretch"}
    assert data["pagination"] == {"page": 1, "limit": 20, "total": 3, "totalPages": 1}
    item = next(i for i in data["items"] if i["name"] == "Morning Yoga Flow")
    assert item["id"] == library.ids["Morning Yoga Flow"]
    assert item["description"] == "Wake up slowly"
    assert item["duration"] == 30
    assert item["intensity"] == "medium"
    assert item["isPremium"] is False
    assert item["equipment"] == []
    assert item["tags"] == []
    assert item["thumbnailUrl"] is None
    assert item["trainer"]["name"] == "Anna Berg"
    assert set(item["trainer"]) == {"id", "name", "image"}
    assert item["category"]["name"] == "Yoga"
    assert set(item["category"]) == {"id", "name"}
    assert item["publishedAt"]
    assert "videoUrl" not in item
    assert isinstance(item["score"], float)
    assert item["score"] > 0
    # Any case, and accents folded on SQLite; the full word matches too.
    assert set(names(await search(http, client_a, "YOGA"))) == set(names(data))


async def test_name_hits_rank_above_description_hits(
    http: httpx.AsyncClient, client_a: TestClient, library: Library
) -> None:
    data = await search(http, client_a, "yoga")
    found = names(data)
    assert found[-1] == "Evening Stretch"  # only its description says yoga
    scores = [item["score"] for item in data["items"]]
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] < scores[-2]


async def test_trainer_names_rank_above_descriptions(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    await add_classes(
        db,
        client_a,
        [
            ("Power Hour", "Built with Nadia's favourite drills", "Sam Lee", "Strength", 1),
            ("Desk Reset", "Posture work", "Nadia Khan", "Mobility", 3),
        ],
    )
    assert names(await search(http, client_a, "nadia")) == ["Desk Reset", "Power Hour"]


async def test_every_term_must_match_as_a_prefix(
    http: httpx.AsyncClient, client_a: TestClient, library: Library
) -> None:
    assert set(names(await search(http, client_a, "hiit"))) == {"HIIT Cardio Blast", "HIIT Core"}
    assert names(await search(http, client_a, "hiit card")) == ["HIIT Cardio Blast"]
    assert names(await search(http, client_a, "card hiit")) == ["HIIT Cardio Blast"]
    assert names(await search(http, client_a, "hiit yoga")) == []


async def test_trainer_and_category_names_match(
    http: httpx.AsyncClient, client_a: TestClient, library: Library
) -> None:
    assert set(names(await search(http, client_a, "marco"))) == {
        "Yoga for Runners",
        "HIIT Cardio Blast",
    }
    assert set(names(await search(http, client_a, "strength"))) == {
        "HIIT Cardio Blast",
        "HIIT Core",
    }
    assert names(await search(http, client_a, "anna core")) == ["HIIT Core"]


async def test_drafts_and_future_classes_are_not_found(
    http: httpx.AsyncClient, client_a: TestClient, library: Library
) -> None:
    found = names(await search(http, client_a, "yoga"))
    assert "Yoga Draft" not in found
    assert "Yoga Tomorrow" not in found
    assert (await search(http, client_a, "tomorrow"))["pagination"]["total"] == 0
    assert (await search(http, client_a, "draft"))["pagination"]["total"] == 0


async def test_ties_are_newest_first(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    await add_classes(
        db,
        client_a,
        [
            ("Zumba", None, "Tia", "Dance", 9),
            ("Zumba", None, "Tia", "Dance", 1),
            ("Zumba", None, "Tia", "Dance", 5),
        ],
    )
    data = await search(http, client_a, "zumba")
    published = [item["publishedAt"] for item in data["items"]]
    assert len(published) == 3
    assert published == sorted(published, reverse=True)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('"', set()),
        ("*", set()),
        ("NEAR(", set()),
        (":", set()),
        ("&|!", set()),
        ("'", set()),
        ("''", set()),
        ("\\", set()),
        ("%_", set()),
        ("yoga:*", {"Morning Yoga Flow", "Yoga for Runners", "Evening Stretch"}),
        ('"yoga', {"Morning Yoga Flow", "Yoga for Runners", "Evening Stretch"}),
        ("'runners'", {"Yoga for Runners"}),
        ("-runners", {"Yoga for Runners"}),
        ("runners*", {"Yoga for Runners"}),
        ("NEAR(yoga runners)", set()),  # "near" is a word like any other
        ("runners OR core", set()),  # ...and so is "or": every word must match
        ("hiit & !core", {"HIIT Core"}),  # operators are dropped, the words stay
        ("hiit | cardio", {"HIIT Cardio Blast"}),
        ("name:hiit", set()),  # no column filters: "name" is just another word
        ("hiit) (card", {"HIIT Cardio Blast"}),
        ("yoga'; DROP TABLE on_demand_classes; --", set()),
    ],
)
async def test_query_syntax_is_never_passed_through(
    http: httpx.AsyncClient, client_a: TestClient, library: Library, q: str, expected: set[str]
) -> None:
    assert set(names(await search(http, client_a, q))) == expected
    # ...and the library is still there.
    assert (await search(http, client_a, "hiit"))["pagination"]["total"] == 2


@pytest.mark.parametrize("q", ["", "   ", "a" * 101, " " + "b" * 101 + " "])
async def test_empty_or_too_long_queries_are_refused(
    http: httpx.AsyncClient, client_a: TestClient, q: str
) -> None:
    response = await http.get("/content/search", params={"q": q}, headers=client_a.headers)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["details"][0]["field"] == "q"


async def test_q_is_required_and_100_characters_after_trimming_are_fine(
    http: httpx.AsyncClient, client_a: TestClient
) -> None:
    response = await http.get("/content/search", headers=client_a.headers)
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    data = await search(http, client_a, "  " + "c" * 100 + "  ")
    assert data["items"] == []
    assert data["pagination"]["total"] == 0


async def test_pages_and_totals(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    await add_classes(
        db, client_a, [(f"Pilates {n}", None, "Pia", "Pilates", n + 1) for n in range(25)]
    )
    first = await search(http, client_a, "pilates", limit=10)
    assert first["pagination"] == {"page": 1, "limit": 10, "total": 25, "totalPages": 3}
    assert names(first)[:2] == ["Pilates 0", "Pilates 1"]  # equal rank: newest first
    last = await search(http, client_a, "pilates", limit=10, page=3)
    assert len(last["items"]) == 5
    assert last["pagination"]["total"] == 25
    seen = names(first) + names(await search(http, client_a, "pil", limit=10, page=2))
    assert len(set(seen + names(last))) == 25
    beyond = await search(http, client_a, "pilates", limit=10, page=4)
    assert beyond["items"] == []
    assert beyond["pagination"]["total"] == 25
    capped = await search(http, client_a, "pilates", limit=500)
    assert capped["pagination"]["limit"] == 100
    assert len(capped["items"]) == 25


async def test_changes_are_searchable_at_once(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, library: Library
) -> None:
    async with db.transaction(TenantScope.for_client(client_a.id)) as s:
        await s.execute(
            update(OnDemandClass)
            .where(OnDemandClass.id == library.ids["HIIT Core"])
            .values(name="Kettlebell Core", search_people="Anna Lindqvist Strength")
        )
        # A hot update of an unsearched column leaves the index alone and correct.
        await s.execute(update(OnDemandClass).values(play_count=OnDemandClass.play_count + 1))
    assert names(await search(http, client_a, "kettle")) == ["Kettlebell Core"]
    assert names(await search(http, client_a, "lindq")) == ["Kettlebell Core"]
    assert names(await search(http, client_a, "hiit")) == ["HIIT Cardio Blast"]

    async with db.transaction(TenantScope.for_client(client_a.id)) as s:
        item = await s.get(OnDemandClass, library.ids["Yoga Draft"])
        assert item is not None
        item.status = "published"
    assert "Yoga Draft" in names(await search(http, client_a, "draft"))


async def test_deleted_classes_disappear(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, library: Library
) -> None:
    async with db.transaction(TenantScope.for_client(client_a.id)) as s:
        await s.execute(
            delete(OnDemandClass).where(OnDemandClass.id == library.ids["Yoga for Runners"])
        )
    assert (await search(http, client_a, "runners"))["pagination"]["total"] == 0
    assert set(names(await search(http, client_a, "yoga"))) == {
        "Morning Yoga Flow",
        "Evening Stretch",
    }


async def test_clients_never_find_each_others_classes(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    library: Library,
) -> None:
    b_ids = await add_classes(db, client_b, [("Yoga Basics", None, "Bea", "Yoga", 1)])
    b_yoga = await search(http, client_b, "yoga")
    assert [i["id"] for i in b_yoga["items"]] == [b_ids["Yoga Basics"]]
    assert b_yoga["pagination"]["total"] == 1
    for q in ("morning", "hiit", "marco", "anna", "strength"):
        data = await search(http, client_b, q)
        assert data["items"] == [], q
        assert data["pagination"]["total"] == 0, q
    a_yoga = await search(http, client_a, "yoga basics")
    assert a_yoga["pagination"]["total"] == 0
    assert "Yoga Basics" not in names(await search(http, client_a, "yoga"))


async def test_the_feature_must_be_enabled(http: httpx.AsyncClient, db: Database) -> None:
    no_classes = await make_client(db, "Nutrition Only", enabled_features=["nutrition"])
    response = await http.get("/content/search", params={"q": "yoga"}, headers=no_classes.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "FEATURE_DISABLED"
    missing_key = await http.get("/content/search", params={"q": "yoga"})
    assert missing_key.status_code == 401


async def test_statements_do_not_grow_with_the_page(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    await add_classes(
        db,
        client_a,
        [(f"Boxing {n}", None, f"Coach {n}", f"Cat {n}", n + 1) for n in range(12)]
        + [("Barre Solo", None, "Solo Coach", "Solo Cat", 1)],
    )
    await search(http, client_a, "warm up the key cache")
    with count_statements(db) as one:
        assert len((await search(http, client_a, "barre"))["items"]) == 1
    with count_statements(db) as twelve:
        assert len((await search(http, client_a, "boxing"))["items"]) == 12
    assert len(one) == len(twelve)


async def test_the_search_uses_the_index(db: Database, is_postgres: bool) -> None:
    if not is_postgres:
        async with db.engine.connect() as conn:
            plan = await conn.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT c.id FROM on_demand_classes c "
                    "JOIN on_demand_classes_fts f ON f.rowid = c.id "
                    "WHERE on_demand_classes_fts MATCH '\"yog\"*'"
                )
            )
            assert "VIRTUAL TABLE INDEX" in "\n".join(str(r[-1]) for r in plan)
        return
    match = f"{PG_VECTOR_COLUMN} @@ to_tsquery('simple'::regconfig, 'yog:*')"
    async with db.engine.connect() as conn:
        # Unbound by row security (the login role of the tests), the GIN index serves the match.
        await conn.execute(text("SET LOCAL ROLE NONE"))
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = await conn.execute(text(f"EXPLAIN SELECT id FROM on_demand_classes WHERE {match}"))
        assert "ix_on_demand_classes_search_vector" in "\n".join(r[0] for r in plan)
    async with db.engine.connect() as conn:
        # The app role: "@@" is not leakproof, so row security keeps it off the GIN index; the
        # client's published rows come from the client_id-led btree, then the stored vector
        # is matched (no re-parsing of text).
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = await conn.execute(
            text(
                "EXPLAIN SELECT id FROM on_demand_classes WHERE client_id = 1 "
                f"AND status = 'published' AND {match}"
            )
        )
        lines = "\n".join(r[0] for r in plan)
        assert "Seq Scan" not in lines
        assert "ix_on_demand_classes_client_id_" in lines
