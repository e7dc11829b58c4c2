"""The trainer catalogue: the apps' /trainers, the portal's /trainer/me, the studio's profile
fields (specialisations, certifications, time zone)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from stvos.kit.clock import FrozenClock, utcnow
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Client, Trainer, TrainerService, TrainerSpecialisation
from stvos.trainers.catalog_schemas import slugify
from tests.content import add_category, add_class
from tests.support.factories import TestClient, TestUser, make_user
from tests.support.statements import count_statements


async def add_trainer(
    db: Database,
    client: TestClient,
    name: str,
    *,
    specialisations: tuple[str, ...] = (),
    services: tuple[dict[str, Any], ...] = (),
    **fields: Any,
) -> int:
    """A trainer row with its specialisation and service rows, in the client's scope."""
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        trainer = Trainer(name=name, **fields)
        session.add(trainer)
        await session.flush()
        for spec in specialisations:
            session.add(TrainerSpecialisation(trainer_id=trainer.id, slug=slugify(spec), name=spec))
        for service in services:
            values = {"name": "Session", "duration_minutes": 45, "price_minor": 4000, **service}
            session.add(TrainerService(trainer_id=trainer.id, **values))
        await session.flush()
        return trainer.id


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["code"] == code
    return body


def _data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _catalogue(db: Database, client: TestClient) -> dict[str, int]:
    return {
        "maya": await add_trainer(
            db,
            client,
            "Maya Stone",
            bio="Strength coach for busy people.",
            image_url="https://cdn.example.com/maya.jpg",
            certifications=[{"name": "Level 3 PT", "issuer": "REPs", "year": 2019}],
            specialisations=("Strength", "Pre & Post Natal"),
            services=(
                {"name": "1:1 Video PT", "price_minor": 4000},
                {"name": "Mobility check-in", "duration_minutes": 30, "price_minor": 2500},
                {"name": "Retired", "price_minor": 100, "is_active": False},
            ),
        ),
        "leo": await add_trainer(
            db,
            client,
            "leo hart",
            bio="HIIT and running; loves a negative SPLIT.",
            time_zone="America/New_York",
            specialisations=("HIIT", "Running"),
        ),
        "ivy": await add_trainer(
            db,
            client,
            "Ivy Old",
            bio="Strength, retired.",
            is_active=False,
            specialisations=("Strength",),
        ),
    }


# --- /trainers --------------------------------------------------------------------------------


async def test_list_answers_profiles_with_figures_sorted_by_name(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    ids = await _catalogue(db, client_a)
    page = _data(await http.get("/trainers", headers=client_a.headers))
    assert page["pagination"] == {"page": 1, "limit": 20, "total": 2, "totalPages": 1}
    leo, maya = page["items"]  # any case: "leo hart" sorts before "Maya Stone"
    assert maya == {
        "id": ids["maya"],
        "name": "Maya Stone",
        "bio": "Strength coach for busy people.",
        "imageUrl": "https://cdn.example.com/maya.jpg",
        "specialisations": ["Strength", "Pre & Post Natal"],
        "certifications": [{"name": "Level 3 PT", "issuer": "REPs", "year": 2019}],
        "timeZone": "Europe/London",  # the app's zone: Maya has none of her own
        "isActive": True,
        "servicesCount": 2,  # the inactive one is not counted
        "fromPrice": {"price": "25.00", "currency": "GBP"},
    }
    assert leo["id"] == ids["leo"]
    assert leo["timeZone"] == "America/New_York"
    assert leo["servicesCount"] == 0
    assert leo["fromPrice"] is None
    assert leo["certifications"] == []


async def test_list_filters_combine_and_page(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    ids = await _catalogue(db, client_a)

    async def names(**params: Any) -> list[str]:
        page = _data(await http.get("/trainers", params=params, headers=client_a.headers))
        return [t["name"] for t in page["items"]]

    assert await names(search="MAYA") == ["Maya Stone"]
    assert await names(search="split") == ["leo hart"]  # the bio, any case
    assert await names(search="%") == []  # wildcards are literal
    assert await names(search="nobody") == []
    assert await names(specialisation="strength") == ["Maya Stone"]  # Ivy is inactive
    assert await names(specialisation="  pre & POST natal ") == ["Maya Stone"]
    assert await names(specialisation="pre-post-natal") == ["Maya Stone"]
    assert await names(specialisation="hiit", search="leo") == ["leo hart"]
    assert await names(specialisation="hiit", search="maya") == []
    assert await names(specialisation="yoga") == []
    assert await names(active="false") == ["Ivy Old"]
    assert await names(active="false", specialisation="Strength") == ["Ivy Old"]

    second = _data(await http.get("/trainers?limit=1&page=2", headers=client_a.headers))
    assert [t["id"] for t in second["items"]] == [ids["maya"]]
    assert second["pagination"] == {"page": 2, "limit": 1, "total": 2, "totalPages": 2}
    capped = _data(await http.get("/trainers?limit=500", headers=client_a.headers))
    assert capped["pagination"]["limit"] == 100


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("specialisation=--", "specialisation"),
        ("specialisation=", "specialisation"),
        ("active=maybe", "active"),
        ("page=0", "page"),
        ("search=" + "x" * 101, "search"),
    ],
)
async def test_list_validation(
    http: httpx.AsyncClient, client_a: TestClient, query: str, field: str
) -> None:
    response = await http.get(f"/trainers?{query}", headers=client_a.headers)
    details = _error(response, 400, "VALIDATION_ERROR")["details"]
    assert field in [d["field"] for d in details]


async def test_listing_takes_a_constant_number_of_statements(
    app: FastAPI, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    async def statements() -> int:
        with count_statements(app) as seen:
            page = _data(await http.get("/trainers?limit=100", headers=client_a.headers))
        assert page["items"]
        return len(seen)

    await _catalogue(db, client_a)
    await statements()  # warm: the API key is resolved (and cached) on the first request
    few = await statements()
    assert few <= 6, few  # transaction set-up, count, page, specialisations, services
    for i in range(12):
        await add_trainer(
            db,
            client_a,
            f"Extra {i:02}",
            specialisations=("Yoga", f"Style {i}"),
            services=({"price_minor": 1000 + i}, {"price_minor": 900, "currency": "EUR"}),
        )
    many = await statements()
    assert many == few
    page = _data(await http.get("/trainers?search=extra 03", headers=client_a.headers))
    (extra,) = page["items"]
    assert extra["servicesCount"] == 2
    assert extra["fromPrice"] == {"price": "9.00", "currency": "EUR"}
    assert extra["specialisations"] == ["Yoga", "Style 3"]


# --- one trainer ------------------------------------------------------------------------------


async def test_profile_services_and_classes(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    ids = await _catalogue(db, client_a)
    profile = _data(await http.get(f"/trainers/{ids['maya']}", headers=client_a.headers))
    assert profile["name"] == "Maya Stone"
    assert profile["specialisations"] == ["Strength", "Pre & Post Natal"]
    assert [s["name"] for s in profile["services"]] == ["Mobility check-in", "1:1 Video PT"]
    assert profile["servicesCount"] == 2

    services = _data(await http.get(f"/trainers/{ids['maya']}/services", headers=client_a.headers))
    assert services["pagination"]["total"] == 2
    first = services["items"][0]
    assert first == {
        "id": first["id"],
        "trainerId": ids["maya"],
        "name": "Mobility check-in",
        "description": None,
        "durationMinutes": 30,
        "price": "25.00",
        "currency": "GBP",
        "mode": "video",
        "location": None,
        "bufferBeforeMinutes": 0,
        "bufferAfterMinutes": 0,
        "minNoticeMinutes": 120,
        "maxDaysAhead": 60,
        "cancellationWindowHours": 24,
        "isActive": True,
    }
    assert profile["services"][0] == first

    category = await add_category(db, client_a, "Strength")
    now = utcnow()
    older = await add_class(
        db,
        client_a,
        "Older",
        now - timedelta(days=2),
        trainer_id=ids["maya"],
        category_id=category,
    )
    newer = await add_class(db, client_a, "Newer", now - timedelta(hours=1), trainer_id=ids["maya"])
    await add_class(db, client_a, "Tomorrow", now + timedelta(days=1), trainer_id=ids["maya"])
    await add_class(db, client_a, "Draft", None, trainer_id=ids["maya"], status="draft")
    await add_class(db, client_a, "Leo's", now - timedelta(days=1), trainer_id=ids["leo"])
    classes = _data(await http.get(f"/trainers/{ids['maya']}/classes", headers=client_a.headers))
    assert [c["id"] for c in classes["items"]] == [newer, older]
    assert classes["items"][1]["trainer"] == {
        "id": ids["maya"],
        "name": "Maya Stone",
        "image": "https://cdn.example.com/maya.jpg",
    }
    assert classes["items"][1]["category"] == {"id": category, "name": "Strength"}
    paged = _data(
        await http.get(f"/trainers/{ids['maya']}/classes?limit=1&page=2", headers=client_a.headers)
    )
    assert [c["id"] for c in paged["items"]] == [older]
    assert paged["pagination"]["total"] == 2


async def test_inactive_unknown_and_other_clients_trainers_are_not_found(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    ids = await _catalogue(db, client_a)
    theirs = await add_trainer(
        db, client_b, "Bea Beta", specialisations=("Strength",), services=({},)
    )
    assert _data(await http.get(f"/trainers/{theirs}", headers=client_b.headers))["id"] == theirs
    for trainer_id, headers in (
        (ids["ivy"], client_a.headers),  # inactive
        (999_999, client_a.headers),  # unknown
        (theirs, client_a.headers),  # another client's
        (ids["maya"], client_b.headers),  # and the other way round
    ):
        for suffix in ("", "/services", "/classes"):
            response = await http.get(f"/trainers/{trainer_id}{suffix}", headers=headers)
            _error(response, 404, "NOT_FOUND")
    listed = _data(await http.get("/trainers?specialisation=strength", headers=client_b.headers))
    assert [t["name"] for t in listed["items"]] == ["Bea Beta"]
    assert listed["items"][0]["timeZone"] == "America/New_York"  # client B's zone


async def test_the_catalogue_needs_coach_connect(
    app: FastAPI, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    ids = await _catalogue(db, client_a)
    member = await make_user(http, db, client_a, "member@example.com")
    paths = [
        "/trainers",
        f"/trainers/{ids['maya']}",
        f"/trainers/{ids['maya']}/services",
        f"/trainers/{ids['maya']}/classes",
    ]
    for path in paths:
        assert (await http.get(path, headers=member.headers)).status_code == 200, path
    _error(await http.get("/trainers"), 401, "API_KEY_REQUIRED")

    async with db.transaction(TenantScope.for_platform()) as session:
        client = await session.get(Client, client_a.id)
        assert client is not None
        client.enabled_features = [f for f in client.enabled_features if f != "coach_connect"]
    app.state.authenticator.invalidate()
    for path in paths:
        for headers in (client_a.headers, member.headers):
            _error(await http.get(path, headers=headers), 403, "FEATURE_DISABLED")


# --- the studio: specialisations, certifications, time zone -----------------------------------


async def _staff(http: httpx.AsyncClient, db: Database, client: TestClient) -> TestUser:
    return await make_user(
        http, db, client, f"staff-{client.slug}@example.com", role="client_admin"
    )


async def test_studio_manages_profile_fields(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    created = await http.post(
        "/manage/trainers",
        json={
            "name": "Zoe Strong",
            "specialisations": ["HIIT", "Strength", "hiit "],
            "certifications": [
                {"name": "Level 3 PT", "issuer": "REPs", "year": 2020},
                {"name": "First Aid"},
            ],
            "timeZone": "America/New_York",
        },
        headers=staff.headers,
    )
    assert created.status_code == 201, created.text
    zoe = created.json()["data"]
    assert zoe["specialisations"] == ["HIIT", "Strength"]  # same slug counted once
    assert zoe["certifications"] == [
        {"name": "Level 3 PT", "issuer": "REPs", "year": 2020},
        {"name": "First Aid", "issuer": None, "year": None},
    ]
    assert zoe["timeZone"] == "America/New_York"
    fetched = _data(await http.get(f"/manage/trainers/{zoe['id']}", headers=staff.headers))
    assert fetched == zoe

    patched = _data(
        await http.patch(
            f"/manage/trainers/{zoe['id']}",
            json={"specialisations": ["Boxing"], "timeZone": None},
            headers=staff.headers,
        )
    )
    assert patched["specialisations"] == ["Boxing"]
    assert patched["timeZone"] is None
    assert patched["certifications"] == zoe["certifications"]  # untouched
    app_view = _data(await http.get(f"/trainers/{zoe['id']}", headers=client_a.headers))
    assert app_view["timeZone"] == "Europe/London"
    assert app_view["specialisations"] == ["Boxing"]
    found = _data(await http.get("/trainers?specialisation=HIIT", headers=client_a.headers))
    assert found["items"] == []

    replaced = _data(
        await http.put(
            f"/manage/trainers/{zoe['id']}", json={"name": "Zoe S"}, headers=staff.headers
        )
    )
    assert (replaced["specialisations"], replaced["certifications"]) == ([], [])
    listed = _data(await http.get("/manage/trainers", headers=staff.headers))
    assert listed["items"] == [replaced]
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        rows = await session.scalar(select(func.count(TrainerSpecialisation.id)))
    assert rows == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"specialisations": []}, "specialisations"),
        ({"specialisations": ["X"]}, "specialisations.0"),
        ({"specialisations": ["ok", "y" * 61]}, "specialisations.1"),
        ({"specialisations": ["--"]}, "specialisations.0"),
        ({"specialisations": [f"Style {i}" for i in range(21)]}, "specialisations"),
        ({"certifications": [{"issuer": "REPs"}]}, "certifications.0.name"),
        ({"certifications": [{"name": "PT", "year": 2027}]}, "certifications.0.year"),
        ({"certifications": [{"name": "PT", "year": 1900}]}, "certifications.0.year"),
        ({"certifications": [{"name": "PT", "level": 3}]}, "certifications.0.level"),
        ({"timeZone": "Mars/Olympus"}, "timeZone"),
        ({"timeZone": "../etc/passwd"}, "timeZone"),
        ({"timeZone": ""}, "timeZone"),
    ],
)
async def test_studio_profile_validation(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    clock: FrozenClock,
    body: dict[str, Any],
    field: str,
) -> None:
    staff = await _staff(http, db, client_a)
    response = await http.post(
        "/manage/trainers", json={"name": "Ok", **body}, headers=staff.headers
    )
    details = _error(response, 400, "VALIDATION_ERROR")["details"]
    assert field in [d["field"] for d in details], details
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        assert await session.scalar(select(func.count(Trainer.id))) == 0


# --- the trainer portal: my profile -----------------------------------------------------------


async def _trainer_login(
    http: httpx.AsyncClient, db: Database, client: TestClient, email: str, name: str, **fields: Any
) -> tuple[TestUser, int]:
    user = await make_user(http, db, client, email, role="trainer", name=name)
    trainer_id = await add_trainer(db, client, name, user_id=user.id, **fields)
    return user, trainer_id


async def test_trainer_reads_and_edits_their_own_profile(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    coach, coach_id = await _trainer_login(
        http,
        db,
        client_a,
        "coach@example.com",
        "Coach Kim",
        specialisations=("Yoga",),
        services=({"name": "Off", "is_active": False}, {"name": "On", "price_minor": 3000}),
    )
    other, other_id = await _trainer_login(
        http, db, client_a, "other@example.com", "Other One", bio="Untouched"
    )
    me = _data(await http.get("/trainer/me", headers=coach.headers))
    assert me["id"] == coach_id
    assert me["userId"] == coach.id
    assert me["specialisations"] == ["Yoga"]
    assert me["timeZone"] == "Europe/London"
    assert me["ownTimeZone"] is None
    assert [(s["name"], s["isActive"]) for s in me["services"]] == [("On", True), ("Off", False)]
    assert me["servicesCount"] == 1
    assert me["fromPrice"] == {"price": "30.00", "currency": "GBP"}

    changed = _data(
        await http.patch(
            "/trainer/me",
            json={
                "bio": "Slow flows.",
                "imageUrl": "https://cdn.example.com/kim.png",
                "specialisations": ["Yin Yoga", "Meditation"],
                "certifications": [{"name": "RYT 500", "issuer": "Yoga Alliance", "year": 2022}],
                "timeZone": "Asia/Tokyo",
            },
            headers=coach.headers,
        )
    )
    assert changed["bio"] == "Slow flows."
    assert changed["imageUrl"] == "https://cdn.example.com/kim.png"
    assert changed["specialisations"] == ["Yin Yoga", "Meditation"]
    assert changed["certifications"] == [
        {"name": "RYT 500", "issuer": "Yoga Alliance", "year": 2022}
    ]
    assert (changed["timeZone"], changed["ownTimeZone"]) == ("Asia/Tokyo", "Asia/Tokyo")
    assert _data(await http.get("/trainer/me", headers=coach.headers)) == changed
    public = _data(await http.get(f"/trainers/{coach_id}", headers=client_a.headers))
    assert public["timeZone"] == "Asia/Tokyo"

    cleared = _data(
        await http.patch(
            "/trainer/me",
            json={"timeZone": None, "certifications": None, "specialisations": None},
            headers=coach.headers,
        )
    )
    assert (cleared["timeZone"], cleared["ownTimeZone"]) == ("Europe/London", None)
    assert (cleared["certifications"], cleared["specialisations"]) == ([], [])
    assert cleared["bio"] == "Slow flows."

    # The other trainer's profile never moved.
    theirs = _data(await http.get("/trainer/me", headers=other.headers))
    assert (theirs["id"], theirs["bio"]) == (other_id, "Untouched")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "New Name"}, "name"),
        ({"isActive": False}, "isActive"),
        ({"timeZone": "Nowhere/Land"}, "timeZone"),
        ({"specialisations": []}, "specialisations"),
        ({"imageUrl": "ftp://x"}, "imageUrl"),
        ({"bio": "b" * 5001}, "bio"),
    ],
)
async def test_trainer_profile_edits_are_validated(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    body: dict[str, Any],
    field: str,
) -> None:
    coach, _ = await _trainer_login(
        http, db, client_a, "coach@example.com", "Coach Kim", specialisations=("Yoga",)
    )
    response = await http.patch("/trainer/me", json=body, headers=coach.headers)
    details = _error(response, 400, "VALIDATION_ERROR")["details"]
    assert field in [d["field"] for d in details]
    me = _data(await http.get("/trainer/me", headers=coach.headers))
    assert (me["name"], me["isActive"], me["specialisations"]) == ("Coach Kim", True, ["Yoga"])


async def test_portal_needs_a_linked_trainer_login(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    unlinked = await make_user(http, db, client_a, "new@example.com", role="trainer")
    body = _error(await http.get("/trainer/me", headers=unlinked.headers), 403, "FORBIDDEN")
    assert "No trainer profile" in body["error"]
    member = await make_user(http, db, client_a, "member@example.com")
    _error(await http.get("/trainer/me", headers=member.headers), 403, "FORBIDDEN")
    _error(await http.get("/trainer/me", headers=client_a.headers), 401, "UNAUTHORIZED")
    # A trainer's token with another client's key is refused.
    coach, _ = await _trainer_login(http, db, client_a, "coach@example.com", "Coach")
    foreign = {**client_b.headers, "Authorization": coach.headers["Authorization"]}
    assert (await http.get("/trainer/me", headers=foreign)).status_code == 401
