"""Live classes' LiveKit rooms: start/end against a fake Twirp RoomService, join tokens checked
with the SDK's TokenVerifier, participant management, and the embedded default settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from livekit import api
from sqlalchemy import update

from stvos.app import create_app
from stvos.config import Settings
from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.live.rooms import STAFF_SEATS
from stvos.models import Client
from stvos.models.live import LiveClass, LiveClassStatus
from tests.conftest import BASE_URL
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

KEY = "stvos-live-rooms-test-key"
SECRET = "live-rooms-test-secret-that-is-longer-than-32-bytes"


@pytest.fixture
def fake() -> Iterator[FakeLiveKit]:
    with running_fake_livekit(KEY, SECRET) as server:
        yield server


@pytest.fixture
def settings(make_settings: Callable[..., Settings], fake: FakeLiveKit) -> Settings:
    return make_settings(
        livekit={
            "url": fake.url.replace("http://", "ws://"),
            "api_key": KEY,
            "api_secret": SECRET,
            "token_ttl_minutes": 120,
            "join_early_minutes": 10,
        }
    )


@pytest.fixture
async def trainer(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> LiveTrainer:
    return await make_live_trainer(http, db, client_a, "lena@example.com", name="Lena Live")


@pytest.fixture
async def member(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, trainer: LiveTrainer
) -> TestUser:
    return await make_user(http, db, client_a, "maya@example.com", name="Maya Member")


@pytest.fixture
async def staff(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, trainer: LiveTrainer
) -> TestUser:
    return await make_user(http, db, client_a, "sam@example.com", role="client_admin")


async def _status(db: Database, client: TestClient, class_id: int) -> LiveClass:
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        return await session.get_one(LiveClass, class_id)


async def _set(db: Database, client: TestClient, class_id: int, **values: Any) -> None:
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        await session.execute(update(LiveClass).where(LiveClass.id == class_id).values(**values))


def _claims(answer: dict[str, Any]) -> Any:
    return api.TokenVerifier(KEY, SECRET).verify(answer["token"])


def _grants(claims: Any) -> api.VideoGrants:
    video = claims.video
    assert isinstance(video, api.VideoGrants)
    return video


# --- start and end -------------------------------------------------------------------------------


async def test_start_creates_the_room_and_end_deletes_it(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    fake: FakeLiveKit,
    clock: FrozenClock,
) -> None:
    now = clock.now()
    class_id = await make_live_class(
        db, client_a, trainer.trainer_id, now + timedelta(minutes=5), capacity=12, minutes=45
    )
    room = (await _status(db, client_a, class_id)).room_name

    started = data(
        await http.post(f"/trainer/live-classes/{class_id}/start", headers=trainer.headers)
    )
    assert started["status"] == "live"
    assert started["managed"] is True
    assert started["room"] == room
    assert started["maxParticipants"] == 12 + STAFF_SEATS
    assert started["startedAt"].startswith("2026-01-01T00:00:00")

    created = fake.rooms[room].room
    assert started["roomSid"] == created.sid
    assert created.max_participants == 12 + STAFF_SEATS
    # Kept open while empty until after the scheduled end (50 minutes from now, plus grace).
    assert created.empty_timeout >= 50 * 60
    calls = fake.calls_of("CreateRoom")
    assert len(calls) == 1
    assert _grants(calls[0].claims).room_create

    row = await _status(db, client_a, class_id)
    assert row.status == "live"
    assert row.room_sid == created.sid

    again = await http.post(f"/trainer/live-classes/{class_id}/start", headers=trainer.headers)
    error(again, 409, "INVALID_STATE_TRANSITION")

    clock.advance(timedelta(minutes=14))  # access tokens last 15 minutes
    ended = data(await http.post(f"/trainer/live-classes/{class_id}/end", headers=trainer.headers))
    assert ended["status"] == "ended"
    assert ended["endedAt"].startswith("2026-01-01T00:14:00")
    assert room not in fake.rooms
    assert len(fake.calls_of("DeleteRoom")) == 1

    twice = await http.post(f"/trainer/live-classes/{class_id}/end", headers=trainer.headers)
    error(twice, 409, "INVALID_STATE_TRANSITION")


async def test_a_class_starts_around_its_time_only(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    fake: FakeLiveKit,
    clock: FrozenClock,
) -> None:
    early = await make_live_class(db, client_a, trainer.trainer_id, clock.now() + timedelta(days=2))
    refused = await http.post(f"/trainer/live-classes/{early}/start", headers=trainer.headers)
    assert "30 minutes" in error(refused, 409, "BOOKING_WINDOW_CLOSED")["error"]
    past = await make_live_class(
        db, client_a, trainer.trainer_id, clock.now() - timedelta(hours=2), minutes=45
    )
    error(
        await http.post(f"/trainer/live-classes/{past}/start", headers=trainer.headers),
        409,
        "BOOKING_WINDOW_CLOSED",
    )
    assert fake.calls_of("CreateRoom") == []
    soon = await make_live_class(
        db, client_a, trainer.trainer_id, clock.now() + timedelta(minutes=30)
    )
    assert data(await http.post(f"/trainer/live-classes/{soon}/start", headers=trainer.headers))


async def test_a_livekit_failure_keeps_the_class_scheduled(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    fake: FakeLiveKit,
    clock: FrozenClock,
) -> None:
    class_id = await make_live_class(db, client_a, trainer.trainer_id, clock.now())
    fake.fail_next("CreateRoom", "internal")
    failed = await http.post(f"/trainer/live-classes/{class_id}/start", headers=trainer.headers)
    error(failed, 503, "PROVIDER_UNAVAILABLE")
    row = await _status(db, client_a, class_id)
    assert row.status == "scheduled"
    assert row.started_at is None
    assert row.room_sid is None

    # Retrying works; ending fails while LiveKit fails, and the class stays live.
    data(await http.post(f"/trainer/live-classes/{class_id}/start", headers=trainer.headers))
    fake.fail_next("DeleteRoom", "unavailable")
    failed = await http.post(f"/trainer/live-classes/{class_id}/end", headers=trainer.headers)
    error(failed, 503, "PROVIDER_UNAVAILABLE")
    assert (await _status(db, client_a, class_id)).status == "live"


async def test_end_tolerates_a_room_already_gone_and_staff_may_run_classes(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    staff: TestUser,
    fake: FakeLiveKit,
    clock: FrozenClock,
) -> None:
    class_id = await make_live_class(db, client_a, trainer.trainer_id, clock.now())
    started = data(await http.post(f"/manage/live-classes/{class_id}/start", headers=staff.headers))
    assert started["status"] == "live"
    del fake.rooms[started["room"]]  # LiveKit closed it already
    ended = data(await http.post(f"/manage/live-classes/{class_id}/end", headers=staff.headers))
    assert ended["status"] == "ended"


async def test_other_trainers_and_other_clients_get_404(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    trainer: LiveTrainer,
    fake: FakeLiveKit,
    clock: FrozenClock,
) -> None:
    class_id = await make_live_class(db, client_a, trainer.trainer_id, clock.now())
    other = await make_live_trainer(http, db, client_a, "otto@example.com", name="Otto")
    foreign = await make_live_trainer(http, db, client_b, "bea@example.com", name="Bea")
    foreign_staff = await make_user(http, db, client_b, "boss@example.com", role="client_admin")
    foreign_member = await make_user(http, db, client_b, "bob@example.com")
    for who in (other, foreign):
        for action in ("start", "end", "join"):
            answer = await http.post(
                f"/trainer/live-classes/{class_id}/{action}", headers=who.headers
            )
            error(answer, 404, "NOT_FOUND")
        listed = await http.get(
            f"/trainer/live-classes/{class_id}/participants", headers=who.headers
        )
        error(listed, 404, "NOT_FOUND")
    answer = await http.post(
        f"/manage/live-classes/{class_id}/start", headers=foreign_staff.headers
    )
    error(answer, 404, "NOT_FOUND")
    joined = await http.post(f"/live/classes/{class_id}/join", headers=foreign_member.headers)
    error(joined, 404, "NOT_FOUND")
    assert fake.calls == []
    assert (await _status(db, client_a, class_id)).status == "scheduled"


async def test_members_cannot_use_trainer_routes_and_bad_ids_are_400(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await make_live_class(db, client_a, trainer.trainer_id, clock.now())
    answer = await http.post(f"/trainer/live-classes/{class_id}/start", headers=member.headers)
    error(answer, 403, "FORBIDDEN")
    error(
        await http.post("/trainer/live-classes/0/start", headers=trainer.headers),
        400,
        "VALIDATION_ERROR",
    )
    error(
        await http.post("/live/classes/abc/join", headers=member.headers), 400, "VALIDATION_ERROR"
    )


# --- joining -------------------------------------------------------------------------------------


async def test_member_and_trainer_tokens(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    now = clock.now()
    class_id = await make_live_class(db, client_a, trainer.trainer_id, now + timedelta(minutes=5))
    room = (await _status(db, client_a, class_id)).room_name
    await add_registration(db, client_a, class_id, member.id, now)

    answer = data(await http.post(f"/live/classes/{class_id}/join", headers=member.headers))
    assert answer["room"] == room
    assert answer["url"].startswith("ws://127.0.0.1:")
    assert answer["identity"] == f"user-{member.id}"
    assert answer["role"] == "member"
    assert answer["canPublish"] is False
    claims = _claims(answer)
    assert claims.identity == f"user-{member.id}"
    assert claims.name == "Maya Member"
    video = claims.video
    assert video.room == room
    assert video.room_join
    assert not video.room_admin
    assert video.can_subscribe
    assert video.can_publish_data
    assert not video.can_publish

    # The studio lets members publish camera and microphone.
    async with db.transaction(TenantScope.for_platform()) as session:
        await session.execute(
            update(Client)
            .where(Client.id == client_a.id)
            .values(settings={"liveMembersCanPublish": True})
        )
    answer = data(await http.post(f"/live/classes/{class_id}/join", headers=member.headers))
    assert answer["canPublish"] is True
    assert _claims(answer).video.can_publish

    coach = data(await http.post(f"/trainer/live-classes/{class_id}/join", headers=trainer.headers))
    assert coach["role"] == "trainer"
    assert coach["identity"] == f"trainer-{trainer.trainer_id}"
    claims = _claims(coach)
    assert claims.video.room_admin
    assert claims.video.can_publish
    assert claims.video.room == room
    assert claims.name == "Lena Live"


async def test_join_window_edges_and_states(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    now = clock.now()

    async def seated(starts_in: timedelta, **fields: Any) -> int:
        class_id = await make_live_class(
            db, client_a, trainer.trainer_id, now + starts_in, minutes=45, **fields
        )
        await add_registration(db, client_a, class_id, member.id, now - timedelta(days=1))
        return class_id

    async def join(class_id: int) -> httpx.Response:
        return await http.post(f"/live/classes/{class_id}/join", headers=member.headers)

    too_early = await seated(timedelta(minutes=10, seconds=1))
    error(await join(too_early), 409, "BOOKING_WINDOW_CLOSED")
    just_open = await seated(timedelta(minutes=10))
    assert data(await join(just_open))["status"] == "scheduled"
    running = await seated(-timedelta(minutes=44, seconds=59))
    data(await join(running))
    over = await seated(-timedelta(minutes=45))  # scheduled, never started, past its end
    error(await join(over), 409, "BOOKING_WINDOW_CLOSED")
    overrunning = await seated(-timedelta(minutes=50), status=LiveClassStatus.LIVE.value)
    answer = data(await join(overrunning))
    assert answer["status"] == "live"
    # The token still outlives now by the margin, although the scheduled end has passed.
    assert _claims(answer).identity == f"user-{member.id}"
    ended = await seated(-timedelta(minutes=20), status=LiveClassStatus.ENDED.value)
    error(await join(ended), 409, "BOOKING_WINDOW_CLOSED")
    cancelled = await seated(timedelta(minutes=5), status=LiveClassStatus.CANCELLED.value)
    error(await join(cancelled), 409, "BOOKING_WINDOW_CLOSED")
    # The trainer has the same window.
    error(
        await http.post(f"/trainer/live-classes/{too_early}/join", headers=trainer.headers),
        409,
        "BOOKING_WINDOW_CLOSED",
    )
    data(await http.post(f"/trainer/live-classes/{just_open}/join", headers=trainer.headers))


async def test_only_seated_members_join(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    now = clock.now()
    class_id = await make_live_class(db, client_a, trainer.trainer_id, now)
    error(
        await http.post(f"/live/classes/{class_id}/join", headers=member.headers), 403, "FORBIDDEN"
    )
    waiting = await make_user(http, db, client_a, "wait@example.com")
    await add_registration(db, client_a, class_id, waiting.id, now, waitlisted=True)
    answer = await http.post(f"/live/classes/{class_id}/join", headers=waiting.headers)
    assert "waitlist" in error(answer, 403, "FORBIDDEN")["error"]
    error(await http.post("/live/classes/999999/join", headers=member.headers), 404, "NOT_FOUND")


# --- participants --------------------------------------------------------------------------------


async def test_list_mute_and_remove_participants(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    member: TestUser,
    staff: TestUser,
    fake: FakeLiveKit,
    clock: FrozenClock,
) -> None:
    class_id = await make_live_class(db, client_a, trainer.trainer_id, clock.now())
    base = f"/trainer/live-classes/{class_id}/participants"
    # Before the room exists the list is empty.
    empty = data(await http.get(base, headers=trainer.headers))
    assert empty["items"] == []
    assert empty["pagination"]["total"] == 0

    room = data(
        await http.post(f"/trainer/live-classes/{class_id}/start", headers=trainer.headers)
    )["room"]
    fake.seed_participant(
        room,
        f"user-{member.id}",
        name="Maya Member",
        tracks=[("TR_mic", "audio"), ("TR_cam", "video")],
    )
    fake.seed_participant(
        room, f"trainer-{trainer.trainer_id}", name="Lena Live", tracks=[("TR_t", "video")]
    )

    listed = data(await http.get(base, headers=trainer.headers))
    assert [p["identity"] for p in listed["items"]] == [
        f"trainer-{trainer.trainer_id}",
        f"user-{member.id}",
    ]
    maya = listed["items"][1]
    assert maya["role"] == "member"
    assert maya["userId"] == member.id
    assert maya["state"] == "active"
    assert maya["isPublisher"] is True
    assert {(t["sid"], t["kind"], t["source"], t["muted"]) for t in maya["tracks"]} == {
        ("TR_mic", "audio", "microphone", False),
        ("TR_cam", "video", "camera", False),
    }
    assert listed["items"][0]["role"] == "trainer"
    assert listed["items"][0]["userId"] is None
    staff_view = data(
        await http.get(f"/manage/live-classes/{class_id}/participants", headers=staff.headers)
    )
    assert staff_view["pagination"]["total"] == 2

    muted = data(
        await http.post(
            f"{base}/user-{member.id}/mute", json={"trackSid": "TR_mic"}, headers=trainer.headers
        )
    )
    assert muted["track"] == {
        "sid": "TR_mic",
        "kind": "audio",
        "source": "microphone",
        "name": "audio",
        "muted": True,
    }
    assert fake.rooms[room].participants[f"user-{member.id}"].tracks[0].muted is True
    unmuted = data(
        await http.post(
            f"{base}/user-{member.id}/mute",
            json={"trackSid": "TR_mic", "muted": False},
            headers=trainer.headers,
        )
    )
    assert unmuted["track"]["muted"] is False
    calls = fake.calls_of("MutePublishedTrack")
    assert len(calls) == 2
    assert _grants(calls[0].claims).room_admin
    assert _grants(calls[0].claims).room == room

    unknown_track = await http.post(
        f"{base}/user-{member.id}/mute", json={"trackSid": "TR_x"}, headers=trainer.headers
    )
    error(unknown_track, 404, "NOT_FOUND")
    for bad in (
        {},
        {"trackSid": ""},
        {"trackSid": "TR_mic", "extra": 1},
        {"trackSid": "TR_mic", "muted": "maybe"},
    ):
        answer = await http.post(f"{base}/user-{member.id}/mute", json=bad, headers=trainer.headers)
        error(answer, 400, "VALIDATION_ERROR")
    error(
        await http.post(f"{base}/bad%20identity/remove", headers=trainer.headers),
        400,
        "VALIDATION_ERROR",
    )

    await add_registration(db, client_a, class_id, member.id, clock.now())
    assert (await http.post(f"/live/classes/{class_id}/join", headers=member.headers)).is_success
    removed = data(await http.post(f"{base}/user-{member.id}/remove", headers=trainer.headers))
    assert removed == {"identity": f"user-{member.id}", "removed": True}
    assert f"user-{member.id}" not in fake.rooms[room].participants
    # Removed means out: the join route does not hand the member a fresh token.
    barred = await http.post(f"/live/classes/{class_id}/join", headers=member.headers)
    assert "removed you" in error(barred, 403, "FORBIDDEN")["error"]
    again = await http.post(f"{base}/user-{member.id}/remove", headers=trainer.headers)
    error(again, 404, "NOT_FOUND")
    remaining = data(await http.get(base, headers=trainer.headers))
    assert [p["identity"] for p in remaining["items"]] == [f"trainer-{trainer.trainer_id}"]


# --- the embedded development default ------------------------------------------------------------


@asynccontextmanager
async def _default_app(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(make_settings())
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_default_settings_issue_tokens_but_manage_no_participants(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    member: TestUser,
    fake: FakeLiveKit,
    make_settings: Callable[..., Settings],
    clock: FrozenClock,
) -> None:
    now = clock.now()
    class_id = await make_live_class(db, client_a, trainer.trainer_id, now)
    await add_registration(db, client_a, class_id, member.id, now)
    async with _default_app(make_settings) as dev:
        started = data(
            await dev.post(f"/trainer/live-classes/{class_id}/start", headers=trainer.headers)
        )
        assert started["status"] == "live"
        assert started["managed"] is False
        assert started["roomSid"] is None

        answer = data(await dev.post(f"/live/classes/{class_id}/join", headers=member.headers))
        assert answer["url"] == "ws://localhost:7880"
        # Signed for the local dev server (its well-known key and short secret).
        claims = api.TokenVerifier("devkey", "secret").verify(answer["token"])
        assert claims.identity == f"user-{member.id}"
        assert _grants(claims).room == started["room"]

        base = f"/trainer/live-classes/{class_id}/participants"
        for response in (
            await dev.get(base, headers=trainer.headers),
            await dev.post(f"{base}/user-{member.id}/remove", headers=trainer.headers),
            await dev.post(
                f"{base}/user-{member.id}/mute", json={"trackSid": "TR_1"}, headers=trainer.headers
            ),
        ):
            body = error(response, 503, "PROVIDER_UNAVAILABLE")
            assert "STVOS_LIVEKIT_URL" in body["error"]
            assert "STVOS_LIVEKIT_API_SECRET" in body["error"]

        ended = data(
            await dev.post(f"/trainer/live-classes/{class_id}/end", headers=trainer.headers)
        )
        assert ended["status"] == "ended"
        assert ended["managed"] is False
    assert fake.calls == []  # nothing was sent to any LiveKit


async def test_concurrent_starts_create_one_room(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    trainer: LiveTrainer,
    fake: FakeLiveKit,
    clock: FrozenClock,
) -> None:
    class_id = await make_live_class(db, client_a, trainer.trainer_id, clock.now())
    answers = await asyncio.gather(
        *(
            http.post(f"/trainer/live-classes/{class_id}/start", headers=trainer.headers)
            for _ in range(8)
        )
    )
    assert sorted(a.status_code for a in answers) == [200] + [409] * 7
    assert len(fake.calls_of("CreateRoom")) == 1
    row = await _status(db, client_a, class_id)
    assert row.status == "live"
    assert row.room_sid == fake.rooms[row.room_name].room.sid
