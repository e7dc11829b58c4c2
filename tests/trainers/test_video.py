"""Joining a booking's LiveKit room: POST /bookings/{id}/join (member or trainer) and
POST /trainer/bookings/{id}/join. Tokens are checked with the SDK's TokenVerifier."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from livekit import api
from livekit.api.access_token import Claims

from stvos.config import Settings
from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Booking
from tests.support.factories import TestClient, TestUser, make_client, make_user
from tests.trainers.portal_support import Coach, add_booking, data, error, make_coach

KEY = "stvos-video-test-key"
SECRET = "video-test-secret-that-is-longer-than-32-bytes"
URL = "wss://video.stvos.example.com"
EARLY = timedelta(minutes=10)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        livekit={
            "url": URL,
            "api_key": KEY,
            "api_secret": SECRET,
            "token_ttl_minutes": 120,
            "join_early_minutes": 10,
        }
    )


@pytest.fixture
async def coach(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> Coach:
    return await make_coach(http, db, client_a, "tina@example.com", name="Tina Trainer")


@pytest.fixture
async def member(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: Coach
) -> TestUser:
    return await make_user(http, db, client_a, "maya@example.com", name="Maya Member")


def _verify(answer: dict[str, Any]) -> tuple[Claims, dict[str, Any]]:
    claims = api.TokenVerifier(KEY, SECRET).verify(answer["token"])
    raw = jwt.decode(answer["token"], options={"verify_signature": False})
    return claims, raw


async def _join(http: httpx.AsyncClient, booking_id: int, who: TestUser | Coach) -> httpx.Response:
    return await http.post(f"/bookings/{booking_id}/join", headers=who.headers)


async def test_member_gets_a_participant_token_without_admin(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    coach: Coach,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    now = clock.now()
    booking_id = await add_booking(db, client_a, coach, member.id, now + timedelta(minutes=5))
    answer = data(await _join(http, booking_id, member))
    room = f"booking-{client_a.id}-{booking_id}"
    assert answer["url"] == URL
    assert answer["room"] == room
    assert answer["identity"] == f"user-{member.id}"
    assert answer["role"] == "member"
    claims, raw = _verify(answer)
    assert claims.identity == f"user-{member.id}"
    assert claims.name == "Maya Member"
    assert json.loads(claims.metadata) == {"bookingId": booking_id, "role": "member"}
    assert claims.video.room == room
    assert claims.video.room_join is True
    assert claims.video.can_publish is True
    assert claims.video.can_subscribe is True
    assert claims.video.can_publish_data is True
    assert not claims.video.room_admin
    assert not claims.video.room_create
    assert raw["iss"] == KEY
    # The session ends at +65 min; the token lives until 15 minutes after that (< 120 min).
    expected = timedelta(minutes=80)
    assert answer["expiresAt"] == _z(now + expected)
    assert raw["exp"] - raw["nbf"] == expected.total_seconds()


async def test_trainer_token_administers_the_room_on_both_routes(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    coach: Coach,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    booking_id = await add_booking(
        db, client_a, coach, member.id, clock.now() - timedelta(minutes=1)
    )
    for path in (f"/bookings/{booking_id}/join", f"/trainer/bookings/{booking_id}/join"):
        answer = data(await http.post(path, headers=coach.headers))
        assert answer["role"] == "trainer"
        assert answer["identity"] == f"trainer-{coach.trainer_id}"
        claims, raw = _verify(answer)
        assert claims.identity == f"trainer-{coach.trainer_id}"
        assert claims.name == "Tina Trainer"
        assert claims.video.room_admin is True
        assert claims.video.room_join is True
        assert claims.video.room == f"booking-{client_a.id}-{booking_id}"
        assert claims.video.can_publish is True
        # Session ends at +59 min; +15 min margin.
        assert raw["exp"] - raw["nbf"] == timedelta(minutes=74).total_seconds()
    # The member's and the trainer's rooms are the same room.
    member_room = data(await _join(http, booking_id, member))["room"]
    assert member_room == f"booking-{client_a.id}-{booking_id}"


async def test_member_cannot_use_the_trainer_route(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    coach: Coach,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    booking_id = await add_booking(db, client_a, coach, member.id, clock.now())
    response = await http.post(f"/trainer/bookings/{booking_id}/join", headers=member.headers)
    error(response, 403, "FORBIDDEN")


async def test_token_lifetime_is_the_configured_ttl_for_long_sessions(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    coach: Coach,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    booking_id = await add_booking(
        db, client_a, coach, member.id, clock.now() - timedelta(minutes=1), minutes=240
    )
    answer = data(await _join(http, booking_id, member))
    _, raw = _verify(answer)
    assert raw["exp"] - raw["nbf"] == timedelta(minutes=120).total_seconds()
    assert answer["expiresAt"] == _z(clock.now() + timedelta(minutes=120))


@pytest.mark.parametrize(
    ("start_offset", "status"),
    [
        (EARLY + timedelta(seconds=1), 409),  # just before the room opens
        (EARLY, 200),  # exactly when it opens
        (timedelta(0), 200),  # at the start
        (timedelta(minutes=-59, seconds=-59), 200),  # a second before the end
        (timedelta(minutes=-60), 409),  # at the end
        (timedelta(hours=-3), 409),  # long over
    ],
)
async def test_join_window_edges(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    coach: Coach,
    member: TestUser,
    clock: FrozenClock,
    start_offset: timedelta,
    status: int,
) -> None:
    booking_id = await add_booking(db, client_a, coach, member.id, clock.now() + start_offset)
    for who in (member, coach):
        response = await _join(http, booking_id, who)
        if status == 200:
            data(response)
        else:
            error(response, 409, "BOOKING_WINDOW_CLOSED")


async def test_only_confirmed_video_bookings_have_a_room(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    coach: Coach,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    now = clock.now()
    for status in ("cancelled", "completed", "no_show"):
        booking_id = await add_booking(db, client_a, coach, member.id, now, status=status)
        error(await _join(http, booking_id, member), 409, "INVALID_STATE_TRANSITION")
        error(await _join(http, booking_id, coach), 409, "INVALID_STATE_TRANSITION")
    in_person = await add_booking(
        db, client_a, coach, member.id, now + timedelta(hours=3), in_person=True
    )
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        row = await session.get(Booking, in_person)
        assert row is not None
        row.starts_at, row.ends_at = now, now + timedelta(hours=1)
    body = error(await _join(http, in_person, member), 409, "CONFLICT")
    assert "in-person" in body["error"]


async def test_others_get_404(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    coach: Coach,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    booking_id = await add_booking(db, client_a, coach, member.id, clock.now())
    stranger = await make_user(http, db, client_a, "stranger@example.com")
    other_coach = await make_coach(http, db, client_a, "oscar@example.com", name="Oscar")
    staff = await make_user(http, db, client_a, "staff@example.com", role="client_admin")
    for who in (stranger, other_coach, staff):
        error(await _join(http, booking_id, who), 404, "NOT_FOUND")
    error(
        await http.post(f"/trainer/bookings/{booking_id}/join", headers=other_coach.headers),
        404,
        "NOT_FOUND",
    )
    error(await _join(http, 987654321, member), 404, "NOT_FOUND")
    # Another client: its member (even with the same id space) and its trainer see nothing.
    member_b = await make_user(http, db, client_b, "maya-b@example.com")
    coach_b = await make_coach(http, db, client_b, "tina-b@example.com")
    error(await _join(http, booking_id, member_b), 404, "NOT_FOUND")
    error(await _join(http, booking_id, coach_b), 404, "NOT_FOUND")
    error(
        await http.post(f"/trainer/bookings/{booking_id}/join", headers=coach_b.headers),
        404,
        "NOT_FOUND",
    )
    # An API key alone is not enough: a room token is for a signed-in person.
    error(
        await http.post(f"/bookings/{booking_id}/join", headers=client_a.headers),
        401,
        "UNAUTHORIZED",
    )


async def test_join_is_part_of_coach_connect(
    http: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    studio = await make_client(db, "No Coaching", enabled_features=["classes"])
    coach = await make_coach(http, db, studio, "t@nocoach.example.com")
    user = await make_user(http, db, studio, "m@nocoach.example.com")
    booking_id = await add_booking(db, studio, coach, user.id, clock.now())
    error(await _join(http, booking_id, user), 403, "FEATURE_DISABLED")


async def test_book_then_join_end_to_end(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    coach: Coach,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    """A member books through the real booking endpoint, then both sides join its room."""
    rules = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
    data(await http.put("/trainer/availability", json={"rules": rules}, headers=coach.headers))
    start = clock.now() + timedelta(hours=1)
    booked = await http.post(
        f"/trainers/{coach.trainer_id}/book",
        json={"serviceId": coach.video_service_id, "startTime": _z(start)},
        headers=member.headers,
    )
    booking = data(booked, 201)
    assert booking["status"] == "confirmed"
    listed = data(await http.get("/trainer/bookings", headers=coach.headers))
    assert [b["id"] for b in listed["items"]] == [booking["id"]]
    assert listed["items"][0]["member"]["id"] == member.id

    error(await _join(http, booking["id"], member), 409, "BOOKING_WINDOW_CLOSED")
    clock.advance(timedelta(minutes=50))  # 10 minutes before the start
    login = await http.post(
        "/auth/login",
        json={"email": member.email, "password": member.password},
        headers=client_a.headers,
    )
    member_headers = {
        **client_a.headers,
        "Authorization": f"Bearer {login.json()['data']['accessToken']}",
    }
    login = await http.post(
        "/auth/login",
        json={"email": coach.user.email, "password": coach.user.password},
        headers=client_a.headers,
    )
    coach_headers = {
        **client_a.headers,
        "Authorization": f"Bearer {login.json()['data']['accessToken']}",
    }
    mine = data(await http.post(f"/bookings/{booking['id']}/join", headers=member_headers))
    theirs = data(await http.post(f"/trainer/bookings/{booking['id']}/join", headers=coach_headers))
    assert mine["room"] == theirs["room"] == booking["room"]
    member_claims, _ = _verify(mine)
    trainer_claims, _ = _verify(theirs)
    assert not member_claims.video.room_admin
    assert trainer_claims.video.room_admin is True
    assert member_claims.video.room == trainer_claims.video.room == booking["room"]


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
