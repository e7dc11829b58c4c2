"""The trainer portal's services: /trainer/services CRUD, scoped to the caller's own profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Booking, TrainerService
from tests.support.factories import TestClient, TestUser, make_user
from tests.trainers.test_catalog import add_trainer

VIDEO_PT = {"name": "1:1 Video PT", "durationMinutes": 45, "price": "40.00"}


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["code"] == code
    return body


def _data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


async def _coach(
    http: httpx.AsyncClient, db: Database, client: TestClient, email: str = "coach@example.com"
) -> tuple[TestUser, int]:
    user = await make_user(http, db, client, email, role="trainer", name=email.split("@")[0])
    trainer_id = await add_trainer(db, client, email.split("@")[0], user_id=user.id)
    return user, trainer_id


async def _services_in_db(db: Database, client: TestClient) -> int:
    async with db.transaction(TenantScope.for_client(client.id), write=False) as session:
        return await session.scalar(select(func.count(TrainerService.id))) or 0


async def test_create_with_defaults_and_read_back(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    coach, trainer_id = await _coach(http, db, client_a)
    created = _data(await http.post("/trainer/services", json=VIDEO_PT, headers=coach.headers), 201)
    assert created == {
        "id": created["id"],
        "trainerId": trainer_id,
        "name": "1:1 Video PT",
        "description": None,
        "durationMinutes": 45,
        "price": "40.00",
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
    studio = _data(
        await http.post(
            "/trainer/services",
            json={
                "name": "Studio PT",
                "description": "At the studio",
                "durationMinutes": 60,
                "price": 55.5,
                "currency": "EUR",
                "mode": "in_person",
                "location": "  12 High Street, London  ",
                "bufferBeforeMinutes": 15,
                "bufferAfterMinutes": 10,
                "minNoticeMinutes": 1440,
                "maxDaysAhead": 30,
                "cancellationWindowHours": 48,
            },
            headers=coach.headers,
        ),
        201,
    )
    assert studio["price"] == "55.50"
    assert studio["currency"] == "EUR"
    assert studio["location"] == "12 High Street, London"
    assert (studio["bufferBeforeMinutes"], studio["bufferAfterMinutes"]) == (15, 10)
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        row = await session.get(TrainerService, studio["id"])
        assert row is not None
        assert row.price_minor == 5550  # integer minor units in the database

    fetched = _data(await http.get(f"/trainer/services/{created['id']}", headers=coach.headers))
    assert fetched == created
    listed = _data(await http.get("/trainer/services", headers=coach.headers))
    assert [s["id"] for s in listed["items"]] == [created["id"], studio["id"]]  # shortest first
    public = _data(await http.get(f"/trainers/{trainer_id}/services", headers=client_a.headers))
    assert public["items"] == listed["items"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"durationMinutes": 4}, "durationMinutes"),
        ({"durationMinutes": 481}, "durationMinutes"),
        ({"price": "-1"}, "price"),
        ({"price": "1.234"}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": "NaN"}, "price"),
        ({"price": "100000.01"}, "price"),
        ({"currency": "gbp"}, "currency"),
        ({"currency": "GBPX"}, "currency"),
        ({"bufferBeforeMinutes": -1}, "bufferBeforeMinutes"),
        ({"bufferAfterMinutes": 241}, "bufferAfterMinutes"),
        ({"minNoticeMinutes": 43201}, "minNoticeMinutes"),
        ({"maxDaysAhead": 0}, "maxDaysAhead"),
        ({"maxDaysAhead": 366}, "maxDaysAhead"),
        ({"cancellationWindowHours": 721}, "cancellationWindowHours"),
        ({"mode": "phone"}, "mode"),
        ({"mode": "in_person"}, "location"),
        ({"mode": "in_person", "location": "   "}, "location"),
        ({"location": "The park"}, "location"),  # a video service has no place
        ({"name": ""}, "name"),
        ({"colour": "red"}, "colour"),
        ({"trainerId": 1}, "trainerId"),
    ],
)
async def test_create_validation_writes_nothing(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    change: dict[str, Any],
    field: str,
) -> None:
    coach, _ = await _coach(http, db, client_a)
    response = await http.post(
        "/trainer/services", json={**VIDEO_PT, **change}, headers=coach.headers
    )
    details = _error(response, 400, "VALIDATION_ERROR")["details"]
    assert field in [d["field"] for d in details], details
    assert await _services_in_db(db, client_a) == 0


async def test_limits_are_inclusive(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    coach, _ = await _coach(http, db, client_a)
    for edge in (
        {"durationMinutes": 5, "price": "0", "bufferBeforeMinutes": 240, "maxDaysAhead": 1},
        {"durationMinutes": 480, "price": "100000.00", "minNoticeMinutes": 43200},
        {"cancellationWindowHours": 720, "maxDaysAhead": 365, "minNoticeMinutes": 0},
    ):
        response = await http.post(
            "/trainer/services", json={**VIDEO_PT, **edge}, headers=coach.headers
        )
        assert response.status_code == 201, (edge, response.text)
    assert await _services_in_db(db, client_a) == 3


async def test_create_is_idempotent_with_a_key(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    coach, _ = await _coach(http, db, client_a)
    headers = {**coach.headers, "Idempotency-Key": "svc-1"}
    first = await http.post("/trainer/services", json=VIDEO_PT, headers=headers)
    again = await http.post("/trainer/services", json=VIDEO_PT, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await _services_in_db(db, client_a) == 1
    other = await http.post(
        "/trainer/services", json={**VIDEO_PT, "price": "41.00"}, headers=headers
    )
    _error(other, 409, "IDEMPOTENCY_CONFLICT")
    assert await _services_in_db(db, client_a) == 1


async def test_update_keeps_the_service_consistent(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    coach, _ = await _coach(http, db, client_a)
    service = _data(await http.post("/trainer/services", json=VIDEO_PT, headers=coach.headers), 201)
    url = f"/trainer/services/{service['id']}"

    _error(
        await http.patch(url, json={"mode": "in_person"}, headers=coach.headers),
        400,
        "VALIDATION_ERROR",
    )
    moved = _data(
        await http.patch(
            url,
            json={"mode": "in_person", "location": "Hyde Park", "price": "35", "name": "Park PT"},
            headers=coach.headers,
        )
    )
    assert (moved["mode"], moved["location"], moved["price"]) == ("in_person", "Hyde Park", "35.00")
    assert moved["name"] == "Park PT"
    _error(
        await http.patch(url, json={"location": None}, headers=coach.headers),
        400,
        "VALIDATION_ERROR",
    )
    back = _data(await http.patch(url, json={"mode": "video"}, headers=coach.headers))
    assert (back["mode"], back["location"]) == ("video", None)  # the address goes with it
    described = _data(
        await http.patch(url, json={"description": "Bring water"}, headers=coach.headers)
    )
    assert described["description"] == "Bring water"
    assert (
        _data(await http.patch(url, json={"description": None}, headers=coach.headers))[
            "description"
        ]
        is None
    )

    for bad in (
        {"name": None},
        {"durationMinutes": None},
        {"price": "0.001"},
        {"isActive": None},
        {"maxDaysAhead": 400},
        {"unknown": 1},
    ):
        response = await http.patch(url, json=bad, headers=coach.headers)
        _error(response, 400, "VALIDATION_ERROR")
    unchanged = _data(await http.get(url, headers=coach.headers))
    assert (unchanged["name"], unchanged["durationMinutes"], unchanged["price"]) == (
        "Park PT",
        45,
        "35.00",
    )

    paused = _data(await http.patch(url, json={"isActive": False}, headers=coach.headers))
    assert paused["isActive"] is False
    active = _data(await http.get("/trainer/services?active=true", headers=coach.headers))
    inactive = _data(await http.get("/trainer/services?active=false", headers=coach.headers))
    assert (active["items"], [s["id"] for s in inactive["items"]]) == ([], [service["id"]])


async def _book(
    db: Database, client: TestClient, trainer_id: int, service_id: int, user_id: int
) -> int:
    start = datetime(2026, 2, 2, 10, tzinfo=UTC)
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        booking = Booking(
            trainer_id=trainer_id,
            service_id=service_id,
            user_id=user_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=45),
            blocked_from=start,
            blocked_until=start + timedelta(minutes=45),
            service_name="1:1 Video PT",
            mode="video",
            room_name="bk_test",
        )
        session.add(booking)
        await session.flush()
        return booking.id


async def test_delete_removes_an_unbooked_service_and_deactivates_a_booked_one(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    coach, trainer_id = await _coach(http, db, client_a)
    member = await make_user(http, db, client_a, "member@example.com")
    unbooked = _data(
        await http.post("/trainer/services", json=VIDEO_PT, headers=coach.headers), 201
    )
    booked = _data(
        await http.post(
            "/trainer/services", json={**VIDEO_PT, "name": "Booked"}, headers=coach.headers
        ),
        201,
    )
    booking_id = await _book(db, client_a, trainer_id, booked["id"], member.id)

    gone = _data(await http.delete(f"/trainer/services/{unbooked['id']}", headers=coach.headers))
    assert gone == {"id": unbooked["id"], "outcome": "deleted", "service": None}
    _error(
        await http.get(f"/trainer/services/{unbooked['id']}", headers=coach.headers),
        404,
        "NOT_FOUND",
    )

    kept = _data(await http.delete(f"/trainer/services/{booked['id']}", headers=coach.headers))
    assert kept["outcome"] == "deactivated"
    assert kept["service"] == {**booked, "isActive": False}
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        booking = await session.get(Booking, booking_id)
        assert booking is not None
        assert booking.service_id == booked["id"]
    public = _data(await http.get(f"/trainers/{trainer_id}/services", headers=client_a.headers))
    assert public["items"] == []
    profile = _data(await http.get(f"/trainers/{trainer_id}", headers=client_a.headers))
    assert (profile["services"], profile["servicesCount"], profile["fromPrice"]) == ([], 0, None)
    # Deleting a deactivated, booked service again stays a deactivation.
    again = _data(await http.delete(f"/trainer/services/{booked['id']}", headers=coach.headers))
    assert again["outcome"] == "deactivated"


async def test_a_trainer_touches_only_their_own_services(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    coach, _ = await _coach(http, db, client_a)
    rival, _ = await _coach(http, db, client_a, "rival@example.com")
    foreign, _ = await _coach(http, db, client_b, "foreign@example.com")
    mine = _data(await http.post("/trainer/services", json=VIDEO_PT, headers=coach.headers), 201)
    theirs = _data(
        await http.post("/trainer/services", json=VIDEO_PT, headers=foreign.headers), 201
    )

    for user, service_id in ((rival, mine["id"]), (coach, theirs["id"]), (coach, 999_999)):
        url = f"/trainer/services/{service_id}"
        _error(await http.get(url, headers=user.headers), 404, "NOT_FOUND")
        _error(
            await http.patch(url, json={"name": "Mine now"}, headers=user.headers), 404, "NOT_FOUND"
        )
        _error(await http.delete(url, headers=user.headers), 404, "NOT_FOUND")
    assert _data(await http.get("/trainer/services", headers=rival.headers))["items"] == []
    still = _data(await http.get(f"/trainer/services/{mine['id']}", headers=coach.headers))
    assert still == mine
    assert await _services_in_db(db, client_a) == 1
    assert await _services_in_db(db, client_b) == 1


async def test_members_and_unlinked_trainers_cannot_manage_services(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    unlinked = await make_user(http, db, client_a, "new@example.com", role="trainer")
    for user in (member, unlinked):
        _error(
            await http.post("/trainer/services", json=VIDEO_PT, headers=user.headers),
            403,
            "FORBIDDEN",
        )
        _error(await http.get("/trainer/services", headers=user.headers), 403, "FORBIDDEN")
    assert await _services_in_db(db, client_a) == 0
