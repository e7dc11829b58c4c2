"""The statement budget of ``GET /content/discover`` for a signed-in member: at most six
statements in all (BEGIN/COMMIT aside) on either database, the same number with 5 or 50
classes, with classes to continue and live classes (one of them with the member waiting).

The platform's per-request statements (the PostgreSQL tenant declaration ``set_config`` and
the sign-in check ``FROM users``) are counted apart from the route's own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.models import Category, Trainer
from tests.content import a_class, save
from tests.live import add_registration, make_live_class, make_trainer_row
from tests.support.factories import TestClient, TestUser, make_user
from tests.support.statements import count_statements

TOTAL_BUDGET = 6


@dataclass(frozen=True)
class Count:
    platform: list[str]
    route: list[str]

    @property
    def total(self) -> int:
        return len(self.platform) + len(self.route)


async def _library(
    db: Database, client: TestClient, count: int, start: int, clock: FrozenClock
) -> list[int]:
    """``count`` featured classes published this week, each with its own trainer and category
    (the summaries' lookups then have as many ids as classes)."""
    now = clock.now()
    trainers = await save(db, client, *(Trainer(name=f"Trainer {start + i}") for i in range(count)))
    categories = await save(
        db,
        client,
        *(Category(name=f"Category {start + i}", slug=f"c-{start + i}") for i in range(count)),
    )
    return await save(
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
                duration_minutes=10,
            )
            for i in range(count)
        ),
    )


async def _watch(
    http: httpx.AsyncClient, clock: FrozenClock, user: TestUser, class_id: int, seconds: int
) -> None:
    """Start a session and heartbeat every 30 s of real time up to ``seconds``."""
    started = await http.post("/sessions/start", json={"classId": class_id}, headers=user.headers)
    assert started.status_code == 201, started.text
    session_id = started.json()["data"]["id"]
    for position in range(30, seconds + 1, 30):
        clock.advance(30)
        beat = await http.post(
            f"/sessions/{session_id}/progress", json={"position": position}, headers=user.headers
        )
        assert beat.status_code == 200, beat.text


async def _live(
    db: Database,
    client: TestClient,
    clock: FrozenClock,
    member: TestUser,
    others: tuple[TestUser, TestUser],
    count: int,
    first_day: int,
) -> list[int]:
    """``count`` live classes with their own trainer; the member holds a seat in the first and
    waits in the second, which is full (one member seated, one waiting ahead)."""
    now = clock.now()
    ids = []
    for i in range(count):
        trainer = await make_trainer_row(db, client, name=f"Live trainer {first_day + i}")
        ids.append(
            await make_live_class(
                db,
                client,
                trainer,
                now + timedelta(days=first_day + i),
                title=f"Live {first_day + i}",
                capacity=1 if i == 1 else 5,
            )
        )
    await add_registration(db, client, ids[0], member.id, now)
    await add_registration(db, client, ids[1], others[0].id, now)
    await add_registration(db, client, ids[1], others[1].id, now, waitlisted=True)
    await add_registration(db, client, ids[1], member.id, now, waitlisted=True)
    return ids


async def _count(
    app: FastAPI, http: httpx.AsyncClient, client: TestClient, member: TestUser
) -> tuple[Count, dict[str, Any]]:
    # The API-key lookup is cached per app key (shared by all its users), not paid per request;
    # the frozen clock may have outrun that cache, so refresh it outside the count.
    assert (await http.get("/app/config", headers=client.headers)).status_code == 200
    with count_statements(app) as statements:
        response = await http.get("/content/discover", headers=member.headers)
    assert response.status_code == 200, response.text
    work = [s for s in statements if not s.startswith(("BEGIN", "COMMIT"))]
    platform = [s for s in work if "set_config" in s or "FROM users" in s]
    route = [s for s in work if s not in platform]
    data: dict[str, Any] = response.json()["data"]
    return Count(platform, route), data


async def test_discover_runs_at_most_six_statements_whatever_the_library_size(
    http: httpx.AsyncClient,
    app: FastAPI,
    db: Database,
    client_a: TestClient,
    clock: FrozenClock,
    is_postgres: bool,
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    others = (
        await make_user(http, db, client_a, "seated@example.com"),
        await make_user(http, db, client_a, "waiting@example.com"),
    )
    small_library = await _library(db, client_a, 5, 0, clock)
    await _watch(http, clock, member, small_library[0], 60)
    await _watch(http, clock, member, small_library[1], 120)
    live = await _live(db, client_a, clock, member, others, 3, 2)

    small, small_data = await _count(app, http, client_a, member)
    assert [c["id"] for c in small_data["continueWatching"]] == small_library[1::-1]
    assert [c["id"] for c in small_data["upcomingLive"]] == live
    assert small_data["upcomingLive"][0]["registration"]["status"] == "registered"
    waiting = small_data["upcomingLive"][1]["registration"]
    assert (waiting["status"], waiting["waitlistPosition"]) == ("waitlisted", 2)
    assert small_data["upcomingLive"][1]["waitlistCount"] == 2
    assert small_data["upcomingLive"][2]["trainer"]["name"] == "Live trainer 4"
    assert len(small_data["featured"]) == 5
    assert small_data["featured"][0]["trainer"]["name"] == "Trainer 0"
    assert {c["name"] for c in small_data["categories"]} == {f"Category {i}" for i in range(5)}

    large_library = await _library(db, client_a, 45, 5, clock)
    for class_id in large_library[:3]:
        await _watch(http, clock, member, class_id, 30)
    more_live = await _live(db, client_a, clock, member, others, 12, 10)

    large, large_data = await _count(app, http, client_a, member)
    assert len(large_data["featured"]) == 10
    assert len(large_data["newThisWeek"]) == 10
    assert len(large_data["continueWatching"]) == 5
    assert len(large_data["upcomingLive"]) == 10
    assert [c["id"] for c in large_data["upcomingLive"]] == [*live, *more_live[:7]]
    assert len(large_data["categories"]) == 50

    print(f"discover with 5 classes: {len(small.platform)} platform + {len(small.route)} route")
    print(f"discover with 50 classes: {len(large.platform)} platform + {len(large.route)} route")
    # The platform's share: the sign-in check, and on PostgreSQL the tenant declaration unless
    # it travels in the BEGIN message (then it is no statement of its own).
    assert len(small.platform) == len(large.platform)
    assert len(large.platform) in ((1, 2) if is_postgres else (1,)), large.platform
    assert len(small.route) == len(large.route), (small.route, large.route)
    assert large.total <= TOTAL_BUDGET, large.route
