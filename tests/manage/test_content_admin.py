"""Studio staff run their content library: categories, platform categories, classes, publishing,
featuring and trainer profiles, with search_people kept in step and clients kept apart."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from stvos.kit.clock import utcnow
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import OnDemandClass, PlatformCategory
from tests.support.factories import TestClient, TestUser, make_user


@pytest.fixture
async def staff(http: httpx.AsyncClient, db: Database, client_a: TestClient) -> TestUser:
    return await make_user(http, db, client_a, "boss@alpha.example", role="client_admin")


@pytest.fixture
async def staff_b(http: httpx.AsyncClient, db: Database, client_b: TestClient) -> TestUser:
    return await make_user(http, db, client_b, "boss@beta.example", role="client_admin")


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["code"] == code
    result: dict[str, Any] = body
    return result


def _fields(response: httpx.Response) -> set[str]:
    body = _error(response, 400, "VALIDATION_ERROR")
    return {d["field"] for d in body["details"]}


def _data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


async def _category(http: httpx.AsyncClient, who: TestUser, name: str, **extra: Any) -> Any:
    return _data(
        await http.post("/manage/categories", json={"name": name, **extra}, headers=who.headers),
        201,
    )


async def _trainer(http: httpx.AsyncClient, who: TestUser, name: str) -> Any:
    return _data(await http.post("/manage/trainers", json={"name": name}, headers=who.headers), 201)


def _class_body(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Morning Flow",
        "description": "A gentle start",
        "thumbnailUrl": "https://cdn.example/flow.jpg",
        "videoUrl": "https://video.example/flow/master.m3u8",
        "videoProvider": "hls",
        "duration": 30,
        "intensity": "low",
        "isPremium": False,
        "equipment": ["Mat", "blocks", "mat"],
        "tags": ["Yoga", "morning"],
        **extra,
    }


async def _class(http: httpx.AsyncClient, who: TestUser, **extra: Any) -> Any:
    return _data(
        await http.post("/manage/classes", json=_class_body(**extra), headers=who.headers), 201
    )


async def _people(db: Database, client: TestClient, class_id: int) -> str:
    async with db.transaction(TenantScope.for_client(client.id), write=False) as session:
        value = await session.scalar(
            select(OnDemandClass.search_people).where(OnDemandClass.id == class_id)
        )
        assert value is not None
        return value


async def _platform(db: Database, slug: str, name: str) -> int:
    async with db.transaction(TenantScope.for_platform()) as session:
        row = PlatformCategory(
            name=name,
            slug=slug,
            description=f"{name} for all",
            image_url=f"https://cdn.example/{slug}.jpg",
        )
        session.add(row)
        await session.flush()
        return row.id


# --- categories -------------------------------------------------------------------------------


async def test_category_crud_with_derived_slug_order_and_conflicts(
    http: httpx.AsyncClient, staff: TestUser
) -> None:
    strength = await _category(http, staff, "Strength & Power", sortOrder=2)
    assert strength["slug"] == "strength-power"
    assert strength["isActive"] is True
    assert strength["classCount"] == 0
    assert strength["platformCategoryId"] is None
    hidden = await _category(
        http,
        staff,
        "Yoga",
        slug="yoga-flow",
        description="Breathe",
        imageUrl="https://cdn.example/yoga.jpg",
        sortOrder=1,
        isActive=False,
    )
    assert (hidden["slug"], hidden["imageUrl"], hidden["isActive"]) == (
        "yoga-flow",
        "https://cdn.example/yoga.jpg",
        False,
    )

    listed = _data(await http.get("/manage/categories", headers=staff.headers))
    assert [c["id"] for c in listed["items"]] == [hidden["id"], strength["id"]]
    assert listed["pagination"]["total"] == 2

    dup = await http.post(
        "/manage/categories", json={"name": "Strength power"}, headers=staff.headers
    )
    _error(dup, 409, "SLUG_TAKEN")
    clash = await http.patch(
        f"/manage/categories/{hidden['id']}", json={"slug": "strength-power"}, headers=staff.headers
    )
    _error(clash, 409, "SLUG_TAKEN")

    patched = _data(
        await http.patch(
            f"/manage/categories/{hidden['id']}",
            json={"isActive": True, "sortOrder": 5, "description": None},
            headers=staff.headers,
        )
    )
    assert (patched["isActive"], patched["sortOrder"], patched["description"]) == (True, 5, None)
    assert patched["name"] == "Yoga"
    got = _data(await http.get(f"/manage/categories/{hidden['id']}", headers=staff.headers))
    assert got["sortOrder"] == 5

    deleted = await http.delete(f"/manage/categories/{hidden['id']}", headers=staff.headers)
    assert _data(deleted) == {"id": hidden["id"], "deleted": True}
    gone = await http.get(f"/manage/categories/{hidden['id']}", headers=staff.headers)
    _error(gone, 404, "NOT_FOUND")


async def test_category_validation(http: httpx.AsyncClient, staff: TestUser) -> None:
    post = "/manage/categories"
    assert _fields(await http.post(post, json={}, headers=staff.headers)) == {"name"}
    assert "colour" in _fields(
        await http.post(post, json={"name": "A", "colour": "red"}, headers=staff.headers)
    )
    assert "slug" in _fields(
        await http.post(post, json={"name": "A", "slug": "Not A Slug"}, headers=staff.headers)
    )
    assert "imageUrl" in _fields(
        await http.post(
            post, json={"name": "A", "imageUrl": "ftp://x.example/a.jpg"}, headers=staff.headers
        )
    )
    made = await _category(http, staff, "A")
    assert "name" in _fields(
        await http.patch(
            f"/manage/categories/{made['id']}", json={"name": None}, headers=staff.headers
        )
    )


async def test_a_category_in_use_cannot_be_deleted(
    http: httpx.AsyncClient, staff: TestUser
) -> None:
    category = await _category(http, staff, "Boxing")
    cls = await _class(http, staff, categoryId=category["id"])
    listed = _data(await http.get("/manage/categories", headers=staff.headers))
    assert listed["items"][0]["classCount"] == 1

    refused = await http.delete(f"/manage/categories/{category['id']}", headers=staff.headers)
    _error(refused, 409, "CATEGORY_IN_USE")

    await http.patch(
        f"/manage/classes/{cls['id']}", json={"categoryId": None}, headers=staff.headers
    )
    done = await http.delete(f"/manage/categories/{category['id']}", headers=staff.headers)
    assert done.status_code == 200, done.text


async def test_platform_categories_enable_once(
    http: httpx.AsyncClient, db: Database, staff: TestUser, staff_b: TestUser
) -> None:
    yoga = await _platform(db, "yoga", "Yoga")
    hiit = await _platform(db, "hiit", "HIIT")

    listed = _data(await http.get("/manage/platform-categories", headers=staff.headers))
    assert [(p["slug"], p["enabled"], p["categoryId"]) for p in listed["items"]] == [
        ("hiit", False, None),
        ("yoga", False, None),
    ]

    enable = f"/manage/platform-categories/{yoga}/enable"
    first = await http.post(enable, json={"sortOrder": 3}, headers=staff.headers)
    category = _data(first, 201)
    assert (category["name"], category["slug"], category["platformCategoryId"]) == (
        "Yoga",
        "yoga",
        yoga,
    )
    assert (category["description"], category["imageUrl"], category["sortOrder"]) == (
        "Yoga for all",
        "https://cdn.example/yoga.jpg",
        3,
    )
    again = _data(await http.post(enable, headers=staff.headers), 200)
    assert again["id"] == category["id"]

    listed = _data(await http.get("/manage/platform-categories", headers=staff.headers))
    assert [(p["slug"], p["enabled"], p["categoryId"]) for p in listed["items"]] == [
        ("hiit", False, None),
        ("yoga", True, category["id"]),
    ]
    # Client B sees the same catalogue, none of it enabled by A's choice.
    listed_b = _data(await http.get("/manage/platform-categories", headers=staff_b.headers))
    assert [p["enabled"] for p in listed_b["items"]] == [False, False]
    # An own category with the slug already: enabling the platform one is a slug clash.
    await _category(http, staff_b, "My HIIT", slug="hiit")
    clash = await http.post(f"/manage/platform-categories/{hiit}/enable", headers=staff_b.headers)
    _error(clash, 409, "SLUG_TAKEN")
    missing = await http.post("/manage/platform-categories/999999/enable", headers=staff.headers)
    _error(missing, 404, "NOT_FOUND")


# --- classes ----------------------------------------------------------------------------------


async def test_class_create_get_patch_delete(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, staff: TestUser
) -> None:
    trainer = await _trainer(http, staff, "Priya Nair")
    category = await _category(http, staff, "Yoga")
    made = await _class(http, staff, trainerId=trainer["id"], categoryId=category["id"])
    assert made["status"] == "draft"
    assert made["publishedAt"] is None
    assert made["equipment"] == ["mat", "blocks"]
    assert made["tags"] == ["yoga", "morning"]
    assert made["trainer"] == {"id": trainer["id"], "name": "Priya Nair"}
    assert made["category"] == {"id": category["id"], "name": "Yoga"}
    assert made["videoUrl"] == "https://video.example/flow/master.m3u8"
    assert (made["duration"], made["intensity"], made["isFeatured"]) == (30, "low", False)
    assert made["featuredOrder"] is None
    assert await _people(db, client_a, made["id"]) == "Priya Nair Yoga"

    url = f"/manage/classes/{made['id']}"
    assert _data(await http.get(url, headers=staff.headers)) == made

    patched = _data(
        await http.patch(
            url,
            json={"name": "Evening Flow", "duration": 45, "intensity": "high", "trainerId": None},
            headers=staff.headers,
        )
    )
    assert (patched["name"], patched["duration"], patched["intensity"]) == (
        "Evening Flow",
        45,
        "high",
    )
    assert patched["trainer"] is None
    assert patched["description"] == "A gentle start"
    assert await _people(db, client_a, made["id"]) == "Yoga"

    other = await _trainer(http, staff, "Leo Hart")
    await http.patch(url, json={"trainerId": other["id"]}, headers=staff.headers)
    assert await _people(db, client_a, made["id"]) == "Leo Hart Yoga"

    assert _data(await http.delete(url, headers=staff.headers)) == {
        "id": made["id"],
        "deleted": True,
    }
    _error(await http.get(url, headers=staff.headers), 404, "NOT_FOUND")
    _error(await http.delete(url, headers=staff.headers), 404, "NOT_FOUND")


async def test_class_validation(http: httpx.AsyncClient, staff: TestUser) -> None:
    post = "/manage/classes"
    assert {"name", "videoUrl", "duration"} <= _fields(
        await http.post(post, json={}, headers=staff.headers)
    )
    cases: list[tuple[dict[str, Any], str]] = [
        ({"videoUrl": "javascript:alert(1)"}, "videoUrl"),
        ({"videoUrl": "ftp://video.example/a.mp4"}, "videoUrl"),
        ({"thumbnailUrl": "not a url"}, "thumbnailUrl"),
        ({"videoProvider": "dailymotion"}, "videoProvider"),
        ({"duration": 0}, "duration"),
        ({"duration": 601}, "duration"),
        ({"intensity": "extreme"}, "intensity"),
        ({"equipment": ["x" * 41]}, "equipment.0"),
        ({"tags": "yoga"}, "tags"),
        ({"status": "published"}, "status"),
        ({"trainerId": 0}, "trainerId"),
    ]
    for extra, field in cases:
        response = await http.post(post, json=_class_body(**extra), headers=staff.headers)
        assert field in _fields(response), (extra, response.text)
    made = await _class(http, staff)
    for field in ("name", "duration", "videoUrl", "tags"):
        response = await http.patch(
            f"/manage/classes/{made['id']}", json={field: None}, headers=staff.headers
        )
        assert field in _fields(response)
    unknown_trainer = await http.post(
        post, json=_class_body(trainerId=999999), headers=staff.headers
    )
    assert _fields(unknown_trainer) == {"trainerId"}


async def test_class_list_filters_and_search(http: httpx.AsyncClient, staff: TestUser) -> None:
    yoga = await _category(http, staff, "Yoga")
    hiit = await _category(http, staff, "HIIT")
    maya = await _trainer(http, staff, "Maya")
    a = await _class(http, staff, name="Sunrise Yoga", categoryId=yoga["id"], trainerId=maya["id"])
    b = await _class(http, staff, name="Tabata 100%", categoryId=hiit["id"])
    c = await _class(http, staff, name="Yoga Nidra", categoryId=yoga["id"])
    await http.post(f"/manage/classes/{a['id']}/publish", headers=staff.headers)
    future = (utcnow() + timedelta(days=2)).isoformat()
    await http.post(
        f"/manage/classes/{c['id']}/publish", json={"publishAt": future}, headers=staff.headers
    )

    async def ids(**params: Any) -> list[int]:
        data = _data(await http.get("/manage/classes", params=params, headers=staff.headers))
        return [item["id"] for item in data["items"]]

    assert await ids() == [c["id"], b["id"], a["id"]]  # newest first, drafts included
    assert await ids(status="draft") == [b["id"]]
    assert await ids(status="published") == [a["id"]]
    assert await ids(status="scheduled") == [c["id"]]
    assert await ids(category=yoga["id"]) == [c["id"], a["id"]]
    assert await ids(trainer=maya["id"]) == [a["id"]]
    assert await ids(search="YOGA") == [c["id"], a["id"]]
    assert await ids(search="100%") == [b["id"]]
    assert await ids(search="%") == [b["id"]]
    assert await ids(limit=1, page=2) == [b["id"]]
    bad = await http.get("/manage/classes", params={"status": "live"}, headers=staff.headers)
    assert "status" in _fields(bad)


async def test_publish_schedule_unpublish_transitions(
    http: httpx.AsyncClient, staff: TestUser
) -> None:
    made = await _class(http, staff)
    base = f"/manage/classes/{made['id']}"

    _error(
        await http.post(f"{base}/unpublish", headers=staff.headers), 409, "INVALID_STATE_TRANSITION"
    )
    before = utcnow()
    published = _data(await http.post(f"{base}/publish", headers=staff.headers))
    assert published["status"] == "published"
    assert published["publishedAt"] is not None
    _error(
        await http.post(f"{base}/publish", headers=staff.headers), 409, "INVALID_STATE_TRANSITION"
    )

    draft = _data(await http.post(f"{base}/unpublish", headers=staff.headers))
    assert (draft["status"], draft["publishedAt"]) == ("draft", None)

    when = before + timedelta(days=3)
    scheduled = _data(
        await http.post(
            f"{base}/publish", json={"publishAt": when.isoformat()}, headers=staff.headers
        )
    )
    assert scheduled["status"] == "scheduled"
    assert scheduled["publishedAt"].startswith(when.strftime("%Y-%m-%dT%H:%M:%S"))
    _error(
        await http.post(f"{base}/publish", headers=staff.headers), 409, "INVALID_STATE_TRANSITION"
    )
    assert _data(await http.post(f"{base}/unpublish", headers=staff.headers))["status"] == "draft"

    naive = await http.post(
        f"{base}/publish", json={"publishAt": "2030-01-01T10:00:00"}, headers=staff.headers
    )
    assert "publishAt" in _fields(naive)
    extra = await http.post(f"{base}/publish", json={"when": "now"}, headers=staff.headers)
    assert "when" in _fields(extra)
    _error(
        await http.post("/manage/classes/999999/publish", headers=staff.headers), 404, "NOT_FOUND"
    )


async def test_featured_classes_in_order(http: httpx.AsyncClient, staff: TestUser) -> None:
    a, b, c = [await _class(http, staff, name=f"Class {n}") for n in "abc"]
    put = "/manage/classes/featured"

    first = _data(await http.put(put, json={"classIds": [c["id"], a["id"]]}, headers=staff.headers))
    assert [(x["id"], x["featuredOrder"], x["isFeatured"]) for x in first] == [
        (c["id"], 1, True),
        (a["id"], 2, True),
    ]
    second = _data(
        await http.put(put, json={"classIds": [b["id"], c["id"]]}, headers=staff.headers)
    )
    assert [x["id"] for x in second] == [b["id"], c["id"]]
    listed = _data(
        await http.get("/manage/classes", params={"featured": "true"}, headers=staff.headers)
    )
    assert [(x["id"], x["featuredOrder"]) for x in listed["items"]] == [
        (b["id"], 1),
        (c["id"], 2),
    ]
    a_now = _data(await http.get(f"/manage/classes/{a['id']}", headers=staff.headers))
    assert (a_now["isFeatured"], a_now["featuredOrder"]) == (False, None)

    unknown = await http.put(put, json={"classIds": [a["id"], 999999]}, headers=staff.headers)
    assert _fields(unknown) == {"classIds"}
    twice = await http.put(put, json={"classIds": [a["id"], a["id"]]}, headers=staff.headers)
    assert "classIds" in _fields(twice)
    # The refused requests changed nothing.
    listed = _data(
        await http.get("/manage/classes", params={"featured": "true"}, headers=staff.headers)
    )
    assert [x["id"] for x in listed["items"]] == [b["id"], c["id"]]

    assert _data(await http.put(put, json={"classIds": []}, headers=staff.headers)) == []
    listed = _data(
        await http.get("/manage/classes", params={"featured": "true"}, headers=staff.headers)
    )
    assert listed["items"] == []


# --- search_people in step with renames -------------------------------------------------------


async def test_search_people_follows_trainer_and_category_renames(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, staff: TestUser
) -> None:
    trainer = await _trainer(http, staff, "Sam Okafor")
    category = await _category(http, staff, "Boxing")
    one = await _class(http, staff, trainerId=trainer["id"], categoryId=category["id"])
    two = await _class(http, staff, name="Pads", trainerId=trainer["id"])
    three = await _class(http, staff, name="Bags", categoryId=category["id"])
    untouched = await _class(http, staff, name="Solo")
    assert await _people(db, client_a, one["id"]) == "Sam Okafor Boxing"

    renamed = await http.patch(
        f"/manage/trainers/{trainer['id']}", json={"name": "Samuel Okafor"}, headers=staff.headers
    )
    assert _data(renamed)["name"] == "Samuel Okafor"
    assert await _people(db, client_a, one["id"]) == "Samuel Okafor Boxing"
    assert await _people(db, client_a, two["id"]) == "Samuel Okafor"

    await http.patch(
        f"/manage/categories/{category['id']}", json={"name": "Kickboxing"}, headers=staff.headers
    )
    assert await _people(db, client_a, one["id"]) == "Samuel Okafor Kickboxing"
    assert await _people(db, client_a, three["id"]) == "Kickboxing"
    assert await _people(db, client_a, untouched["id"]) == ""

    replaced = await http.put(
        f"/manage/trainers/{trainer['id']}",
        json={"name": "Sam O.", "imageUrl": "https://cdn.example/sam.jpg", "isActive": False},
        headers=staff.headers,
    )
    data = _data(replaced)
    assert (data["name"], data["bio"], data["imageUrl"], data["isActive"]) == (
        "Sam O.",
        None,
        "https://cdn.example/sam.jpg",
        False,
    )
    assert await _people(db, client_a, one["id"]) == "Sam O. Kickboxing"
    shown = _data(await http.get(f"/manage/classes/{one['id']}", headers=staff.headers))
    assert shown["trainer"]["name"] == "Sam O."


async def test_trainer_update_validation_and_partial_change(
    http: httpx.AsyncClient, staff: TestUser
) -> None:
    trainer = await _trainer(http, staff, "Elena")
    url = f"/manage/trainers/{trainer['id']}"
    patched = _data(
        await http.patch(url, json={"bio": "Pilates", "isActive": False}, headers=staff.headers)
    )
    assert (patched["name"], patched["bio"], patched["isActive"]) == ("Elena", "Pilates", False)
    assert "name" in _fields(await http.patch(url, json={"name": None}, headers=staff.headers))
    assert "name" in _fields(await http.put(url, json={"bio": "x"}, headers=staff.headers))
    assert "imageUrl" in _fields(
        await http.patch(url, json={"imageUrl": "file:///etc/passwd"}, headers=staff.headers)
    )
    assert "colour" in _fields(await http.patch(url, json={"colour": 1}, headers=staff.headers))
    _error(
        await http.patch("/manage/trainers/999999", json={"bio": "x"}, headers=staff.headers),
        404,
        "NOT_FOUND",
    )


# --- who may call, and isolation --------------------------------------------------------------

_ROUTES = [
    ("GET", "/manage/categories"),
    ("POST", "/manage/categories"),
    ("PATCH", "/manage/categories/1"),
    ("DELETE", "/manage/categories/1"),
    ("GET", "/manage/platform-categories"),
    ("POST", "/manage/platform-categories/1/enable"),
    ("GET", "/manage/classes"),
    ("POST", "/manage/classes"),
    ("PUT", "/manage/classes/featured"),
    ("GET", "/manage/classes/1"),
    ("PATCH", "/manage/classes/1"),
    ("DELETE", "/manage/classes/1"),
    ("POST", "/manage/classes/1/publish"),
    ("POST", "/manage/classes/1/unpublish"),
    ("PUT", "/manage/trainers/1"),
    ("PATCH", "/manage/trainers/1"),
]


async def test_only_studio_staff_reach_the_content_back_office(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    member = await make_user(http, db, client_a, "member@alpha.example")
    coach = await make_user(http, db, client_a, "coach@alpha.example", role="trainer")
    for method, path in _ROUTES:
        body: dict[str, Any] | None = {} if method in {"POST", "PUT", "PATCH"} else None
        anonymous = await http.request(method, path, json=body, headers=client_a.headers)
        _error(anonymous, 401, "UNAUTHORIZED")
        for who in (member, coach):
            refused = await http.request(method, path, json=body, headers=who.headers)
            _error(refused, 403, "FORBIDDEN")


async def test_clients_never_reach_each_others_content(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, staff: TestUser, staff_b: TestUser
) -> None:
    category = await _category(http, staff, "Yoga")
    trainer = await _trainer(http, staff, "Priya")
    cls = await _class(http, staff, categoryId=category["id"], trainerId=trainer["id"])
    b = staff_b.headers

    for method, path in [
        ("GET", f"/manage/categories/{category['id']}"),
        ("PATCH", f"/manage/categories/{category['id']}"),
        ("DELETE", f"/manage/categories/{category['id']}"),
        ("GET", f"/manage/classes/{cls['id']}"),
        ("PATCH", f"/manage/classes/{cls['id']}"),
        ("DELETE", f"/manage/classes/{cls['id']}"),
        ("POST", f"/manage/classes/{cls['id']}/publish"),
        ("POST", f"/manage/classes/{cls['id']}/unpublish"),
        ("PATCH", f"/manage/trainers/{trainer['id']}"),
        ("PUT", f"/manage/trainers/{trainer['id']}"),
    ]:
        body = {"name": "Mine now"} if method in {"PATCH", "PUT"} else None
        response = await http.request(method, path, json=body, headers=b)
        _error(response, 404, "NOT_FOUND")

    assert _data(await http.get("/manage/classes", headers=b))["items"] == []
    assert _data(await http.get("/manage/categories", headers=b))["items"] == []

    # A's ids in B's class: refused as a field error, never a database error.
    for field, value in (("categoryId", category["id"]), ("trainerId", trainer["id"])):
        response = await http.post("/manage/classes", json=_class_body(**{field: value}), headers=b)
        assert _fields(response) == {field}
    own = await _class(http, staff_b, name="B class")
    response = await http.patch(
        f"/manage/classes/{own['id']}", json={"categoryId": category["id"]}, headers=b
    )
    assert _fields(response) == {"categoryId"}
    featured = await http.put("/manage/classes/featured", json={"classIds": [cls["id"]]}, headers=b)
    assert _fields(featured) == {"classIds"}
    # B's filter by A's category finds nothing; A's class is untouched.
    assert (
        _data(await http.get("/manage/classes", params={"category": category["id"]}, headers=b))[
            "items"
        ]
        == []
    )
    still = _data(await http.get(f"/manage/classes/{cls['id']}", headers=staff.headers))
    assert (still["name"], still["status"]) == ("Morning Flow", "draft")
    assert await _people(db, client_a, cls["id"]) == "Priya Yoga"


async def test_creating_posts_replay_with_an_idempotency_key(
    http: httpx.AsyncClient, staff: TestUser
) -> None:
    headers = {**staff.headers, "Idempotency-Key": "class-1"}
    first = await http.post("/manage/classes", json=_class_body(), headers=headers)
    second = await http.post("/manage/classes", json=_class_body(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()
    listed = _data(await http.get("/manage/classes", headers=staff.headers))
    assert listed["pagination"]["total"] == 1
