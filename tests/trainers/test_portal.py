"""The trainer portal's calendar and bookings: /trainer/availability (weekly rules, overrides),
/trainer/time-off, /trainer/bookings, /trainer/clients."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import AvailabilityRule, Booking, OutboxMail, TimeOff
from tests.support.factories import TestClient, make_client, make_user
from tests.trainers.portal_support import Coach, add_booking, data, error, make_coach

WEEK = [
    {"weekday": 0, "start": "09:00", "end": "12:00"},
    {"weekday": "monday", "start": "13:00", "end": "17:30"},
    {"weekday": "Wednesday", "start": "18:00", "end": "24:00"},
]


@pytest.fixture
async def coach(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> Coach:
    return await make_coach(http, db, client_a, "tina@example.com")


async def _rules_in_db(db: Database, client: TestClient, trainer_id: int) -> list[tuple[Any, ...]]:
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        rows = await session.scalars(
            select(AvailabilityRule)
            .where(AvailabilityRule.trainer_id == trainer_id)
            .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time)
        )
        return [(r.weekday, r.start_time.isoformat(), r.end_time.isoformat()) for r in rows]


# --- who may use the portal -------------------------------------------------------------------


async def test_portal_needs_a_trainer_with_a_profile(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    error(await http.get("/trainer/availability", headers=member.headers), 403, "FORBIDDEN")
    orphan = await make_user(http, db, client_a, "orphan@example.com", role="trainer")
    body = error(await http.get("/trainer/bookings", headers=orphan.headers), 403, "FORBIDDEN")
    assert "profile" in body["error"]
    error(await http.get("/trainer/availability", headers=client_a.headers), 401, "UNAUTHORIZED")


async def test_portal_is_part_of_coach_connect(
    http: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    studio = await make_client(db, "No Coaching", enabled_features=["classes"])
    coach = await make_coach(http, db, studio, "t@nocoach.example.com")
    response = await http.get("/trainer/availability", headers=coach.headers)
    error(response, 403, "FEATURE_DISABLED")


# --- weekly rules -----------------------------------------------------------------------------


async def test_weekly_rules_replace_the_week(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: Coach
) -> None:
    empty = data(await http.get("/trainer/availability", headers=coach.headers))
    assert empty == {"timeZone": "Europe/London", "rules": []}

    week = data(
        await http.put("/trainer/availability", json={"rules": WEEK}, headers=coach.headers)
    )
    assert week["timeZone"] == "Europe/London"
    assert week["rules"] == [
        {"weekday": 0, "day": "monday", "start": "09:00", "end": "12:00"},
        {"weekday": 0, "day": "monday", "start": "13:00", "end": "17:30"},
        {"weekday": 2, "day": "wednesday", "start": "18:00", "end": "24:00"},
    ]
    assert data(await http.get("/trainer/availability", headers=coach.headers)) == week

    friday = [{"weekday": 4, "start": "07:15", "end": "08:45"}]
    replaced = data(
        await http.put("/trainer/availability", json={"rules": friday}, headers=coach.headers)
    )
    assert replaced["rules"] == [{"weekday": 4, "day": "friday", "start": "07:15", "end": "08:45"}]
    assert await _rules_in_db(db, client_a, coach.trainer_id) == [(4, "07:15:00", "08:45:00")]

    cleared = data(
        await http.put("/trainer/availability", json={"rules": []}, headers=coach.headers)
    )
    assert cleared["rules"] == []


async def test_weekly_rules_answer_the_trainers_own_zone(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    coach = await make_coach(http, db, client_a, "ny@example.com", time_zone="America/New_York")
    answer = data(await http.get("/trainer/availability", headers=coach.headers))
    assert answer["timeZone"] == "America/New_York"


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        (
            [
                {"weekday": 0, "start": "09:00", "end": "12:00"},
                {"weekday": 0, "start": "11:00", "end": "13:00"},
            ],
            "rules",
        ),
        ([{"weekday": 7, "start": "09:00", "end": "10:00"}], "rules.0.weekday"),
        ([{"weekday": "funday", "start": "09:00", "end": "10:00"}], "rules.0.weekday"),
        ([{"weekday": 1, "start": "25:00", "end": "26:00"}], "rules.0.start"),
        ([{"weekday": 1, "start": "9am", "end": "10:00"}], "rules.0.start"),
        ([{"weekday": 1, "start": "10:00", "end": "10:00"}], "rules.0"),
        ([{"weekday": 1, "start": "22:00", "end": "02:00"}], "rules.0"),
        ([{"weekday": 1, "start": "24:00", "end": "24:00"}], "rules.0.start"),
        ([{"weekday": 1, "start": "09:00"}], "rules.0.end"),
        ([{"weekday": 1, "start": "09:00", "end": "10:00", "extra": 1}], "rules.0.extra"),
        (
            [
                {"weekday": d % 7, "start": f"{d // 7:02d}:00", "end": f"{d // 7:02d}:30"}
                for d in range(29)
            ],
            "rules",
        ),
    ],
)
async def test_a_bad_rule_leaves_the_old_week_untouched(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    coach: Coach,
    rules: list[dict[str, Any]],
    field: str,
) -> None:
    await http.put("/trainer/availability", json={"rules": WEEK}, headers=coach.headers)
    before = await _rules_in_db(db, client_a, coach.trainer_id)
    response = await http.put("/trainer/availability", json={"rules": rules}, headers=coach.headers)
    details = error(response, 400, "VALIDATION_ERROR")["details"]
    assert any(d["field"].startswith(field) for d in details), details
    assert await _rules_in_db(db, client_a, coach.trainer_id) == before
    assert len(before) == 3


async def test_touching_windows_are_not_an_overlap(http: httpx.AsyncClient, coach: Coach) -> None:
    rules = [
        {"weekday": 3, "start": "12:00", "end": "13:00"},
        {"weekday": 3, "start": "09:00", "end": "12:00"},
        {"weekday": 4, "start": "09:00", "end": "12:00"},  # same hours, another day
    ]
    week = data(
        await http.put("/trainer/availability", json={"rules": rules}, headers=coach.headers)
    )
    assert [(r["weekday"], r["start"]) for r in week["rules"]] == [
        (3, "09:00"),
        (3, "12:00"),
        (4, "09:00"),
    ]


async def test_concurrent_week_replacements_never_mix(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: Coach
) -> None:
    weeks = [
        [{"weekday": d, "start": f"{8 + n:02d}:00", "end": f"{9 + n:02d}:00"} for d in range(5)]
        for n in range(6)
    ]
    responses = await asyncio.gather(
        *(
            http.put("/trainer/availability", json={"rules": w}, headers=coach.headers)
            for w in weeks
        )
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    stored = await _rules_in_db(db, client_a, coach.trainer_id)
    assert len(stored) == 5
    assert len({start for _, start, _ in stored}) == 1  # one of the weeks, whole


# --- date overrides ---------------------------------------------------------------------------


async def test_overrides_create_upsert_list_and_delete(
    http: httpx.AsyncClient, coach: Coach
) -> None:
    created = await http.post(
        "/trainer/availability/overrides",
        json={
            "day": "2026-01-10",
            "windows": [{"start": "14:00", "end": "16:00"}, {"start": "10:00", "end": "12:00"}],
            "note": "Cup final",
        },
        headers=coach.headers,
    )
    assert data(created, 201) == {
        "day": "2026-01-10",
        "windows": [{"start": "10:00", "end": "12:00"}, {"start": "14:00", "end": "16:00"}],
        "blocked": False,
        "note": "Cup final",
        "timeZone": "Europe/London",
    }
    again = await http.post(
        "/trainer/availability/overrides",
        json={"day": "2026-01-10", "windows": []},
        headers=coach.headers,
    )
    assert "PUT" in error(again, 409, "CONFLICT")["error"]

    replaced = await http.put(
        "/trainer/availability/overrides/2026-01-10", json={"windows": []}, headers=coach.headers
    )
    assert data(replaced) == {
        "day": "2026-01-10",
        "windows": [],
        "blocked": True,
        "note": None,
        "timeZone": "Europe/London",
    }
    new_day = await http.put(
        "/trainer/availability/overrides/2026-01-03",
        json={"windows": [{"start": "08:00", "end": "24:00"}]},
        headers=coach.headers,
    )
    assert data(new_day, 201)["windows"] == [{"start": "08:00", "end": "24:00"}]
    await http.put(
        "/trainer/availability/overrides/2026-02-01", json={"windows": []}, headers=coach.headers
    )

    listed = data(await http.get("/trainer/availability/overrides", headers=coach.headers))
    assert [o["day"] for o in listed["items"]] == ["2026-01-03", "2026-01-10", "2026-02-01"]
    assert listed["pagination"]["total"] == 3
    window = data(
        await http.get(
            "/trainer/availability/overrides?from=2026-01-04&to=2026-01-31", headers=coach.headers
        )
    )
    assert [o["day"] for o in window["items"]] == ["2026-01-10"]

    removed = await http.delete("/trainer/availability/overrides/2026-01-10", headers=coach.headers)
    assert data(removed)["blocked"] is True
    error(
        await http.delete("/trainer/availability/overrides/2026-01-10", headers=coach.headers),
        404,
        "NOT_FOUND",
    )
    listed = data(await http.get("/trainer/availability/overrides", headers=coach.headers))
    assert [o["day"] for o in listed["items"]] == ["2026-01-03", "2026-02-01"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"day": "2025-12-31", "windows": []}, "day"),  # yesterday in London
        ({"day": "2029-01-01", "windows": []}, "day"),  # too far ahead
        ({"day": "2026-13-01", "windows": []}, "day"),
        ({"day": "2026-01-05"}, "windows"),
        ({"day": "2026-01-05", "windows": [{"start": "10:00", "end": "09:00"}]}, "windows.0"),
        (
            {
                "day": "2026-01-05",
                "windows": [{"start": "09:00", "end": "11:00"}, {"start": "10:30", "end": "12:00"}],
            },
            "windows",
        ),
    ],
)
async def test_override_validation(
    http: httpx.AsyncClient, coach: Coach, body: dict[str, Any], field: str
) -> None:
    response = await http.post("/trainer/availability/overrides", json=body, headers=coach.headers)
    details = error(response, 400, "VALIDATION_ERROR")["details"]
    assert any(d["field"].startswith(field) for d in details), details
    listed = data(await http.get("/trainer/availability/overrides", headers=coach.headers))
    assert listed["items"] == []


async def test_override_day_in_the_path_is_validated(http: httpx.AsyncClient, coach: Coach) -> None:
    response = await http.put(
        "/trainer/availability/overrides/not-a-day", json={"windows": []}, headers=coach.headers
    )
    error(response, 400, "VALIDATION_ERROR")


async def test_overrides_today_counts_in_the_trainers_zone(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    # 2026-01-01 00:00 UTC is still 31 December in New York: that day is not over there yet.
    coach = await make_coach(http, db, client_a, "ny@example.com", time_zone="America/New_York")
    response = await http.put(
        "/trainer/availability/overrides/2025-12-31", json={"windows": []}, headers=coach.headers
    )
    assert data(response, 201)["timeZone"] == "America/New_York"


# --- time off ---------------------------------------------------------------------------------


async def test_time_off_add_list_and_delete(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: Coach, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    now = clock.now()
    inside = await add_booking(db, client_a, coach, member.id, now + timedelta(days=3, hours=10))
    await add_booking(db, client_a, coach, member.id, now + timedelta(days=9))  # outside
    await add_booking(db, client_a, coach, member.id, now + timedelta(days=4), status="cancelled")
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        session.add(
            TimeOff(
                trainer_id=coach.trainer_id,
                starts_at=now - timedelta(days=10),
                ends_at=now - timedelta(days=5),
            )
        )

    created = data(
        await http.post(
            "/trainer/time-off",
            json={
                "startsAt": "2026-01-03T00:00:00Z",
                "endsAt": "2026-01-06T12:00:00+01:00",
                "reason": "Course",
            },
            headers=coach.headers,
        ),
        201,
    )
    assert created["startsAt"] == "2026-01-03T00:00:00Z"
    assert created["endsAt"] == "2026-01-06T11:00:00Z"
    assert created["reason"] == "Course"
    assert created["overlappingBookingIds"] == [inside]

    upcoming = data(await http.get("/trainer/time-off", headers=coach.headers))
    assert [t["id"] for t in upcoming["items"]] == [created["id"]]
    everything = data(await http.get("/trainer/time-off?includePast=true", headers=coach.headers))
    assert len(everything["items"]) == 2
    assert everything["items"][1]["id"] == created["id"]  # earliest first

    removed = data(await http.delete(f"/trainer/time-off/{created['id']}", headers=coach.headers))
    assert removed["id"] == created["id"]
    error(
        await http.delete(f"/trainer/time-off/{created['id']}", headers=coach.headers),
        404,
        "NOT_FOUND",
    )
    assert data(await http.get("/trainer/time-off", headers=coach.headers))["items"] == []


async def test_time_off_honours_idempotency_keys(http: httpx.AsyncClient, coach: Coach) -> None:
    body = {"startsAt": "2026-01-03T00:00:00Z", "endsAt": "2026-01-04T00:00:00Z"}
    headers = {**coach.headers, "Idempotency-Key": "off-1"}
    first = data(await http.post("/trainer/time-off", json=body, headers=headers), 201)
    replay = await http.post("/trainer/time-off", json=body, headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert data(replay, 201) == first
    other = {**body, "reason": "changed"}
    error(
        await http.post("/trainer/time-off", json=other, headers=headers),
        409,
        "IDEMPOTENCY_CONFLICT",
    )
    assert len(data(await http.get("/trainer/time-off", headers=coach.headers))["items"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"startsAt": "2026-01-05T10:00:00Z", "endsAt": "2026-01-05T10:00:00Z"}, ""),
        ({"startsAt": "2026-01-05T10:00:00Z", "endsAt": "2026-01-04T10:00:00Z"}, ""),
        ({"startsAt": "2026-01-05T10:00:00Z", "endsAt": "2027-01-07T10:00:00Z"}, ""),
        ({"startsAt": "2026-01-05T10:00:00", "endsAt": "2026-01-06T10:00:00Z"}, "startsAt"),
        ({"startsAt": "2025-12-01T10:00:00Z", "endsAt": "2025-12-02T10:00:00Z"}, "endsAt"),
        ({"startsAt": "soon", "endsAt": "2026-01-06T10:00:00Z"}, "startsAt"),
        ({"endsAt": "2026-01-06T10:00:00Z"}, "startsAt"),
    ],
)
async def test_time_off_validation(
    http: httpx.AsyncClient, coach: Coach, body: dict[str, Any], field: str
) -> None:
    response = await http.post("/trainer/time-off", json=body, headers=coach.headers)
    details = error(response, 400, "VALIDATION_ERROR")["details"]
    assert any(d["field"].startswith(field) for d in details), details
    assert (
        data(await http.get("/trainer/time-off?includePast=true", headers=coach.headers))["items"]
        == []
    )


# --- bookings ---------------------------------------------------------------------------------


async def _booked_calendar(
    http: httpx.AsyncClient, db: Database, client: TestClient, coach: Coach, now: datetime
) -> dict[str, Any]:
    ann = await make_user(http, db, client, "ann@example.com", name="Ann Able")
    bob = await make_user(http, db, client, "bob@example.com", name="Bob Baker")
    ids = {
        "past_done": await add_booking(
            db, client, coach, ann.id, now - timedelta(days=3), status="completed"
        ),
        "past_open": await add_booking(db, client, coach, bob.id, now - timedelta(days=1)),
        "running": await add_booking(db, client, coach, ann.id, now - timedelta(minutes=30)),
        "soon": await add_booking(db, client, coach, bob.id, now + timedelta(hours=2)),
        "later": await add_booking(db, client, coach, ann.id, now + timedelta(days=2)),
        "cancelled": await add_booking(
            db, client, coach, bob.id, now + timedelta(days=1), status="cancelled"
        ),
    }
    return {"ann": ann, "bob": bob, **ids}


async def test_bookings_upcoming_past_status_and_paging(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: Coach, clock: FrozenClock
) -> None:
    cal = await _booked_calendar(http, db, client_a, coach, clock.now())

    upcoming = data(await http.get("/trainer/bookings", headers=coach.headers))
    assert [b["id"] for b in upcoming["items"]] == [
        cal["running"],
        cal["soon"],
        cal["cancelled"],
        cal["later"],
    ]
    first = upcoming["items"][0]
    assert first["trainerId"] == coach.trainer_id
    assert first["userId"] == cal["ann"].id
    assert first["status"] == "confirmed"
    assert first["member"] == {"id": cal["ann"].id, "name": "Ann Able", "email": "ann@example.com"}
    assert first["scheduledDate"] == "2025-12-31T23:30:00Z"

    past = data(await http.get("/trainer/bookings?when=past", headers=coach.headers))
    assert [b["id"] for b in past["items"]] == [cal["past_open"], cal["past_done"]]
    confirmed = data(
        await http.get("/trainer/bookings?when=all&status=confirmed", headers=coach.headers)
    )
    assert [b["id"] for b in confirmed["items"]] == [
        cal["later"],
        cal["soon"],
        cal["running"],
        cal["past_open"],
    ]
    page = data(await http.get("/trainer/bookings?when=all&limit=2&page=2", headers=coach.headers))
    assert page["pagination"] == {"page": 2, "limit": 2, "total": 6, "totalPages": 3}
    assert [b["id"] for b in page["items"]] == [cal["soon"], cal["running"]]

    one = data(await http.get(f"/trainer/bookings/{cal['soon']}", headers=coach.headers))
    assert one["member"]["email"] == "bob@example.com"
    error(
        await http.get("/trainer/bookings?status=maybe", headers=coach.headers),
        400,
        "VALIDATION_ERROR",
    )
    error(
        await http.get("/trainer/bookings?when=soon", headers=coach.headers),
        400,
        "VALIDATION_ERROR",
    )


async def test_a_trainer_sees_only_their_own_bookings(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: Coach, clock: FrozenClock
) -> None:
    cal = await _booked_calendar(http, db, client_a, coach, clock.now())
    other = await make_coach(http, db, client_a, "other@example.com", name="Oscar Other")
    theirs = await add_booking(db, client_a, other, cal["ann"].id, clock.now() + timedelta(days=5))

    assert [
        b["id"] for b in data(await http.get("/trainer/bookings", headers=other.headers))["items"]
    ] == [theirs]
    assert (
        data(await http.get("/trainer/clients", headers=other.headers))["pagination"]["total"] == 1
    )
    for path in (f"/trainer/bookings/{cal['soon']}",):
        error(await http.get(path, headers=other.headers), 404, "NOT_FOUND")
    for action in ("complete", "no-show", "cancel", "join"):
        response = await http.post(
            f"/trainer/bookings/{cal['running']}/{action}", headers=other.headers
        )
        error(response, 404, "NOT_FOUND")
    mine = [
        b["id"]
        for b in data(await http.get("/trainer/bookings?when=all", headers=coach.headers))["items"]
    ]
    assert theirs not in mine


async def test_complete_and_no_show_state_rules(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: Coach, clock: FrozenClock
) -> None:
    cal = await _booked_calendar(http, db, client_a, coach, clock.now())

    early = await http.post(f"/trainer/bookings/{cal['soon']}/complete", headers=coach.headers)
    error(early, 409, "BOOKING_WINDOW_CLOSED")
    error(
        await http.post(f"/trainer/bookings/{cal['soon']}/no-show", headers=coach.headers),
        409,
        "BOOKING_WINDOW_CLOSED",
    )

    done = data(
        await http.post(f"/trainer/bookings/{cal['running']}/complete", headers=coach.headers)
    )
    assert done["status"] == "completed"
    assert done["completedAt"] == "2026-01-01T00:00:00Z"
    again = await http.post(f"/trainer/bookings/{cal['running']}/no-show", headers=coach.headers)
    error(again, 409, "INVALID_STATE_TRANSITION")

    absent = data(
        await http.post(f"/trainer/bookings/{cal['past_open']}/no-show", headers=coach.headers)
    )
    assert absent["status"] == "no_show"
    assert absent["completedAt"] is None
    for booking in ("cancelled", "past_done"):
        response = await http.post(
            f"/trainer/bookings/{cal[booking]}/complete", headers=coach.headers
        )
        error(response, 409, "INVALID_STATE_TRANSITION")

    # Once its start has passed, the upcoming one can be closed too.
    clock.advance(timedelta(hours=2))
    # A new sign-in: access tokens last 15 minutes.
    login = await http.post(
        "/auth/login",
        json={"email": "tina@example.com", "password": "correct-horse-battery"},
        headers=client_a.headers,
    )
    headers = {**client_a.headers, "Authorization": f"Bearer {login.json()['data']['accessToken']}"}
    assert (
        data(await http.post(f"/trainer/bookings/{cal['soon']}/complete", headers=headers))[
            "status"
        ]
        == "completed"
    )
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        row = await session.get(Booking, cal["soon"])
        assert row is not None
        assert row.completed_at == clock.now()


async def _mails(db: Database, client: TestClient) -> list[OutboxMail]:
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        return list(await session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


async def test_trainer_cancels_a_booking_and_the_member_is_mailed(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: Coach, clock: FrozenClock
) -> None:
    cal = await _booked_calendar(http, db, client_a, coach, clock.now())

    late = await http.post(
        f"/trainer/bookings/{cal['soon']}/cancel", json={"reason": "Ill"}, headers=coach.headers
    )
    cancelled = data(late)
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelledBy"] == "trainer"
    assert cancelled["cancelReason"] == "Ill"
    assert cancelled["cancelledAt"] == "2026-01-01T00:00:00Z"
    assert cancelled["lateCancellation"] is True  # 2 hours ahead, inside the 24-hour window
    assert cancelled["member"]["email"] == "bob@example.com"
    mails = await _mails(db, client_a)
    to_member = [m for m in mails if m.to_address == "bob@example.com"]
    assert len(to_member) == 1
    (ics,) = to_member[0].attachments
    assert ics["contentType"].startswith("text/calendar")
    assert b"METHOD:CANCEL" in base64.b64decode(ics["content"])

    in_time = data(
        await http.post(f"/trainer/bookings/{cal['later']}/cancel", headers=coach.headers)
    )
    assert in_time["lateCancellation"] is False
    assert in_time["cancelReason"] is None

    again = await http.post(f"/trainer/bookings/{cal['soon']}/cancel", headers=coach.headers)
    error(again, 409, "INVALID_STATE_TRANSITION")
    done = await http.post(f"/trainer/bookings/{cal['past_done']}/cancel", headers=coach.headers)
    error(done, 409, "INVALID_STATE_TRANSITION")
    over = await http.post(f"/trainer/bookings/{cal['past_open']}/cancel", headers=coach.headers)
    error(over, 409, "BOOKING_WINDOW_CLOSED")
    bad = await http.post(
        f"/trainer/bookings/{cal['running']}/cancel", json={"why": "x"}, headers=coach.headers
    )
    error(bad, 400, "VALIDATION_ERROR")
    # The freed time is bookable again: another confirmed booking at the same start is allowed.
    await add_booking(db, client_a, coach, cal["ann"].id, clock.now() + timedelta(hours=2))


async def test_clients_are_the_members_who_booked(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: Coach, clock: FrozenClock
) -> None:
    now = clock.now()
    cal = await _booked_calendar(http, db, client_a, coach, now)
    cara = await make_user(http, db, client_a, "cara@example.com", name="Cara Cancelled")
    await add_booking(db, client_a, coach, cara.id, now + timedelta(days=6), status="cancelled")
    await make_user(http, db, client_a, "never@example.com", name="Never Booked")

    clients = data(await http.get("/trainer/clients", headers=coach.headers))
    assert clients["pagination"]["total"] == 3
    assert clients["items"] == [
        {
            "id": cal["ann"].id,
            "name": "Ann Able",
            "email": "ann@example.com",
            "bookingsCount": 3,
            "lastSessionAt": "2025-12-31T23:30:00Z",
            "nextSessionAt": "2026-01-03T00:00:00Z",
        },
        {
            "id": cal["bob"].id,
            "name": "Bob Baker",
            "email": "bob@example.com",
            "bookingsCount": 2,
            "lastSessionAt": "2025-12-31T00:00:00Z",
            "nextSessionAt": "2026-01-01T02:00:00Z",
        },
        {
            "id": cara.id,
            "name": "Cara Cancelled",
            "email": "cara@example.com",
            "bookingsCount": 0,
            "lastSessionAt": None,
            "nextSessionAt": None,
        },
    ]
    found = data(await http.get("/trainer/clients?search=BAK", headers=coach.headers))
    assert [c["id"] for c in found["items"]] == [cal["bob"].id]
    by_mail = data(await http.get("/trainer/clients?search=ann@", headers=coach.headers))
    assert [c["id"] for c in by_mail["items"]] == [cal["ann"].id]
    assert data(await http.get("/trainer/clients?search=%25", headers=coach.headers))["items"] == []


# --- isolation between clients ----------------------------------------------------------------


async def test_another_clients_ids_answer_404(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    coach: Coach,
    clock: FrozenClock,
) -> None:
    rival = await make_coach(http, db, client_b, "rival@example.com", name="Rita Rival")
    member_b = await make_user(http, db, client_b, "member-b@example.com")
    theirs = await add_booking(
        db, client_b, rival, member_b.id, clock.now() - timedelta(minutes=10)
    )
    time_off = data(
        await http.post(
            "/trainer/time-off",
            json={"startsAt": "2026-02-01T00:00:00Z", "endsAt": "2026-02-02T00:00:00Z"},
            headers=rival.headers,
        ),
        201,
    )
    await http.put("/trainer/availability", json={"rules": WEEK}, headers=rival.headers)
    await http.put(
        "/trainer/availability/overrides/2026-01-20", json={"windows": []}, headers=rival.headers
    )

    error(await http.get(f"/trainer/bookings/{theirs}", headers=coach.headers), 404, "NOT_FOUND")
    for action in ("complete", "no-show", "cancel", "join"):
        error(
            await http.post(f"/trainer/bookings/{theirs}/{action}", headers=coach.headers),
            404,
            "NOT_FOUND",
        )
    error(
        await http.delete(f"/trainer/time-off/{time_off['id']}", headers=coach.headers),
        404,
        "NOT_FOUND",
    )
    error(
        await http.delete("/trainer/availability/overrides/2026-01-20", headers=coach.headers),
        404,
        "NOT_FOUND",
    )
    assert data(await http.get("/trainer/availability", headers=coach.headers))["rules"] == []
    assert data(await http.get("/trainer/bookings?when=all", headers=coach.headers))["items"] == []
    assert data(await http.get("/trainer/clients", headers=coach.headers))["items"] == []
    assert data(await http.get("/trainer/time-off", headers=coach.headers))["items"] == []
    # A token of client A with client B's key is refused outright.
    crossed = {**client_b.headers, "Authorization": coach.headers["Authorization"]}
    error(await http.get("/trainer/bookings", headers=crossed), 401, "UNAUTHORIZED")
    # And the rival's data is intact.
    assert len(data(await http.get("/trainer/availability", headers=rival.headers))["rules"]) == 3
