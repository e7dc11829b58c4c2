"""LiveKit's webhooks: signed exactly as LiveKit signs them, attendance and live minutes in the
watch ledger (and so in the member's progress), idempotent redeliveries, and isolation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from livekit import api
from sqlalchemy import select

from stvos.config import Settings
from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models.live import LiveAttendance, LiveClass, LiveClassStatus
from stvos.models.playback import WatchLedger
from tests.fakes.livekit_server import FakeLiveKit, running_fake_livekit
from tests.live import (
    LiveTrainer,
    add_registration,
    data,
    error,
    make_live_class,
    make_live_trainer,
)
from tests.support.factories import TestClient, TestUser, make_user

KEY = "stvos-live-webhook-test-key"
SECRET = "live-webhook-test-secret-that-is-longer-than-32-bytes"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeLiveKit]:
    with running_fake_livekit(KEY, SECRET) as server:
        yield server


@pytest.fixture
def settings(make_settings: Callable[..., Settings], fake: FakeLiveKit) -> Settings:
    return make_settings(
        livekit={"url": fake.url.replace("http://", "ws://"), "api_key": KEY, "api_secret": SECRET}
    )


@pytest.fixture
async def trainer(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> LiveTrainer:
    return await make_live_trainer(http, db, client_a, "lena@example.com")


@pytest.fixture
async def member(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, trainer: LiveTrainer
) -> TestUser:
    return await make_user(http, db, client_a, "maya@example.com", name="Maya")


async def _live_class(db: Database, client: TestClient, trainer_id: int) -> tuple[int, str]:
    """A class that started at T0 (45 minutes), its room open as ``RM_<id>``."""
    class_id = await make_live_class(
        db, client, trainer_id, T0, status=LiveClassStatus.LIVE.value, started_at=T0
    )
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        live = await session.get_one(LiveClass, class_id)
        live.room_sid = f"RM_{class_id}"
        return class_id, live.room_name


def _event(
    kind: str, room: str, at: datetime, identity: str | None = None, *, sid: str | None = None
) -> str:
    body: dict[str, Any] = {
        "event": kind,
        "room": {"sid": sid or "", "name": room},
        "id": f"EV_{kind}_{identity}_{int(at.timestamp())}",
        "createdAt": str(int(at.timestamp())),
    }
    if identity is not None:
        body["participant"] = {"sid": f"PA_{identity}", "identity": identity}
    return json.dumps(body)


def _signature(body: str, *, secret: str = SECRET, ttl: timedelta = timedelta(minutes=5)) -> str:
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    return api.AccessToken(KEY, secret).with_sha256(digest).with_ttl(ttl).to_jwt()


async def _deliver(
    http: httpx.AsyncClient, body: str, authorization: str | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/webhook+json"}
    headers["Authorization"] = authorization if authorization is not None else _signature(body)
    return await http.post("/webhooks/livekit", content=body.encode(), headers=headers)


async def _send(http: httpx.AsyncClient, body: str) -> bool:
    answer = data(await _deliver(http, body))
    handled: bool = answer["handled"]
    return handled


async def _attendance(db: Database, client: TestClient, class_id: int) -> dict[str, Any]:
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        rows = await session.scalars(
            select(LiveAttendance).where(LiveAttendance.live_class_id == class_id)
        )
        return {r.identity: r for r in rows}


async def _ledger(db: Database, client: TestClient) -> list[tuple[Any, ...]]:
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        rows = await session.execute(
            select(
                WatchLedger.user_id,
                WatchLedger.live_class_id,
                WatchLedger.class_id,
                WatchLedger.period_start,
                WatchLedger.day,
                WatchLedger.watched_seconds,
            ).order_by(WatchLedger.period_start)
        )
        return [tuple(r) for r in rows]


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def test_attendance_and_live_minutes(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    member: TestUser,
) -> None:
    class_id, room = await _live_class(db, client_a, trainer.trainer_id)
    await add_registration(db, client_a, class_id, member.id, T0 - timedelta(days=1))
    who = f"user-{member.id}"

    joined = _event("participant_joined", room, _at(10), who)
    assert await _send(http, joined) is True
    assert await _send(http, joined) is False  # LiveKit redelivers: nothing changes
    left = _event("participant_left", room, _at(32.5), who)
    assert await _send(http, left) is True
    assert await _send(http, left) is False
    assert await _send(http, joined) is False  # a late redelivery of the first join

    row = (await _attendance(db, client_a, class_id))[who]
    assert row.user_id == member.id
    assert row.first_joined_at == _at(10)
    assert row.last_left_at == _at(32.5)
    assert row.open_since is None
    assert (row.seconds_present, row.joins) == (1350, 1)

    assert await _send(http, _event("participant_joined", room, _at(40), who)) is True
    finished = _event("room_finished", room, _at(47.5), sid=f"RM_{class_id}")
    assert await _send(http, finished) is True
    assert await _send(http, finished) is False
    # The room was deleted: LiveKit's leave arrives afterwards and changes nothing.
    assert await _send(http, _event("participant_left", room, _at(48), who)) is False

    row = (await _attendance(db, client_a, class_id))[who]
    assert (row.seconds_present, row.joins, row.open_since) == (1800, 2, None)
    assert row.first_joined_at == _at(10)
    assert row.last_left_at == _at(47.5)
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        live = await session.get_one(LiveClass, class_id)
        assert live.status == "ended"
        assert live.ended_at == _at(47.5)

    day = date(2026, 1, 1)
    assert await _ledger(db, client_a) == [
        (member.id, class_id, None, _at(0), day, 300),
        (member.id, class_id, None, _at(15), day, 900),
        (member.id, class_id, None, _at(30), day, 450),
        (member.id, class_id, None, _at(45), day, 150),
    ]
    summary = data(
        await http.get(
            "/progress/summary",
            params={"from": "2026-01-01", "to": "2026-01-01"},
            headers=member.headers,
        )
    )
    assert summary["totals"]["activeMinutes"] == 30
    assert summary["days"][0]["activeMinutes"] == 30


async def test_time_outside_the_class_is_not_counted_and_the_trainer_has_no_ledger(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    member: TestUser,
    fake: FakeLiveKit,
    clock: FrozenClock,
) -> None:
    class_id, room = await _live_class(db, client_a, trainer.trainer_id)
    who, coach = f"user-{member.id}", f"trainer-{trainer.trainer_id}"
    # In the room five minutes before the class started: counted from the start.
    assert await _send(http, _event("participant_joined", room, _at(-5), who))
    assert await _send(http, _event("participant_joined", room, _at(-8), coach))
    assert await _send(http, _event("participant_left", room, _at(10), who))

    # The trainer ends the class through the API; the still-open trainer is closed then.
    clock.advance(timedelta(minutes=12))
    assert data(await http.post(f"/trainer/live-classes/{class_id}/end", headers=trainer.headers))
    assert await _send(http, _event("participant_left", room, _at(13), coach)) is False

    rows = await _attendance(db, client_a, class_id)
    assert rows[who].seconds_present == 600
    assert rows[who].first_joined_at == _at(-5)
    assert rows[coach].user_id is None
    assert rows[coach].seconds_present == 720
    assert rows[coach].last_left_at == _at(12)
    assert await _ledger(db, client_a) == [
        (member.id, class_id, None, _at(0), date(2026, 1, 1), 600)
    ]


async def test_signatures_are_checked(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    member: TestUser,
) -> None:
    class_id, room = await _live_class(db, client_a, trainer.trainer_id)
    body = _event("participant_joined", room, _at(1), f"user-{member.id}")
    other = _event("participant_joined", room, _at(2), f"user-{member.id}")
    refused = [
        await _deliver(http, body, _signature(body, secret="another-secret-that-is-long-enough!!")),
        await _deliver(http, other, _signature(body)),  # the body was changed on the way
        await _deliver(http, body, ""),
        await _deliver(http, body, "not-a-jwt"),
        await _deliver(http, body, _signature(body, ttl=timedelta(minutes=-10))),  # expired
    ]
    for response in refused:
        error(response, 401, "UNAUTHORIZED")
    assert await _attendance(db, client_a, class_id) == {}

    # A "Bearer " prefix (LiveKit sends none) is tolerated.
    answer = data(await _deliver(http, body, "Bearer " + _signature(body)))
    assert answer == {"received": True, "event": "participant_joined", "handled": True}
    # Signed but not an event: 400.
    error(await _deliver(http, "{not json"), 400, "VALIDATION_ERROR")
    # Rooms that are not live classes, and events not about attendance, are acknowledged.
    unknown = data(await _deliver(http, _event("participant_joined", "someone-else", _at(3), "x")))
    assert unknown["handled"] is False
    track = data(await _deliver(http, _event("track_published", room, _at(3), "user-1")))
    assert track == {"received": True, "event": "track_published", "handled": False}


async def test_stale_room_finished_is_ignored(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, trainer: LiveTrainer
) -> None:
    class_id, room = await _live_class(db, client_a, trainer.trainer_id)
    # An earlier room of the same name (another sid), and one finished before the start.
    assert await _send(http, _event("room_finished", room, _at(5), sid="RM_other")) is False
    assert await _send(http, _event("room_finished", room, _at(-1), sid=f"RM_{class_id}")) is False
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        assert (await session.get_one(LiveClass, class_id)).status == "live"


async def test_a_webhook_for_one_client_never_touches_another(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    trainer: LiveTrainer,
    member: TestUser,
) -> None:
    class_a, room_a = await _live_class(db, client_a, trainer.trainer_id)
    trainer_b = await make_live_trainer(http, db, client_b, "bea@example.com")
    member_b = await make_user(http, db, client_b, "bob@example.com")
    class_b, room_b = await _live_class(db, client_b, trainer_b.trainer_id)

    # Client B's member id as an identity in client A's room is no member of A.
    intruder = f"user-{member_b.id}"
    assert await _send(http, _event("participant_joined", room_a, _at(1), intruder))
    assert await _send(http, _event("participant_left", room_a, _at(11), intruder))
    assert await _send(http, _event("participant_joined", room_a, _at(2), f"user-{member.id}"))
    assert await _send(http, _event("room_finished", room_a, _at(20), sid=f"RM_{class_a}"))

    rows_a = await _attendance(db, client_a, class_a)
    assert rows_a[intruder].user_id is None
    assert rows_a[intruder].seconds_present == 600
    assert rows_a[f"user-{member.id}"].seconds_present == 18 * 60
    assert {r[0] for r in await _ledger(db, client_a)} == {member.id}
    assert await _attendance(db, client_b, class_b) == {}
    assert await _ledger(db, client_b) == []
    async with db.transaction(TenantScope.for_client(client_b.id)) as session:
        live_b = await session.get_one(LiveClass, class_b)
        assert live_b.status == "live"
        assert live_b.ended_at is None
        assert live_b.room_name == room_b


async def test_concurrent_redeliveries_count_once(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    member: TestUser,
) -> None:
    class_id, room = await _live_class(db, client_a, trainer.trainer_id)
    who = f"user-{member.id}"
    joined = _event("participant_joined", room, _at(1), who)
    answers = await asyncio.gather(*(_send(http, joined) for _ in range(12)))
    assert answers.count(True) == 1
    left = _event("participant_left", room, _at(6), who)
    answers = await asyncio.gather(*(_send(http, left) for _ in range(12)))
    assert answers.count(True) == 1
    row = (await _attendance(db, client_a, class_id))[who]
    assert (row.joins, row.seconds_present, row.open_since) == (1, 300, None)
    assert [r[-1] for r in await _ledger(db, client_a)] == [300]
