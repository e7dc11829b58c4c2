"""Members and live classes: the schedule, one class, seats and the FIFO waitlist, under
concurrency on both databases; discover's ``upcomingLive`` and the trainer catalogue's
``upcomingGroupClasses``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from stvos.accounts.tokens import AccessClaims, Audience, open_family
from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Category, Client, OutboxMail, User
from stvos.models.live import LiveClass, LiveRegistration
from tests.live import add_registration, data, error, make_live_class, make_trainer_row
from tests.support.factories import TestClient, make_user

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def url(class_id: int, tail: str = "") -> str:
    return f"/live/classes/{class_id}{tail}"


async def register(http: httpx.AsyncClient, headers: dict[str, str], class_id: int) -> Any:
    return await http.post(url(class_id, "/registration"), headers=headers)


async def unregister(http: httpx.AsyncClient, headers: dict[str, str], class_id: int) -> Any:
    return await http.delete(url(class_id, "/registration"), headers=headers)


async def make_category(db: Database, client: TestClient, name: str) -> int:
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        category = Category(name=name, slug=name.lower())
        session.add(category)
        await session.flush()
        return category.id


async def quick_members(
    app: FastAPI, db: Database, client: TestClient, count: int, prefix: str = "m"
) -> list[tuple[int, dict[str, str]]]:
    """``count`` signed-in members made in one transaction, tokens minted by the app's signer
    (the login route hashes passwords and throttles; neither is what these tests are about)."""
    signer = app.state.accounts.signer
    settings = app.state.settings
    out: list[tuple[int, dict[str, str]]] = []
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        users = [
            User(
                email=f"{prefix}{i}@example.com",
                email_normalized=f"{prefix}{i}@example.com",
                password_hash="!",
                name=f"Member {i}",
                role="user",
                status="active",
                profile={},
                settings={},
                token_version=1,
            )
            for i in range(count)
        ]
        session.add_all(users)
        await session.flush()
        for user in users:
            family = await open_family(session, settings, client_id=client.id, user_id=user.id)
            access = signer.issue(
                AccessClaims(
                    audience=Audience.USER,
                    subject_id=user.id,
                    token_version=1,
                    client_id=client.id,
                    role="user",
                    family=family.family,
                )
            )
            headers = {**client.headers, "Authorization": f"Bearer {access.token}"}
            out.append((user.id, headers))
    return out


async def registrations(db: Database, client: TestClient, class_id: int) -> list[LiveRegistration]:
    async with db.transaction(TenantScope.for_client(client.id), write=False) as session:
        rows = await session.scalars(
            select(LiveRegistration)
            .where(LiveRegistration.live_class_id == class_id)
            .order_by(LiveRegistration.id)
        )
        return list(rows)


async def counters(db: Database, client: TestClient, class_id: int) -> tuple[int, int]:
    async with db.transaction(TenantScope.for_client(client.id), write=False) as session:
        live = await session.get_one(LiveClass, class_id)
        return live.registered_count, live.waitlist_seq


async def mails(db: Database, client: TestClient, template: str) -> list[OutboxMail]:
    async with db.transaction(TenantScope.for_client(client.id), write=False) as session:
        rows = await session.scalars(select(OutboxMail).where(OutboxMail.template == template))
        return list(rows)


async def set_features(app: FastAPI, db: Database, client: TestClient, *, live: bool) -> None:
    async with db.transaction(TenantScope.for_platform()) as session:
        row = await session.get_one(Client, client.id)
        features = [f for f in row.enabled_features if f != "live_classes"]
        row.enabled_features = [*features, "live_classes"] if live else features
    app.state.authenticator.invalidate()


# --- the schedule -----------------------------------------------------------------------------


async def test_schedule_window_filters_and_paging(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    lena = await make_trainer_row(db, client_a, name="Lena")
    omar = await make_trainer_row(db, client_a, name="Omar")
    yoga = await make_category(db, client_a, "Yoga")
    running = await make_live_class(
        db, client_a, lena, NOW - timedelta(minutes=10), title="In progress", status="live"
    )
    soon = await make_live_class(db, client_a, lena, at(2), title="Soon", category_id=yoga)
    full = await make_live_class(db, client_a, omar, at(5), title="Full", capacity=1)
    later = await make_live_class(db, client_a, omar, at(14, 23), title="Day 14")
    far = await make_live_class(db, client_a, lena, at(20), title="Far")
    cancelled = await make_live_class(db, client_a, lena, at(3), status="cancelled")
    await make_live_class(db, client_a, lena, NOW - timedelta(days=1), status="ended")
    other = await make_user(http, db, client_a, "other@example.com")
    await add_registration(db, client_a, full, other.id, NOW)

    listed = data(await http.get("/live/classes", headers=member.headers))
    assert [c["id"] for c in listed["items"]] == [running, soon, full, later]
    assert listed["pagination"] == {"page": 1, "limit": 20, "total": 4, "totalPages": 1}
    first = listed["items"][1]
    assert first["title"] == "Soon"
    assert first["status"] == "scheduled"
    assert first["capacity"] == 20
    assert first["spotsLeft"] == 20
    assert first["registeredCount"] == 0
    assert first["waitlistCount"] == 0
    assert first["category"] == {"id": yoga, "name": "Yoga"}
    assert first["trainer"] == {"id": lena, "name": "Lena", "imageUrl": None}
    assert first["startsAt"] == "2026-01-02T10:00:00Z"
    assert first["registration"] is None
    assert listed["items"][2]["spotsLeft"] == 0  # another member's seat; not theirs to see
    assert listed["items"][2]["registration"] is None

    async def ids(query: str) -> list[int]:
        body = data(await http.get(f"/live/classes?{query}", headers=member.headers))
        return [c["id"] for c in body["items"]]

    assert await ids(f"trainerId={omar}") == [full, later]
    assert await ids(f"categoryId={yoga}") == [soon]
    assert await ids("hasSpace=true") == [running, soon, later]
    assert await ids("hasSpace=false") == [full]
    assert await ids("status=cancelled") == [cancelled]
    assert await ids("from=2026-01-14&to=2026-01-25") == [later, far]
    assert await ids("from=2026-01-05T10:30:00Z&to=2026-01-14T12:00:00Z") == [full]
    assert await ids("limit=2&page=2") == [full, later]

    for query, field in [
        ("from=yesterday", "from"),
        ("from=2026-01-10&to=2026-01-05", "to"),
        ("from=2026-01-01&to=2026-04-01", "to"),
        ("from=2026-01-05T10:00:00", "from"),
    ]:
        body = error(
            await http.get(f"/live/classes?{query}", headers=member.headers),
            400,
            "VALIDATION_ERROR",
        )
        assert body["details"][0]["field"] == field, query
    for query in ("hasSpace=maybe", "status=postponed", "trainerId=0", "categoryId=x"):
        error(
            await http.get(f"/live/classes?{query}", headers=member.headers),
            400,
            "VALIDATION_ERROR",
        )
    error(await http.get("/live/classes", headers=client_a.headers), 401, "UNAUTHORIZED")


async def test_dates_are_read_in_the_members_zone(
    http: httpx.AsyncClient, db: Database, client_b: TestClient, clock: FrozenClock
) -> None:
    # client_b is in America/New_York: 2026-01-05 runs 05:00Z .. 2026-01-06 05:00Z.
    member = await make_user(http, db, client_b, "ny@example.com")
    trainer = await make_trainer_row(db, client_b)
    early = await make_live_class(db, client_b, trainer, at(5, 3))  # Jan 4, 22:00 local
    late = await make_live_class(db, client_b, trainer, at(6, 3))  # Jan 5, 22:00 local
    body = data(
        await http.get("/live/classes?from=2026-01-05&to=2026-01-05", headers=member.headers)
    )
    assert [c["id"] for c in body["items"]] == [late]
    assert early != late


# --- registering, the waitlist, unregistering -------------------------------------------------


async def test_register_waitlist_unregister_and_promotion(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    trainer = await make_trainer_row(db, client_a)
    class_id = await make_live_class(db, client_a, trainer, at(3), title="Spin", capacity=2)
    members = [await make_user(http, db, client_a, f"m{i}@example.com") for i in range(5)]
    m0, m1, m2, m3, outsider = members

    first = data(await register(http, m0.headers, class_id), 201)
    assert first["status"] == "registered"
    assert first["waitlistPosition"] is None
    assert first["liveClassId"] == class_id
    assert first["spotsLeft"] == 1
    again = data(await register(http, m0.headers, class_id), 200)
    assert again["status"] == "registered"
    assert again["registeredAt"] == first["registeredAt"]
    assert data(await register(http, m1.headers, class_id), 201)["spotsLeft"] == 0
    w2 = data(await register(http, m2.headers, class_id), 201)
    assert (w2["status"], w2["waitlistPosition"], w2["waitlistCount"]) == ("waitlisted", 1, 1)
    w3 = data(await register(http, m3.headers, class_id), 201)
    assert (w3["status"], w3["waitlistPosition"], w3["waitlistCount"]) == ("waitlisted", 2, 2)
    assert data(await register(http, m3.headers, class_id), 200)["waitlistPosition"] == 2

    detail = data(await http.get(url(class_id), headers=m3.headers))
    assert detail["capacity"] == 2
    assert detail["registeredCount"] == 2
    assert detail["spotsLeft"] == 0
    assert detail["waitlistCount"] == 2
    assert detail["registration"]["status"] == "waitlisted"
    assert detail["registration"]["waitlistPosition"] == 2
    assert data(await http.get(url(class_id), headers=outsider.headers))["registration"] is None
    mine = data(await http.get(url(class_id), headers=m0.headers))["registration"]
    assert mine["status"] == "registered"
    assert mine["waitlistPosition"] is None

    # A seat freed: it passes to the first in line, in the same transaction.
    gone = data(await unregister(http, m0.headers, class_id))
    assert gone["status"] == "cancelled"
    assert gone["cancelledAt"] == "2026-01-01T00:00:00Z"
    assert gone["spotsLeft"] == 0
    assert gone["waitlistCount"] == 1
    promoted = data(await http.get(url(class_id), headers=m2.headers))["registration"]
    assert promoted["status"] == "registered"
    assert promoted["promotedAt"] is not None
    assert (
        data(await http.get(url(class_id), headers=m3.headers))["registration"]["waitlistPosition"]
        == 1
    )
    assert await counters(db, client_a, class_id) == (2, 2)
    (mail,) = await mails(db, client_a, "live_class_promoted")
    assert mail.to_address == "m2@example.com"
    assert "Spin" in mail.subject

    # Leaving the waitlist moves nobody into a seat; leaving twice is 404.
    assert data(await unregister(http, m3.headers, class_id))["waitlistCount"] == 0
    error(await unregister(http, m3.headers, class_id), 404, "NOT_FOUND")
    error(await unregister(http, outsider.headers, class_id), 404, "NOT_FOUND")

    # Nobody waiting: the seat is given back.
    assert data(await unregister(http, m1.headers, class_id))["spotsLeft"] == 1
    assert await counters(db, client_a, class_id) == (1, 2)

    # Coming back reuses the member's row (one per member and class).
    back = data(await register(http, m0.headers, class_id), 201)
    assert back["status"] == "registered"
    assert back["spotsLeft"] == 0
    rows = await registrations(db, client_a, class_id)
    assert len(rows) == 4
    assert sorted((r.user_id, r.status) for r in rows) == sorted(
        [(m0.id, "registered"), (m1.id, "cancelled"), (m2.id, "registered"), (m3.id, "cancelled")]
    )
    assert len(await mails(db, client_a, "live_class_promoted")) == 1


async def test_registration_state_rules_and_premium(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    other = await make_user(http, db, client_a, "other@example.com")
    trainer = await make_trainer_row(db, client_a)
    ended = await make_live_class(db, client_a, trainer, at(2), status="ended")
    cancelled = await make_live_class(db, client_a, trainer, at(2), status="cancelled")
    overdue = await make_live_class(db, client_a, trainer, NOW - timedelta(hours=2))
    running = await make_live_class(
        db, client_a, trainer, NOW - timedelta(minutes=5), status="live", capacity=1, minutes=10
    )
    premium = await make_live_class(db, client_a, trainer, at(4))
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        (await session.get_one(LiveClass, premium)).is_premium = True

    for class_id in (ended, cancelled, overdue):
        error(await register(http, member.headers, class_id), 409, "INVALID_STATE_TRANSITION")
    assert data(await register(http, other.headers, running), 201)["status"] == "registered"
    error(await register(http, member.headers, running), 409, "CLASS_FULL")
    assert await counters(db, client_a, running) == (1, 0)

    error(await register(http, member.headers, premium), 403, "PREMIUM_REQUIRED")
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        user = await session.get_one(User, member.id)
        user.premium_until = NOW + timedelta(days=30)
    assert data(await register(http, member.headers, premium), 201)["status"] == "registered"

    # Once a class is over, the seat can no longer be given up.
    clock.advance(timedelta(minutes=6))
    error(await unregister(http, other.headers, running), 409, "INVALID_STATE_TRANSITION")
    error(await register(http, member.headers, 999_999), 404, "NOT_FOUND")
    error(await http.get(url(999_999), headers=member.headers), 404, "NOT_FOUND")
    error(await register(http, member.headers, 0), 400, "VALIDATION_ERROR")
    error(await http.get("/live/classes/abc", headers=member.headers), 400, "VALIDATION_ERROR")


async def test_idempotency_key_replays_the_first_answer(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer = await make_trainer_row(db, client_a)
    class_id = await make_live_class(db, client_a, trainer, at(3))
    headers = {**member.headers, "Idempotency-Key": "reg-1"}
    first = await http.post(url(class_id, "/registration"), headers=headers)
    replay = await http.post(url(class_id, "/registration"), headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert await counters(db, client_a, class_id) == (1, 0)


# --- isolation and the feature flag -----------------------------------------------------------


async def test_other_clients_classes_are_not_found(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    clock: FrozenClock,
) -> None:
    alice = await make_user(http, db, client_a, "alice@example.com")
    bob = await make_user(http, db, client_b, "bob@example.com")
    trainer_a = await make_trainer_row(db, client_a)
    class_a = await make_live_class(db, client_a, trainer_a, at(3))
    await add_registration(db, client_a, class_a, alice.id, NOW)

    error(await http.get(url(class_a), headers=bob.headers), 404, "NOT_FOUND")
    error(await register(http, bob.headers, class_a), 404, "NOT_FOUND")
    error(await unregister(http, bob.headers, class_a), 404, "NOT_FOUND")
    assert data(await http.get("/live/classes", headers=bob.headers))["items"] == []
    # Client A's key with client B's token is refused outright.
    mixed = {**client_a.headers, "Authorization": bob.headers["Authorization"]}
    assert (await http.get(url(class_a), headers=mixed)).status_code == 401
    assert await counters(db, client_a, class_a) == (1, 0)
    assert [r.user_id for r in await registrations(db, client_a, class_a)] == [alice.id]


async def test_live_classes_feature_gates_the_routes(
    app: FastAPI, http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer = await make_trainer_row(db, client_a)
    class_id = await make_live_class(db, client_a, trainer, at(3))
    await set_features(app, db, client_a, live=False)
    for response in (
        await http.get("/live/classes", headers=member.headers),
        await http.get(url(class_id), headers=member.headers),
        await register(http, member.headers, class_id),
        await unregister(http, member.headers, class_id),
    ):
        error(response, 403, "FEATURE_DISABLED")
    discover = data(await http.get("/content/discover", headers=member.headers))
    assert discover["upcomingLive"] == []
    group = data(await http.get(f"/trainers/{trainer}/classes", headers=client_a.headers))
    assert group["upcomingGroupClasses"] == []


# --- concurrency --------------------------------------------------------------------------------


async def test_two_hundred_concurrent_registrations_fill_twenty_seats_and_queue_the_rest(
    app: FastAPI, http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    members = await quick_members(app, db, client_a, 200)
    trainer = await make_trainer_row(db, client_a)
    class_id = await make_live_class(db, client_a, trainer, at(3), capacity=20)

    responses = await asyncio.gather(*(register(http, h, class_id) for _, h in members))
    assert [r.status_code for r in responses] == [201] * 200, [
        r.text for r in responses if r.status_code != 201
    ][:3]
    answers = [r.json()["data"] for r in responses]
    assert sum(a["status"] == "registered" for a in answers) == 20
    positions = sorted(a["waitlistPosition"] for a in answers if a["status"] == "waitlisted")
    assert positions == list(range(1, 181))

    rows = await registrations(db, client_a, class_id)
    seated = [r for r in rows if r.status == "registered"]
    queued = sorted(
        (r for r in rows if r.status == "waitlisted"), key=lambda r: r.waitlist_seq or 0
    )
    assert (len(seated), len(queued)) == (20, 180)
    assert [r.waitlist_seq for r in queued] == list(range(1, 181))
    assert await counters(db, client_a, class_id) == (20, 180)
    # Each member's answer named their place in the order of the queue numbers.
    position_of = {
        user_id: a["waitlistPosition"]
        for (user_id, _), a in zip(members, answers, strict=True)
        if a["status"] == "waitlisted"
    }
    assert [position_of[r.user_id] for r in queued] == list(range(1, 181))
    # And reading the class says the same.
    headers = dict(members)
    for row in (queued[0], queued[97], queued[-1]):
        detail = data(await http.get(url(class_id), headers=headers[row.user_id]))
        assert detail["registration"]["waitlistPosition"] == row.waitlist_seq
        assert (detail["spotsLeft"], detail["waitlistCount"]) == (0, 180)


async def test_a_members_concurrent_registrations_make_one(
    app: FastAPI, http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    ((user_id, headers),) = await quick_members(app, db, client_a, 1)
    trainer = await make_trainer_row(db, client_a)
    open_class = await make_live_class(db, client_a, trainer, at(3), capacity=5)
    responses = await asyncio.gather(*(register(http, headers, open_class) for _ in range(10)))
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert {r.json()["data"]["status"] for r in responses} == {"registered"}
    assert (await counters(db, client_a, open_class))[0] == 1
    assert [r.user_id for r in await registrations(db, client_a, open_class)] == [user_id]

    full_class = await make_live_class(db, client_a, trainer, at(4), capacity=0)
    responses = await asyncio.gather(*(register(http, headers, full_class) for _ in range(10)))
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert {r.json()["data"]["waitlistPosition"] for r in responses} == {1}
    (row,) = await registrations(db, client_a, full_class)
    assert row.status == "waitlisted"


async def test_concurrent_unregistrations_promote_the_first_in_line_in_order(
    app: FastAPI, http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    members = await quick_members(app, db, client_a, 15)
    trainer = await make_trainer_row(db, client_a)
    class_id = await make_live_class(db, client_a, trainer, at(3), capacity=5)
    for _, headers in members:  # in turn: the queue order is the members' order
        assert (await register(http, headers, class_id)).status_code == 201
    seated, queued = members[:5], members[5:]

    responses = await asyncio.gather(*(unregister(http, h, class_id) for _, h in seated))
    assert [r.status_code for r in responses] == [200] * 5
    rows = {r.user_id: r for r in await registrations(db, client_a, class_id)}
    assert [rows[u].status for u, _ in queued[:5]] == ["registered"] * 5
    assert [rows[u].status for u, _ in queued[5:]] == ["waitlisted"] * 5
    assert all(rows[u].promoted_at is not None for u, _ in queued[:5])
    assert await counters(db, client_a, class_id) == (5, 10)
    for place, (_, headers) in enumerate(queued[5:], start=1):
        detail = data(await http.get(url(class_id), headers=headers))
        assert detail["registration"]["waitlistPosition"] == place
    assert len(await mails(db, client_a, "live_class_promoted")) == 5


# --- discover and the trainer catalogue -------------------------------------------------------


async def test_discover_shows_upcoming_live_classes(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer = await make_trainer_row(db, client_a, name="Lena")
    ids = [
        await make_live_class(db, client_a, trainer, at(2 + i), title=f"Class {i}", capacity=3)
        for i in range(12)
    ]
    await make_live_class(db, client_a, trainer, at(2, 8), status="cancelled")
    await add_registration(db, client_a, ids[1], member.id, NOW)
    body = data(await http.get("/content/discover", headers=member.headers))
    upcoming = body["upcomingLive"]
    assert [c["id"] for c in upcoming] == ids[:10]
    assert upcoming[0]["spotsLeft"] == 3
    assert upcoming[0]["registration"] is None
    assert upcoming[1]["spotsLeft"] == 2
    assert upcoming[1]["registration"]["status"] == "registered"
    assert upcoming[0]["trainer"]["name"] == "Lena"

    # The statement is built once: another member, and a later instant, are its parameters.
    other = await make_user(http, db, client_a, "other@example.com")
    upcoming = data(await http.get("/content/discover", headers=other.headers))["upcomingLive"]
    assert [c["registration"] for c in upcoming[:2]] == [None, None]
    clock.advance(at(3, 11) - NOW)  # classes 0 and 1 (days 2 and 3, 10:00-10:45) are over
    later = await make_user(http, db, client_a, "later@example.com")  # tokens have expired
    upcoming = data(await http.get("/content/discover", headers=later.headers))["upcomingLive"]
    assert [c["id"] for c in upcoming] == ids[2:12]


async def test_trainer_classes_carry_upcoming_group_classes(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    clock: FrozenClock,
) -> None:
    lena = await make_trainer_row(db, client_a, name="Lena")
    omar = await make_trainer_row(db, client_a, name="Omar")
    mine = await make_live_class(db, client_a, lena, at(3), capacity=4)
    await make_live_class(db, client_a, lena, NOW - timedelta(days=1), status="ended")
    await make_live_class(db, client_a, omar, at(2))
    member = await make_user(http, db, client_a, "member@example.com")
    await add_registration(db, client_a, mine, member.id, NOW)

    body = data(await http.get(f"/trainers/{lena}/classes", headers=client_a.headers))
    assert body["items"] == []
    assert body["pagination"]["total"] == 0
    (group,) = body["upcomingGroupClasses"]
    assert (group["id"], group["capacity"], group["spotsLeft"]) == (mine, 4, 3)
    assert group["registration"] is None  # an app-key answer names nobody's registration
    error(await http.get(f"/trainers/{lena}/classes", headers=client_b.headers), 404, "NOT_FOUND")


async def test_registration_counts_stay_consistent_with_rows(
    app: FastAPI, http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    """Random-ish churn (register, leave, come back) keeps the counter equal to the seats."""
    members = await quick_members(app, db, client_a, 12)
    trainer = await make_trainer_row(db, client_a)
    class_id = await make_live_class(db, client_a, trainer, at(3), capacity=4)
    calls = [register(http, h, class_id) for _, h in members]
    calls += [unregister(http, h, class_id) for _, h in members[::3]]
    calls += [register(http, h, class_id) for _, h in members[::2]]
    responses = await asyncio.gather(*calls)
    assert all(r.status_code in (200, 201, 404) for r in responses), [
        r.text for r in responses if r.status_code not in (200, 201, 404)
    ]
    rows = await registrations(db, client_a, class_id)
    seated = sum(r.status == "registered" for r in rows)
    waiting = sum(r.status == "waitlisted" for r in rows)
    registered_count, _ = await counters(db, client_a, class_id)
    assert registered_count == seated
    assert seated == min(4, seated + waiting)  # no free seat while anyone waits
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        total = await session.scalar(
            select(func.count(LiveRegistration.id)).where(
                LiveRegistration.live_class_id == class_id
            )
        )
    assert total == len({r.user_id for r in rows}) == len(rows)
