"""Browsing the library: the class list (filters, sorts, paging), a class with related classes,
categories with counts, discover, the feature gate, and a constant statement count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Category, Client, Trainer
from tests.content import a_class, add_category, add_class, add_trainer, save
from tests.support.factories import TestClient, make_user
from tests.support.statements import count_statements

SUMMARY_FIELDS = {
    "id",
    "name",
    "description",
    "thumbnailUrl",
    "duration",
    "intensity",
    "isPremium",
    "equipment",
    "tags",
    "trainer",
    "category",
    "publishedAt",
}


@dataclass(frozen=True)
class Library:
    tara: int
    omar: int
    yoga: int
    strength: int
    pilates: int
    cardio: int
    ids: dict[str, int]


@pytest.fixture
async def library(db: Database, client_a: TestClient, clock: FrozenClock) -> Library:
    """Six published classes, plus a draft and a scheduled one that nobody may see."""
    now = clock.now()
    day = timedelta(days=1)
    tara = await add_trainer(db, client_a, "Tara", image_url="https://img.example.com/tara.jpg")
    omar = await add_trainer(db, client_a, "Omar")
    yoga = await add_category(db, client_a, "Yoga", sort_order=1, image_url="https://i/yoga.png")
    strength = await add_category(db, client_a, "Strength", sort_order=0)
    pilates = await add_category(db, client_a, "Pilates", sort_order=1)
    cardio = await add_category(db, client_a, "Cardio", sort_order=0, is_active=False)
    specs: list[tuple[str, dict[str, Any]]] = [
        (
            "Morning Flow",
            dict(
                published_at=now - day,
                category_id=yoga,
                trainer_id=tara,
                duration_minutes=20,
                intensity="low",
                play_count=5,
                equipment=["mat"],
                tags=["morning", "stretch"],
            ),
        ),
        (
            "core crusher",
            dict(
                published_at=now - 2 * day,
                category_id=strength,
                trainer_id=tara,
                duration_minutes=15,
                intensity="high",
                play_count=50,
            ),
        ),
        (
            "Power Yoga",
            dict(
                published_at=now - 3 * day,
                category_id=yoga,
                trainer_id=omar,
                duration_minutes=45,
                intensity="high",
                play_count=50,
            ),
        ),
        (
            "Barbell Basics",
            dict(
                published_at=now - 10 * day,
                category_id=strength,
                trainer_id=omar,
                duration_minutes=30,
                play_count=20,
                is_premium=True,
                equipment=["barbell"],
            ),
        ),
        ("Lonely Walk", dict(published_at=now - 20 * day, duration_minutes=60, intensity="low")),
        (
            "Cardio Blast",
            dict(
                published_at=now - 30 * day, category_id=cardio, duration_minutes=25, play_count=1
            ),
        ),
        ("Draft Stretch", dict(published_at=None, status="draft", category_id=yoga)),
        ("Scheduled HIIT", dict(published_at=now + day, category_id=strength, trainer_id=tara)),
    ]
    ids = await save(db, client_a, *(a_class(name, **fields) for name, fields in specs))
    return Library(
        tara,
        omar,
        yoga,
        strength,
        pilates,
        cardio,
        dict(zip([n for n, _ in specs], ids, strict=True)),
    )


async def _names(http: httpx.AsyncClient, client: TestClient, query: str = "") -> list[str]:
    response = await http.get(f"/content/classes{query}", headers=client.headers)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["data"]["items"]]


NEWEST = [
    "Morning Flow",
    "core crusher",
    "Power Yoga",
    "Barbell Basics",
    "Lonely Walk",
    "Cardio Blast",
]
POPULAR = [
    "core crusher",
    "Power Yoga",
    "Barbell Basics",
    "Morning Flow",
    "Cardio Blast",
    "Lonely Walk",
]
BY_DURATION = [
    "core crusher",
    "Morning Flow",
    "Cardio Blast",
    "Barbell Basics",
    "Power Yoga",
    "Lonely Walk",
]
BY_NAME = [
    "Barbell Basics",
    "Cardio Blast",
    "core crusher",
    "Lonely Walk",
    "Morning Flow",
    "Power Yoga",
]


async def test_list_answers_published_classes_in_the_contract_shape(
    http: httpx.AsyncClient, client_a: TestClient, library: Library
) -> None:
    response = await http.get("/content/classes", headers=client_a.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [item["name"] for item in data["items"]] == NEWEST
    assert data["pagination"] == {"page": 1, "limit": 20, "total": 6, "totalPages": 1}
    first = data["items"][0]
    assert set(first) == SUMMARY_FIELDS
    assert first == {
        "id": library.ids["Morning Flow"],
        "name": "Morning Flow",
        "description": "Morning Flow, the class",
        "thumbnailUrl": "https://img.example.com/morning-flow.jpg",
        "duration": 20,
        "intensity": "low",
        "isPremium": False,
        "equipment": ["mat"],
        "tags": ["morning", "stretch"],
        "trainer": {
            "id": library.tara,
            "name": "Tara",
            "image": "https://img.example.com/tara.jpg",
        },
        "category": {"id": library.yoga, "name": "Yoga"},
        "publishedAt": "2025-12-31T00:00:00Z",
    }
    walk = data["items"][4]
    assert walk["trainer"] is None
    assert walk["category"] is None
    assert "cdn.example.com" not in response.text
    assert "video" not in response.text.lower()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?category=yoga", ["Morning Flow", "Power Yoga"]),
        ("?category=STRENGTH", ["core crusher", "Barbell Basics"]),
        ("?category=Nope", []),
        ("?intensity=high", ["core crusher", "Power Yoga"]),
        ("?intensity=low", ["Morning Flow", "Lonely Walk"]),
        ("?minDuration=20&maxDuration=30", ["Morning Flow", "Barbell Basics", "Cardio Blast"]),
        ("?minDuration=45", ["Power Yoga", "Lonely Walk"]),
        ("?maxDuration=15", ["core crusher"]),
        ("?isLive=true", []),
        ("?isLive=false", NEWEST),
        ("?category=yoga&intensity=low&maxDuration=20", ["Morning Flow"]),
        ("?sort=newest", NEWEST),
        ("?sort=popular", POPULAR),
        ("?sort=duration", BY_DURATION),
        ("?sort=name", BY_NAME),
        ("?sort=duration&intensity=high", ["core crusher", "Power Yoga"]),
    ],
)
async def test_filters_and_sorts(
    http: httpx.AsyncClient,
    client_a: TestClient,
    library: Library,
    query: str,
    expected: list[str],
) -> None:
    assert await _names(http, client_a, query) == expected


async def test_trainer_filter(
    http: httpx.AsyncClient, client_a: TestClient, library: Library
) -> None:
    assert await _names(http, client_a, f"?trainer={library.tara}") == [
        "Morning Flow",
        "core crusher",
    ]
    assert await _names(http, client_a, f"?trainer={library.omar}&sort=name") == [
        "Barbell Basics",
        "Power Yoga",
    ]
    assert await _names(http, client_a, "?trainer=999999") == []


async def test_paging(http: httpx.AsyncClient, client_a: TestClient, library: Library) -> None:
    response = await http.get("/content/classes?limit=4&page=2", headers=client_a.headers)
    data = response.json()["data"]
    assert [i["name"] for i in data["items"]] == NEWEST[4:]
    assert data["pagination"] == {"page": 2, "limit": 4, "total": 6, "totalPages": 2}
    response = await http.get(
        "/content/classes?limit=2&page=2&sort=name&intensity=low", headers=client_a.headers
    )
    data = response.json()["data"]
    assert data["items"] == []
    assert data["pagination"] == {"page": 2, "limit": 2, "total": 2, "totalPages": 1}
    response = await http.get("/content/classes?limit=1000", headers=client_a.headers)
    assert response.json()["data"]["pagination"]["limit"] == 100


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("intensity=extreme", "intensity"),
        ("sort=random", "sort"),
        ("minDuration=-1", "minDuration"),
        ("maxDuration=lots", "maxDuration"),
        ("minDuration=40&maxDuration=20", "minDuration"),
        ("isLive=maybe", "isLive"),
        ("trainer=0", "trainer"),
        ("category=", "category"),
        ("page=0", "page"),
    ],
)
async def test_invalid_filters_are_validation_errors(
    http: httpx.AsyncClient, client_a: TestClient, query: str, field: str
) -> None:
    response = await http.get(f"/content/classes?{query}", headers=client_a.headers)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in body["details"]]


async def test_routes_need_the_api_key(http: httpx.AsyncClient) -> None:
    for path in ("/content/classes", "/content/classes/1", "/content/categories"):
        response = await http.get(path)
        assert response.status_code == 401, path
        assert response.json()["code"] == "API_KEY_REQUIRED"


# --- one class --------------------------------------------------------------------------------


async def test_class_detail_shape_and_no_video_url(
    http: httpx.AsyncClient, client_a: TestClient, library: Library
) -> None:
    class_id = library.ids["Barbell Basics"]
    response = await http.get(f"/content/classes/{class_id}", headers=client_a.headers)
    assert response.status_code == 200, response.text
    item = response.json()["data"]["class"]
    assert set(item) == SUMMARY_FIELDS | {"relatedClasses"}
    assert item["id"] == class_id
    assert item["isPremium"] is True
    assert item["trainer"] == {"id": library.omar, "name": "Omar", "image": None}
    assert item["category"] == {"id": library.strength, "name": "Strength"}
    # Same category and trainer: none; same category: core crusher; same trainer: Power Yoga.
    # The scheduled class (same category) is not published, so not related.
    assert [r["name"] for r in item["relatedClasses"]] == ["core crusher", "Power Yoga"]
    assert set(item["relatedClasses"][0]) == SUMMARY_FIELDS
    assert "cdn.example.com" not in response.text
    assert "video" not in response.text.lower()


async def test_unpublished_and_unknown_classes_are_404(
    http: httpx.AsyncClient, client_a: TestClient, library: Library
) -> None:
    for class_id in (library.ids["Draft Stretch"], library.ids["Scheduled HIIT"], 999_999):
        response = await http.get(f"/content/classes/{class_id}", headers=client_a.headers)
        assert response.status_code == 404, class_id
        assert response.json()["code"] == "NOT_FOUND"
    response = await http.get("/content/classes/0", headers=client_a.headers)
    assert response.status_code == 400


async def test_related_classes_are_ranked_and_capped(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    now = clock.now()
    day = timedelta(days=1)
    t1 = await add_trainer(db, client_a, "T1")
    t2 = await add_trainer(db, client_a, "T2")
    yoga = await add_category(db, client_a, "Yoga")
    strength = await add_category(db, client_a, "Strength")
    specs: list[tuple[str, dict[str, Any]]] = [
        ("X", dict(published_at=now - 9 * day, category_id=yoga, trainer_id=t1)),
        ("A both older", dict(published_at=now - 5 * day, category_id=yoga, trainer_id=t1)),
        ("B both newer", dict(published_at=now - day, category_id=yoga, trainer_id=t1)),
        ("C category", dict(published_at=now - 2 * day, category_id=yoga, trainer_id=t2)),
        ("D category", dict(published_at=now - 4 * day, category_id=yoga)),
        ("E trainer", dict(published_at=now - day, category_id=strength, trainer_id=t1)),
        ("F trainer", dict(published_at=now - 3 * day, trainer_id=t1)),
        ("G trainer oldest", dict(published_at=now - 10 * day, trainer_id=t1)),
        ("H unrelated", dict(published_at=now - day, category_id=strength, trainer_id=t2)),
        ("I draft", dict(published_at=None, status="draft", category_id=yoga, trainer_id=t1)),
    ]
    ids = await save(db, client_a, *(a_class(name, **fields) for name, fields in specs))
    response = await http.get(f"/content/classes/{ids[0]}", headers=client_a.headers)
    related = response.json()["data"]["class"]["relatedClasses"]
    assert [r["name"] for r in related] == [
        "B both newer",
        "A both older",
        "C category",
        "D category",
        "E trainer",
        "F trainer",
    ]
    # Only a trainer to match on: the trainer's other classes, newest first.
    lonely = await add_class(db, client_a, "Lonely", now - day, trainer_id=t2)
    response = await http.get(f"/content/classes/{lonely}", headers=client_a.headers)
    related = response.json()["data"]["class"]["relatedClasses"]
    assert [r["name"] for r in related] == ["H unrelated", "C category"]
    # Neither category nor trainer: nothing is related.
    alone = await add_class(db, client_a, "Alone", now - day)
    response = await http.get(f"/content/classes/{alone}", headers=client_a.headers)
    assert response.json()["data"]["class"]["relatedClasses"] == []


# --- categories -------------------------------------------------------------------------------


async def test_categories_are_active_ordered_and_count_published_classes(
    http: httpx.AsyncClient, client_a: TestClient, library: Library
) -> None:
    response = await http.get("/content/categories", headers=client_a.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    # Cardio is inactive; Strength leads (sort order 0), then Pilates and Yoga by name.
    assert data["items"] == [
        {
            "id": library.strength,
            "name": "Strength",
            "slug": "strength",
            "description": None,
            "image": None,
            "classCount": 2,  # the scheduled class does not count yet
        },
        {
            "id": library.pilates,
            "name": "Pilates",
            "slug": "pilates",
            "description": None,
            "image": None,
            "classCount": 0,
        },
        {
            "id": library.yoga,
            "name": "Yoga",
            "slug": "yoga",
            "description": None,
            "image": "https://i/yoga.png",
            "classCount": 2,  # the draft does not count
        },
    ]
    assert data["pagination"] == {"page": 1, "limit": 20, "total": 3, "totalPages": 1}
    response = await http.get("/content/categories?limit=1&page=3", headers=client_a.headers)
    assert [c["name"] for c in response.json()["data"]["items"]] == ["Yoga"]


# --- discover ---------------------------------------------------------------------------------


async def test_discover_sections(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    now = clock.now()
    day = timedelta(days=1)
    yoga = await add_category(db, client_a, "Yoga")
    await add_category(db, client_a, "Hidden", is_active=False)
    rows = [
        # Twelve featured, in featured order 11..0 and all three weeks old: ten make it.
        a_class(f"Featured {i:02d}", now - 21 * day, is_featured=True, featured_order=i)
        for i in range(12)
    ]
    rows += [
        a_class("Featured draft", None, status="draft", is_featured=True, featured_order=-1),
        a_class("Featured later", now + day, is_featured=True, featured_order=-2),
        a_class("New 1", now - timedelta(hours=1), category_id=yoga),
        a_class("New 2", now - 6 * day, category_id=yoga, is_featured=True, featured_order=99),
        a_class("Eight days old", now - 8 * day, category_id=yoga),
        a_class("Tomorrow", now + day, category_id=yoga),
    ]
    await save(db, client_a, *rows)
    user = await make_user(http, db, client_a, "viewer@example.com")

    response = await http.get("/content/discover", headers=user.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == {
        "featured",
        "continueWatching",
        "upcomingLive",
        "categories",
        "newThisWeek",
    }
    assert [c["name"] for c in data["featured"]] == [f"Featured {i:02d}" for i in range(10)]
    assert set(data["featured"][0]) == SUMMARY_FIELDS
    assert [c["name"] for c in data["newThisWeek"]] == ["New 1", "New 2"]
    assert data["newThisWeek"][0]["category"] == {"id": yoga, "name": "Yoga"}
    assert data["continueWatching"] == []
    assert data["upcomingLive"] == []
    assert [(c["name"], c["classCount"]) for c in data["categories"]] == [("Yoga", 3)]
    assert "video" not in response.text.lower()

    # Two days on, the same (built-once) statements answer for the new instant: the scheduled
    # classes are out, and the week's window has moved past "New 2".
    clock.advance(2 * day)
    later = await make_user(http, db, client_a, "later@example.com")  # tokens have expired
    data = (await http.get("/content/discover", headers=later.headers)).json()["data"]
    assert [c["name"] for c in data["featured"]] == [
        "Featured later",
        *[f"Featured {i:02d}" for i in range(9)],
    ]
    assert [c["name"] for c in data["newThisWeek"]] == ["Tomorrow", "Featured later", "New 1"]
    assert [(c["name"], c["classCount"]) for c in data["categories"]] == [("Yoga", 4)]


async def test_discover_new_this_week_is_capped_at_ten(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    now = clock.now()
    await save(
        db, client_a, *(a_class(f"N{i:02d}", now - timedelta(hours=i + 1)) for i in range(12))
    )
    user = await make_user(http, db, client_a, "viewer@example.com")
    data = (await http.get("/content/discover", headers=user.headers)).json()["data"]
    assert [c["name"] for c in data["newThisWeek"]] == [f"N{i:02d}" for i in range(10)]
    assert data["featured"] == []


async def test_discover_needs_a_signed_in_user(
    http: httpx.AsyncClient, client_a: TestClient
) -> None:
    response = await http.get("/content/discover", headers=client_a.headers)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"


# --- the feature gate -------------------------------------------------------------------------


async def test_every_content_route_is_gated_by_the_classes_feature(
    http: httpx.AsyncClient, app: FastAPI, db: Database, client_a: TestClient, library: Library
) -> None:
    user = await make_user(http, db, client_a, "viewer@example.com")
    class_id = library.ids["Morning Flow"]
    paths = [
        "/content/classes",
        f"/content/classes/{class_id}",
        "/content/categories",
        "/content/discover",
        f"/video/access/{class_id}",
    ]
    for path in paths:
        assert (await http.get(path, headers=user.headers)).status_code == 200, path

    async with db.transaction(TenantScope.for_platform()) as session:
        client = await session.get(Client, client_a.id)
        assert client is not None
        client.enabled_features = [f for f in client.enabled_features if f != "classes"]
    app.state.authenticator.invalidate()

    for path in paths:
        response = await http.get(path, headers=user.headers)
        assert response.status_code == 403, path
        assert response.json()["code"] == "FEATURE_DISABLED"


# --- statement counts -------------------------------------------------------------------------


async def _seed(db: Database, client: TestClient, count: int, start: int, now: Any) -> None:
    """``count`` featured classes published this week, each with its own trainer and category."""
    trainers = await save(db, client, *(_trainer(start + i) for i in range(count)))
    categories = await save(db, client, *(_category(start + i) for i in range(count)))
    await save(
        db,
        client,
        *(
            a_class(
                f"Class {start + i}",
                now - timedelta(hours=start + i + 1),
                trainer_id=trainers[i],
                category_id=categories[i],
                is_featured=True,
                featured_order=start + i,
            )
            for i in range(count)
        ),
    )


def _trainer(n: int) -> Trainer:
    return Trainer(name=f"Trainer {n}")


def _category(n: int) -> Category:
    return Category(name=f"Category {n}", slug=f"category-{n}")


async def _statements(app: FastAPI, http: httpx.AsyncClient, path: str, headers: Any) -> int:
    with count_statements(app) as statements:
        response = await http.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return len(statements)


async def test_statement_count_does_not_grow_with_the_library(
    http: httpx.AsyncClient, app: FastAPI, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    now = clock.now()
    user = await make_user(http, db, client_a, "viewer@example.com")
    paths = ["/content/classes?limit=100", "/content/discover", "/content/categories?limit=100"]
    await _seed(db, client_a, 5, 0, now)
    for path in paths:  # warm the API-key cache
        await http.get(path, headers=user.headers)
    small = {path: await _statements(app, http, path, user.headers) for path in paths}
    listed = await http.get("/content/classes?sort=name", headers=user.headers)
    detail = f"/content/classes/{listed.json()['data']['items'][0]['id']}"
    detail_small = await _statements(app, http, detail, user.headers)

    await _seed(db, client_a, 45, 5, now)
    large = {path: await _statements(app, http, path, user.headers) for path in paths}
    detail_large = await _statements(app, http, detail, user.headers)

    print(f"statements with 5 classes: {small}, detail {detail_small}")
    print(f"statements with 50 classes: {large}, detail {detail_large}")
    assert small == large
    assert detail_small == detail_large
    assert all(count <= 12 for count in large.values()), large
