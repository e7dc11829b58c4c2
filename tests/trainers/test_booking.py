"""Availability, booking, the member's bookings, cancelling, rescheduling and booking mails,
through the HTTP API (/trainers/{id}/availability, /trainers/{id}/book, /bookings/*)."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import icalendar
from fastapi import FastAPI
from sqlalchemy import select

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import (
    AvailabilityOverride,
    AvailabilityRule,
    Booking,
    Client,
    OutboxMail,
    TimeOff,
    Trainer,
    TrainerService,
)
from tests.support.factories import TestClient, TestUser, make_user
from tests.support.statements import count_statements


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def minutes_id(moment: datetime) -> int:
    return int(moment.timestamp()) // 60


def _data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["code"] == code
    return body


async def _setup(
    db: Database,
    client: TestClient,
    *,
    trainer_user_id: int | None = None,
    zone: str | None = "Europe/London",
    hours: tuple[str, str] = ("09:00", "17:00"),
    weekdays: range = range(7),
    **service_fields: Any,
) -> tuple[int, int]:
    """A trainer with weekly hours every day and one service; (trainer id, service id)."""
    fields: dict[str, Any] = {
        "name": "PT session",
        "duration_minutes": 60,
        "price_minor": 4500,
        "currency": "GBP",
        "mode": "video",
        "min_notice_minutes": 120,
        "max_days_ahead": 60,
        "cancellation_window_hours": 24,
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
    }
    fields.update(service_fields)
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        trainer = Trainer(name="Maya Moves", time_zone=zone, user_id=trainer_user_id)
        session.add(trainer)
        await session.flush()
        for weekday in weekdays:
            session.add(
                AvailabilityRule(
                    trainer_id=trainer.id,
                    weekday=weekday,
                    start_time=time.fromisoformat(hours[0]),
                    end_time=time.fromisoformat(hours[1]),
                )
            )
        service = TrainerService(trainer_id=trainer.id, **fields)
        session.add(service)
        await session.flush()
        return trainer.id, service.id


async def _slots(
    http: httpx.AsyncClient, user: TestUser, trainer_id: int, service_id: int, **params: Any
) -> list[dict[str, Any]]:
    query = {"serviceId": service_id, **params}
    data = _data(
        await http.get(f"/trainers/{trainer_id}/availability", params=query, headers=user.headers)
    )
    slots: list[dict[str, Any]] = data["slots"]
    return slots


async def _book(
    http: httpx.AsyncClient,
    user: TestUser,
    trainer_id: int,
    body: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await http.post(
        f"/trainers/{trainer_id}/book", json=body, headers={**user.headers, **(headers or {})}
    )


async def _relogin(http: httpx.AsyncClient, user: TestUser) -> TestUser:
    """A fresh access token (tests move the clock past the 15-minute ones)."""
    response = await http.post(
        "/auth/login",
        json={"email": user.email, "password": user.password},
        headers=user.client.headers,
    )
    data = _data(response)
    return TestUser(
        id=user.id,
        client=user.client,
        email=user.email,
        password=user.password,
        role=user.role,
        access_token=data["accessToken"],
        refresh_token=data["refreshToken"],
    )


async def _mails(db: Database, client: TestClient) -> list[OutboxMail]:
    async with db.transaction(TenantScope.for_client(client.id), write=False) as session:
        return list(await session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def _ics(mail: OutboxMail) -> icalendar.Event:
    (attachment,) = mail.attachments
    assert attachment["contentType"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(base64.b64decode(attachment["content"]))
    (event,) = calendar.walk("VEVENT")
    assert isinstance(event, icalendar.Event)
    event.calendar_method = str(calendar["METHOD"])  # type: ignore[attr-defined]
    return event


# --- availability -----------------------------------------------------------------------------


async def test_availability_lists_slots_of_the_day_in_the_trainers_zone(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    clock.advance(timedelta(days=181))  # 1 July 2026, summer time
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(db, client_a)
    response = await http.get(
        f"/trainers/{trainer_id}/availability",
        params={"serviceId": service_id, "from": "2026-07-06", "to": "2026-07-06"},
        headers=member.headers,
    )
    data = _data(response)
    assert data["timeZone"] == "Europe/London"
    assert data["viewerTimeZone"] == "Europe/London"  # the client's zone: no profile zone
    assert data["from"] == "2026-07-05T23:00:00Z"
    assert data["to"] == "2026-07-06T23:00:00Z"
    assert data["durationMinutes"] == 60
    slots = data["slots"]
    # 09:00-17:00 BST, one-hour sessions: 08:00Z to 15:00Z every quarter hour.
    assert len(slots) == 29
    assert slots[0] == {
        "slotId": minutes_id(utc(2026, 7, 6, 8)),
        "start": "2026-07-06T08:00:00Z",
        "end": "2026-07-06T09:00:00Z",
    }
    assert slots[-1]["start"] == "2026-07-06T15:00:00Z"


async def test_availability_reads_dates_in_a_given_zone_and_defaults_to_30_days(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(db, client_a, hours=("09:00", "10:00"))
    params: dict[str, Any] = {"serviceId": service_id, "from": "2026-01-10", "to": "2026-01-10"}
    data = _data(
        await http.get(
            f"/trainers/{trainer_id}/availability",
            params={**params, "timeZone": "Asia/Tokyo"},
            headers=member.headers,
        )
    )
    assert data["viewerTimeZone"] == "Asia/Tokyo"
    assert data["from"] == "2026-01-09T15:00:00Z"  # midnight in Tokyo
    assert [s["start"] for s in data["slots"]] == ["2026-01-10T09:00:00Z"]
    # No window: the next 30 days from now, notice applied (now is 1 Jan 00:00Z).
    slots = await _slots(http, member, trainer_id, service_id)
    assert slots[0]["start"] == "2026-01-01T09:00:00Z"
    assert slots[-1]["start"] == "2026-01-30T09:00:00Z"
    assert len(slots) == 30


async def test_availability_across_daylight_saving_changes(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    clock.advance(timedelta(days=60))  # 2 March 2026
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(
        db, client_a, zone="America/New_York", hours=("01:00", "04:00"), max_days_ahead=365
    )
    # Sunday 8 March: New York springs forward at 02:00 local (07:00Z).
    slots = await _slots(
        http, member, trainer_id, service_id, **{"from": "2026-03-08", "to": "2026-03-08"}
    )
    assert [s["start"] for s in slots] == [
        "2026-03-08T06:00:00Z",
        "2026-03-08T06:15:00Z",
        "2026-03-08T06:30:00Z",
        "2026-03-08T06:45:00Z",
        "2026-03-08T07:00:00Z",
    ]
    # Sunday 29 March: London springs forward; the trainer's New York hours are unaffected.
    london = await _slots(
        http, member, trainer_id, service_id, **{"from": "2026-03-29", "to": "2026-03-29"}
    )
    assert london[0]["start"] == "2026-03-29T05:00:00Z"  # 01:00 EDT
    # Sunday 1 November: New York falls back; 01:00-02:00 local happens twice, both bookable.
    autumn = await _slots(
        http,
        member,
        trainer_id,
        service_id,
        **{"from": "2026-11-01", "to": "2026-11-01", "timeZone": "America/New_York"},
    )
    starts = [s["start"] for s in autumn]
    assert starts[0] == "2026-11-01T05:00:00Z"  # the first 01:00 (EDT)
    assert "2026-11-01T06:00:00Z" in starts  # the second 01:00 (EST)
    assert starts[-1] == "2026-11-01T08:00:00Z"  # 03:00 EST, ending 04:00 EST
    assert len({s["slotId"] for s in autumn}) == len(autumn) == 13
    second_one_am = next(s for s in autumn if s["start"] == "2026-11-01T06:00:00Z")
    booked = _data(
        await _book(
            http, member, trainer_id, {"serviceId": service_id, "slotId": second_one_am["slotId"]}
        ),
        201,
    )
    assert booked["startTime"] == "2026-11-01T06:00:00Z"
    assert booked["timeZone"] == "America/New_York"


async def test_overrides_and_time_off_shape_the_slots(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(db, client_a, hours=("09:00", "12:00"))
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        session.add_all(
            [
                AvailabilityOverride(
                    trainer_id=trainer_id,
                    day=date(2026, 1, 5),
                    windows=[{"start": "18:00", "end": "19:30"}],
                ),
                AvailabilityOverride(trainer_id=trainer_id, day=date(2026, 1, 6), windows=[]),
                TimeOff(
                    trainer_id=trainer_id,
                    starts_at=utc(2026, 1, 7, 10),
                    ends_at=utc(2026, 1, 8, 10, 30),
                    reason="Course",
                ),
            ]
        )
    slots = await _slots(
        http, member, trainer_id, service_id, **{"from": "2026-01-05", "to": "2026-01-08"}
    )
    by_day: dict[str, list[str]] = {}
    for slot in slots:
        by_day.setdefault(slot["start"][:10], []).append(slot["start"][11:16])
    assert by_day["2026-01-05"] == ["18:00", "18:15", "18:30"]
    assert "2026-01-06" not in by_day
    assert by_day["2026-01-07"] == ["09:00"]  # the time off starts at 10:00
    assert by_day["2026-01-08"] == ["10:30", "10:45", "11:00"]


async def test_availability_validation(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(db, client_a)
    other_trainer, other_service = await _setup(db, client_a)
    path = f"/trainers/{trainer_id}/availability"

    async def get(**params: Any) -> httpx.Response:
        return await http.get(path, params=params, headers=member.headers)

    _error(await get(), 400, "VALIDATION_ERROR")  # serviceId is required
    _error(await get(serviceId="x"), 400, "VALIDATION_ERROR")
    bad = [
        {"from": "2026-01-10", "to": "2026-01-09"},
        {"from": "2026-01-01", "to": "2026-03-05"},  # 63 days
        {"from": "2026-02-30"},
        {"from": "next week"},
        {"from": "2026-01-05T09:00:00"},  # an instant without a zone
        {"timeZone": "Mars/Olympus"},
    ]
    for params in bad:
        body = _error(await get(serviceId=service_id, **params), 400, "VALIDATION_ERROR")
        assert body["details"][0]["field"] in {"from", "to", "timeZone"}, params
    assert _data(await get(serviceId=service_id, **{"from": "2026-01-01", "to": "2026-03-03"}))
    _error(await get(serviceId=other_service), 404, "NOT_FOUND")  # another trainer's service
    _error(
        await http.get(
            f"/trainers/{other_trainer}/availability",
            params={"serviceId": service_id},
            headers=member.headers,
        ),
        404,
        "NOT_FOUND",
    )
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        service = await session.get(TrainerService, service_id)
        assert service is not None
        service.is_active = False
    _error(await get(serviceId=service_id), 404, "NOT_FOUND")
    _error(await http.get(path, params={"serviceId": service_id}), 401, "API_KEY_REQUIRED")
    _error(
        await http.get(path, params={"serviceId": service_id}, headers=client_a.headers),
        401,
        "UNAUTHORIZED",
    )


async def test_a_thirty_day_query_runs_a_constant_number_of_statements(
    app: FastAPI, http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(db, client_a, buffer_after_minutes=15)
    path = f"/trainers/{trainer_id}/availability"
    params: dict[str, Any] = {"serviceId": service_id, "from": "2026-01-02", "to": "2026-01-03"}
    with count_statements(app) as short:
        _data(await http.get(path, params=params, headers=member.headers))
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        for day in range(2, 30):
            session.add(
                AvailabilityOverride(
                    trainer_id=trainer_id,
                    day=date(2026, 1, day),
                    windows=[{"start": "08:00", "end": "18:00"}],
                )
            )
            session.add(
                TimeOff(
                    trainer_id=trainer_id,
                    starts_at=utc(2026, 1, day, 12),
                    ends_at=utc(2026, 1, day, 13),
                )
            )
    for day in range(2, 30):
        start = utc(2026, 1, day, 9)
        body = {"serviceId": service_id, "slotId": minutes_id(start)}
        _data(await _book(http, member, trainer_id, body), 201)
    params = {"serviceId": service_id, "from": "2026-01-02", "to": "2026-01-31"}
    with count_statements(app) as long:
        started = asyncio.get_running_loop().time()
        slots = _data(await http.get(path, params=params, headers=member.headers))["slots"]
        elapsed = asyncio.get_running_loop().time() - started
    assert len(long) == len(short)
    assert len(slots) > 28 * 20
    booked_nine = [
        s for s in slots if s["start"] < "2026-01-30" and s["start"].endswith("T09:00:00Z")
    ]
    assert booked_nine == []
    assert "2026-01-30T09:00:00Z" in {s["start"] for s in slots}
    assert elapsed < 1.0


async def test_coach_connect_gates_booking(
    app: FastAPI, http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(db, client_a)
    async with db.transaction(TenantScope.for_platform()) as session:
        client = await session.get(Client, client_a.id)
        assert client is not None
        client.enabled_features = [f for f in client.enabled_features if f != "coach_connect"]
    app.state.authenticator.invalidate()
    _error(
        await http.get(
            f"/trainers/{trainer_id}/availability",
            params={"serviceId": service_id},
            headers=member.headers,
        ),
        403,
        "FEATURE_DISABLED",
    )
    _error(await http.get("/bookings", headers=member.headers), 403, "FEATURE_DISABLED")
    body = {"serviceId": service_id, "startTime": "2026-01-05T10:00:00Z"}
    _error(await _book(http, member, trainer_id, body), 403, "FEATURE_DISABLED")


# --- booking ----------------------------------------------------------------------------------


async def test_book_a_listed_slot_and_read_it_back_with_mails(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com", name="Sam Member")
    coach = await make_user(http, db, client_a, "maya@example.com", role="trainer")
    trainer_id, service_id = await _setup(db, client_a, trainer_user_id=coach.id)
    slots = await _slots(
        http, member, trainer_id, service_id, **{"from": "2026-01-05", "to": "2026-01-05"}
    )
    chosen = slots[4]  # 10:00Z
    response = await _book(
        http,
        member,
        trainer_id,
        {"serviceId": service_id, "slotId": chosen["slotId"], "notes": "Knee"},
    )
    booking = _data(response, 201)
    assert booking["trainerId"] == trainer_id
    assert booking["userId"] == member.id
    assert booking["serviceId"] == service_id
    assert booking["status"] == "confirmed"
    assert booking["scheduledDate"] == booking["startTime"] == "2026-01-05T10:00:00Z"
    assert booking["endTime"] == "2026-01-05T11:00:00Z"
    assert booking["durationMinutes"] == 60
    assert booking["timeZone"] == "Europe/London"
    assert booking["price"] == "45.00"
    assert booking["currency"] == "GBP"
    assert booking["mode"] == "video"
    assert booking["notes"] == "Knee"
    assert booking["serviceName"] == "PT session"
    assert booking["trainer"] == {"id": trainer_id, "name": "Maya Moves", "imageUrl": None}
    assert booking["room"].startswith("bk_")
    assert booking["cancellationDeadline"] == "2026-01-04T10:00:00Z"
    assert booking["canCancelFreely"] is True
    assert booking["lateCancellation"] is False
    assert booking["cancelledAt"] is None

    after = await _slots(
        http, member, trainer_id, service_id, **{"from": "2026-01-05", "to": "2026-01-05"}
    )
    taken = {s["start"] for s in slots} - {s["start"] for s in after}
    # The hour 10:00-11:00 is taken: every one-hour slot overlapping it is gone.
    assert taken == {
        f"2026-01-05T{t}:00Z"
        for t in ["09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45"]
    }

    one = _data(await http.get(f"/bookings/{booking['id']}", headers=member.headers))
    assert one == booking
    listed = _data(await http.get("/bookings", headers=member.headers))
    assert [b["id"] for b in listed["items"]] == [booking["id"]]
    assert listed["pagination"] == {"page": 1, "limit": 20, "total": 1, "totalPages": 1}

    mails = await _mails(db, client_a)
    assert sorted(m.to_address for m in mails) == ["maya@example.com", "member@example.com"]
    assert {m.template for m in mails} == {"booking_confirmation"}
    to_member = next(m for m in mails if m.to_address == "member@example.com")
    assert "Maya Moves" in to_member.body_text
    assert "Monday 05 January 2026, 10:00 (Europe/London)" in to_member.subject
    to_trainer = next(m for m in mails if m.to_address == "maya@example.com")
    assert "Sam Member" in to_trainer.body_text
    event = _ics(to_member)
    assert event.calendar_method == "REQUEST"  # type: ignore[attr-defined]
    assert event.decoded("dtstart") == utc(2026, 1, 5, 10)
    assert event.decoded("dtend") == utc(2026, 1, 5, 11)
    assert str(event["summary"]) == "PT session with Maya Moves"
    assert "video" in str(event["description"]).lower()
    assert int(str(event["sequence"])) == 0
    assert str(event["status"]) == "CONFIRMED"
    assert str(event["uid"]) == str(_ics(to_trainer)["uid"])
    assert (
        "\r\nDTSTART:20260105T100000Z\r\n"
        in base64.b64decode(to_member.attachments[0]["content"]).decode()
    )


async def test_book_by_start_time_and_in_person_location(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(
        db, client_a, mode="in_person", location="Studio 2, 1 High St", price_minor=3050
    )
    booking = _data(
        await _book(
            http,
            member,
            trainer_id,
            {"serviceId": service_id, "startTime": "2026-01-06T14:30:00+01:00"},
        ),
        201,
    )
    assert booking["startTime"] == "2026-01-06T13:30:00Z"
    assert booking["price"] == "30.50"
    assert booking["room"] is None
    (mail,) = await _mails(db, client_a)  # the trainer has no login: only the member
    event = _ics(mail)
    assert str(event["location"]) == "Studio 2, 1 High St"
    assert "Studio 2, 1 High St" in mail.body_text


async def test_book_validation(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(db, client_a)
    slot = minutes_id(utc(2026, 1, 5, 10))
    bodies: list[dict[str, Any]] = [
        {"serviceId": service_id},  # neither
        {"serviceId": service_id, "slotId": slot, "startTime": "2026-01-05T10:00:00Z"},  # both
        {"serviceId": service_id, "startTime": "2026-01-05T10:00:00"},  # no zone
        {"serviceId": service_id, "startTime": 1767607200},  # not an ISO instant
        {"serviceId": service_id, "slotId": slot, "price": "0.00"},  # unknown field
        {"serviceId": service_id, "slotId": -3},
        {"serviceId": service_id, "slotId": slot, "notes": "x" * 2001},
        {"slotId": slot},
    ]
    for body in bodies:
        _error(await _book(http, member, trainer_id, body), 400, "VALIDATION_ERROR")
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        assert list(await session.scalars(select(Booking))) == []


async def test_book_refuses_what_is_not_a_slot(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    clock.advance(timedelta(days=4, hours=8))  # Monday 5 January, 08:00Z
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(db, client_a, max_days_ahead=10)
    refused = [
        utc(2026, 1, 6, 10, 5),  # not on a quarter hour
        utc(2026, 1, 6, 8),  # before the hours
        utc(2026, 1, 6, 16, 15),  # would run past 17:00
        utc(2026, 1, 5, 9, 45),  # inside the two hours' notice
        utc(2026, 1, 15, 10),  # beyond ten days ahead
        utc(2026, 1, 1, 10),  # in the past
    ]
    for start in refused:
        _error(
            await _book(
                http, member, trainer_id, {"serviceId": service_id, "slotId": minutes_id(start)}
            ),
            409,
            "SLOT_UNAVAILABLE",
        )
    _error(
        await _book(http, member, trainer_id, {"serviceId": service_id, "slotId": 5}),
        409,
        "SLOT_UNAVAILABLE",
    )
    ok = _data(
        await _book(
            http,
            member,
            trainer_id,
            {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 10))},
        ),
        201,
    )
    assert ok["startTime"] == "2026-01-05T10:00:00Z"
    # Taken now, and so is anything overlapping it.
    for start in (utc(2026, 1, 5, 10), utc(2026, 1, 5, 10, 45), utc(2026, 1, 5, 9, 15)):
        _error(
            await _book(
                http, member, trainer_id, {"serviceId": service_id, "slotId": minutes_id(start)}
            ),
            409,
            "SLOT_UNAVAILABLE",
        )


async def test_booking_is_idempotent(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(db, client_a)
    body = {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 10))}
    key = {"Idempotency-Key": "book-once-1"}
    first = await _book(http, member, trainer_id, body, headers=key)
    again = await _book(http, member, trainer_id, body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    other = {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 13))}
    _error(await _book(http, member, trainer_id, other, headers=key), 409, "IDEMPOTENCY_CONFLICT")
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        assert len(list(await session.scalars(select(Booking)))) == 1
    assert len(await _mails(db, client_a)) == 1


async def test_fifty_concurrent_bookings_of_one_slot_make_one_booking(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    members = [await make_user(http, db, client_a, f"racer{i}@example.com") for i in range(50)]
    trainer_id, service_id = await _setup(db, client_a)
    body = {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 10))}
    responses = await asyncio.gather(*(_book(http, m, trainer_id, body) for m in members))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 49, [
        r.text for r in responses if r.status_code not in (201, 409)
    ]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "SLOT_UNAVAILABLE"
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        assert len(list(await session.scalars(select(Booking)))) == 1
    assert len(await _mails(db, client_a)) == 1


async def test_overlapping_slots_race_and_only_one_wins(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    members = [await make_user(http, db, client_a, f"racer{i}@example.com") for i in range(20)]
    # 10:00-11:00 plus 30 minutes after it blocks 11:15 (its own buffers are clear of 11:00).
    trainer_id, service_id = await _setup(db, client_a, buffer_after_minutes=30)
    early = {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 10))}
    late = {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 11, 30))}
    clash = {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 11, 15))}
    assert late["slotId"] - early["slotId"] == 90
    calls = [_book(http, m, trainer_id, early if i % 2 else clash) for i, m in enumerate(members)]
    responses = await asyncio.gather(*calls)
    assert sorted(r.status_code for r in responses) == [201] + [409] * 19
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        (winner,) = list(await session.scalars(select(Booking)))
    assert winner.blocked_until - winner.ends_at == timedelta(minutes=30)
    if winner.starts_at == utc(2026, 1, 5, 10):
        # 11:30 starts when the winner's buffer ends: still free.
        _data(await _book(http, members[0], trainer_id, late), 201)


# --- the member's bookings --------------------------------------------------------------------


async def test_list_upcoming_and_past_with_status_filter_and_paging(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    other = await make_user(http, db, client_a, "other@example.com")
    trainer_id, service_id = await _setup(db, client_a)
    ids = []
    for day in (5, 7, 6):
        start = utc(2026, 1, day, 10)
        ids.append(
            _data(
                await _book(
                    http, member, trainer_id, {"serviceId": service_id, "slotId": minutes_id(start)}
                ),
                201,
            )["id"]
        )
    _data(
        await _book(
            http,
            other,
            trainer_id,
            {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 8, 10))},
        ),
        201,
    )
    upcoming = _data(await http.get("/bookings", params={"limit": 2}, headers=member.headers))
    assert [b["startTime"][:10] for b in upcoming["items"]] == ["2026-01-05", "2026-01-06"]
    assert upcoming["pagination"] == {"page": 1, "limit": 2, "total": 3, "totalPages": 2}
    _data(await http.post(f"/bookings/{ids[1]}/cancel", headers=member.headers))

    clock.advance(timedelta(days=5, hours=12))  # 6 January 12:00Z: the 5th and 6th are over
    member = await _relogin(http, member)
    past = _data(await http.get("/bookings", params={"when": "past"}, headers=member.headers))
    assert [b["startTime"][:10] for b in past["items"]] == ["2026-01-06", "2026-01-05"]
    upcoming = _data(await http.get("/bookings", headers=member.headers))
    assert [(b["startTime"][:10], b["status"]) for b in upcoming["items"]] == [
        ("2026-01-07", "cancelled")
    ]
    cancelled = _data(
        await http.get("/bookings", params={"status": "cancelled"}, headers=member.headers)
    )
    assert [b["id"] for b in cancelled["items"]] == [ids[1]]
    confirmed = _data(
        await http.get(
            "/bookings", params={"when": "past", "status": "confirmed"}, headers=member.headers
        )
    )
    assert len(confirmed["items"]) == 2
    _error(
        await http.get("/bookings", params={"when": "soon"}, headers=member.headers),
        400,
        "VALIDATION_ERROR",
    )
    _error(
        await http.get("/bookings", params={"status": "gone"}, headers=member.headers),
        400,
        "VALIDATION_ERROR",
    )


# --- cancelling -------------------------------------------------------------------------------


async def test_cancel_in_good_time_frees_the_slot_and_mails_a_cancel(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    coach = await make_user(http, db, client_a, "maya@example.com", role="trainer")
    trainer_id, service_id = await _setup(db, client_a, trainer_user_id=coach.id)
    slot = minutes_id(utc(2026, 1, 5, 10))
    booking = _data(
        await _book(http, member, trainer_id, {"serviceId": service_id, "slotId": slot}), 201
    )
    cancelled = _data(
        await http.post(
            f"/bookings/{booking['id']}/cancel",
            json={"reason": "Travelling"},
            headers=member.headers,
        )
    )
    assert cancelled["status"] == "cancelled"
    assert cancelled["lateCancellation"] is False
    assert cancelled["cancelledBy"] == "user"
    assert cancelled["cancelReason"] == "Travelling"
    assert cancelled["cancelledAt"] == "2026-01-01T00:00:00Z"
    assert cancelled["canCancelFreely"] is False
    _error(
        await http.post(f"/bookings/{booking['id']}/cancel", headers=member.headers),
        409,
        "INVALID_STATE_TRANSITION",
    )
    slots = await _slots(
        http, member, trainer_id, service_id, **{"from": "2026-01-05", "to": "2026-01-05"}
    )
    assert slot in {s["slotId"] for s in slots}
    mails = [m for m in await _mails(db, client_a) if m.template == "booking_cancellation"]
    assert sorted(m.to_address for m in mails) == ["maya@example.com", "member@example.com"]
    confirmation = next(
        m for m in await _mails(db, client_a) if m.template == "booking_confirmation"
    )
    event = _ics(mails[0])
    assert event.calendar_method == "CANCEL"  # type: ignore[attr-defined]
    assert str(event["status"]) == "CANCELLED"
    assert str(event["uid"]) == str(_ics(confirmation)["uid"])
    assert int(str(event["sequence"])) == 1
    assert "Travelling" in mails[0].body_text
    # The slot can be booked again.
    _data(await _book(http, member, trainer_id, {"serviceId": service_id, "slotId": slot}), 201)


async def test_late_cancellation_is_recorded_and_a_started_session_cannot_be_cancelled(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(db, client_a)
    first = _data(
        await _book(
            http,
            member,
            trainer_id,
            {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 10))},
        ),
        201,
    )
    second = _data(
        await _book(
            http,
            member,
            trainer_id,
            {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 12))},
        ),
        201,
    )
    clock.advance(timedelta(days=4, hours=1))  # 5 January 01:00Z: inside the 24 hours
    member = await _relogin(http, member)
    seen = _data(await http.get(f"/bookings/{first['id']}", headers=member.headers))
    assert seen["canCancelFreely"] is False
    late = _data(
        await http.post(f"/bookings/{first['id']}/cancel", json={}, headers=member.headers)
    )
    assert late["status"] == "cancelled"
    assert late["lateCancellation"] is True
    (mail,) = [m for m in await _mails(db, client_a) if m.template == "booking_cancellation"]
    assert "late cancellation" in mail.body_text
    clock.advance(timedelta(hours=11, minutes=5))  # 12:05Z: the second session has started
    member = await _relogin(http, member)
    _error(
        await http.post(f"/bookings/{second['id']}/cancel", headers=member.headers),
        409,
        "BOOKING_WINDOW_CLOSED",
    )


# --- rescheduling -----------------------------------------------------------------------------


async def test_reschedule_takes_the_new_slot_then_frees_the_old(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    rival = await make_user(http, db, client_a, "rival@example.com")
    trainer_id, service_id = await _setup(db, client_a)
    old = _data(
        await _book(
            http,
            member,
            trainer_id,
            {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 10))},
        ),
        201,
    )
    taken = minutes_id(utc(2026, 1, 6, 10))
    _data(await _book(http, rival, trainer_id, {"serviceId": service_id, "slotId": taken}), 201)
    path = f"/bookings/{old['id']}/reschedule"
    _error(
        await http.post(path, json={"slotId": taken}, headers=member.headers),
        409,
        "SLOT_UNAVAILABLE",
    )
    _error(await http.post(path, json={}, headers=member.headers), 400, "VALIDATION_ERROR")
    _error(
        await http.post(
            path, json={"slotId": minutes_id(utc(2026, 1, 5, 10))}, headers=member.headers
        ),
        400,
        "VALIDATION_ERROR",
    )

    # 30 minutes later overlaps the booking itself: fine, it is the one being moved.
    moved = _data(
        await http.post(path, json={"startTime": "2026-01-05T10:30:00Z"}, headers=member.headers)
    )
    assert moved["id"] != old["id"]
    assert moved["status"] == "confirmed"
    assert moved["startTime"] == "2026-01-05T10:30:00Z"
    assert moved["rescheduledFromId"] == old["id"]
    assert moved["price"] == old["price"]
    before = _data(await http.get(f"/bookings/{old['id']}", headers=member.headers))
    assert before["status"] == "cancelled"
    assert before["cancelReason"] == "rescheduled"
    assert before["lateCancellation"] is False
    _error(
        await http.post(path, json={"slotId": taken}, headers=member.headers),
        409,
        "INVALID_STATE_TRANSITION",
    )

    # Moved again: the calendar file keeps the first booking's UID, one sequence further.
    again = _data(
        await http.post(
            f"/bookings/{moved['id']}/reschedule",
            json={"slotId": minutes_id(utc(2026, 1, 7, 15))},
            headers=member.headers,
        )
    )
    mails = [m for m in await _mails(db, client_a) if m.to_address == "member@example.com"]
    assert [m.template for m in mails] == [
        "booking_confirmation",
        "booking_rescheduled",
        "booking_rescheduled",
    ]
    events = [_ics(m) for m in mails]
    assert len({str(e["uid"]) for e in events}) == 1
    assert [int(str(e["sequence"])) for e in events] == [0, 1, 2]
    assert events[-1].decoded("dtstart") == utc(2026, 1, 7, 15)
    assert all(e.calendar_method == "REQUEST" for e in events)  # type: ignore[attr-defined]
    # The old times are free again; the new one is not.
    slots = {
        s["start"]
        for s in await _slots(
            http, member, trainer_id, service_id, **{"from": "2026-01-05", "to": "2026-01-07"}
        )
    }
    assert "2026-01-05T10:00:00Z" in slots
    assert "2026-01-05T10:30:00Z" in slots
    assert "2026-01-07T15:00:00Z" not in slots
    listed = _data(
        await http.get("/bookings", params={"status": "confirmed"}, headers=member.headers)
    )
    assert [b["id"] for b in listed["items"]] == [again["id"]]


async def test_reschedule_is_refused_inside_the_cancellation_window(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(db, client_a)
    booking = _data(
        await _book(
            http,
            member,
            trainer_id,
            {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 10))},
        ),
        201,
    )
    clock.advance(timedelta(days=3, hours=11))  # 4 January 11:00Z: 23 hours to go
    member = await _relogin(http, member)
    _error(
        await http.post(
            f"/bookings/{booking['id']}/reschedule",
            json={"slotId": minutes_id(utc(2026, 1, 8, 10))},
            headers=member.headers,
        ),
        409,
        "BOOKING_WINDOW_CLOSED",
    )
    still = _data(await http.get(f"/bookings/{booking['id']}", headers=member.headers))
    assert still["status"] == "confirmed"


# --- isolation --------------------------------------------------------------------------------


async def test_other_clients_and_other_members_get_404(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    clock: FrozenClock,
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    neighbour = await make_user(http, db, client_a, "neighbour@example.com")
    stranger = await make_user(http, db, client_b, "stranger@example.com")
    trainer_id, service_id = await _setup(db, client_a)
    b_trainer, b_service = await _setup(db, client_b)
    booking = _data(
        await _book(
            http,
            member,
            trainer_id,
            {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 10))},
        ),
        201,
    )
    path = f"/trainers/{trainer_id}/availability"
    _error(
        await http.get(path, params={"serviceId": service_id}, headers=stranger.headers),
        404,
        "NOT_FOUND",
    )
    _error(
        await _book(
            http,
            stranger,
            trainer_id,
            {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 12))},
        ),
        404,
        "NOT_FOUND",
    )
    # Client A's member cannot use client B's service with client A's trainer, nor B's trainer.
    _error(
        await _book(
            http,
            member,
            trainer_id,
            {"serviceId": b_service, "slotId": minutes_id(utc(2026, 1, 5, 12))},
        ),
        404,
        "NOT_FOUND",
    )
    _error(
        await http.get(
            f"/trainers/{b_trainer}/availability",
            params={"serviceId": b_service},
            headers=member.headers,
        ),
        404,
        "NOT_FOUND",
    )
    for user in (stranger, neighbour):
        _error(await http.get(f"/bookings/{booking['id']}", headers=user.headers), 404, "NOT_FOUND")
        _error(
            await http.post(f"/bookings/{booking['id']}/cancel", headers=user.headers),
            404,
            "NOT_FOUND",
        )
        _error(
            await http.post(
                f"/bookings/{booking['id']}/reschedule",
                json={"slotId": minutes_id(utc(2026, 1, 6, 10))},
                headers=user.headers,
            ),
            404,
            "NOT_FOUND",
        )
        assert _data(await http.get("/bookings", headers=user.headers))["items"] == []
    # Client A's token with client B's key is refused outright.
    crossed = {**client_b.headers, "Authorization": f"Bearer {member.access_token}"}
    _error(await http.get("/bookings", headers=crossed), 401, "UNAUTHORIZED")
    still = _data(await http.get(f"/bookings/{booking['id']}", headers=member.headers))
    assert still["status"] == "confirmed"


async def test_booking_out_finds_the_trainer_already_in_the_session(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    from stvos.trainers.bookings import booking_out

    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _setup(db, client_a)
    body = {"serviceId": service_id, "slotId": minutes_id(utc(2026, 1, 5, 10))}
    booked = _data(await _book(http, member, trainer_id, body), 201)
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        booking = await session.get(Booking, booked["id"])
        assert booking is not None
        bare = booking_out(booking)
        assert bare["trainer"] == {"id": trainer_id, "name": None, "image_url": None}
        assert bare["time_zone"] is None
        trainer = await session.get(Trainer, trainer_id)  # held: the identity map is weak
        known = booking_out(booking)
        assert trainer is not None
    assert known["trainer"]["name"] == "Maya Moves"
    assert known["time_zone"] == "Europe/London"
    assert known["price"] == "45.00"
