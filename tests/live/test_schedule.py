"""Scheduling live classes: /manage/live-classes and /trainer/live-classes, weekly series across
daylight-saving changes, the state machine, edits, and cancellation mails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.errors import InvalidStateTransition
from stvos.kit.policy import Auth, Caller, Policy
from stvos.kit.tenancy import TenantScope
from stvos.live.errors import LiveClassNotFound
from stvos.live.schedule import check_transition, class_for_trainer, move_to
from stvos.models import Category, LiveClass, LiveClassStatus, LiveRegistration, OutboxMail, User
from tests.live import (
    LiveTrainer,
    add_registration,
    data,
    error,
    make_live_class,
    make_live_trainer,
    make_trainer_row,
)
from tests.support.factories import TestClient, TestUser, make_client, make_user

T0 = datetime(2026, 1, 1, tzinfo=UTC)  # the frozen clock's start (a Thursday)


def one_off(starts_at: str = "2026-01-05T18:00:00Z", **fields: Any) -> dict[str, Any]:
    return {
        "title": "Live HIIT",
        "startsAt": starts_at,
        "durationMinutes": 45,
        "capacity": 12,
        "intensity": "high",
        "isPremium": False,
        **fields,
    }


@pytest.fixture
async def coach(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> LiveTrainer:
    return await make_live_trainer(http, db, client_a, "coach@example.com")


@pytest.fixture
async def staff(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> TestUser:
    return await make_user(http, db, client_a, "admin@example.com", role="client_admin")


async def _class_row(db: Database, client: TestClient, class_id: int) -> LiveClass:
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        live = await session.get_one(LiveClass, class_id)
        session.expunge(live)
        return live


# --- scheduling -------------------------------------------------------------------------------


async def test_a_trainer_schedules_a_one_off_class(
    http: httpx.AsyncClient, coach: LiveTrainer
) -> None:
    answer = data(
        await http.post("/trainer/live-classes", json=one_off(), headers=coach.headers), 201
    )
    assert answer["series"] is None
    [made] = answer["classes"]
    assert made["title"] == "Live HIIT"
    assert made["startsAt"] == "2026-01-05T18:00:00Z"
    assert made["endsAt"] == "2026-01-05T18:45:00Z"
    assert made["timeZone"] == "Europe/London"  # the studio's, the trainer has none
    assert made["localStart"] == "2026-01-05T18:00"
    assert (made["capacity"], made["registeredCount"], made["spotsLeft"]) == (12, 0, 12)
    assert made["waitlistCount"] == 0
    assert made["status"] == "scheduled"
    assert made["trainer"]["id"] == coach.trainer_id
    assert "roomName" not in made

    one = data(await http.get(f"/trainer/live-classes/{made['id']}", headers=coach.headers))
    assert one == made
    listed = data(await http.get("/trainer/live-classes", headers=coach.headers))
    assert [c["id"] for c in listed["items"]] == [made["id"]]
    assert listed["pagination"]["total"] == 1


async def test_scheduling_honours_an_idempotency_key(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: LiveTrainer
) -> None:
    headers = {**coach.headers, "Idempotency-Key": "sched-1"}
    first = await http.post("/trainer/live-classes", json=one_off(), headers=headers)
    second = await http.post("/trainer/live-classes", json=one_off(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        assert len(list(await session.scalars(select(LiveClass)))) == 1


async def test_staff_schedule_for_any_trainer_and_filter_the_list(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, staff: TestUser
) -> None:
    maya = await make_trainer_row(db, client_a, name="Maya", time_zone="America/New_York")
    leo = await make_trainer_row(db, client_a, name="Leo")
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        category = Category(name="HIIT", slug="hiit")
        session.add(category)
        await session.flush()
        category_id = category.id
    made = data(
        await http.post(
            "/manage/live-classes",
            json=one_off(trainerId=maya, categoryId=category_id),
            headers=staff.headers,
        ),
        201,
    )["classes"][0]
    assert made["trainer"]["name"] == "Maya"
    assert made["category"] == {"id": category_id, "name": "HIIT"}
    assert made["timeZone"] == "America/New_York"
    assert made["localStart"] == "2026-01-05T13:00"
    for day in (6, 7):
        data(
            await http.post(
                "/manage/live-classes",
                json=one_off(f"2026-01-0{day}T09:00:00Z", trainerId=leo),
                headers=staff.headers,
            ),
            201,
        )

    async def ids(query: str) -> list[int]:
        page = data(await http.get(f"/manage/live-classes?{query}", headers=staff.headers))
        return [c["trainer"]["id"] for c in page["items"]]

    assert await ids("") == [maya, leo, leo]
    assert await ids(f"trainerId={leo}") == [leo, leo]
    assert await ids("from=2026-01-06T00:00:00Z&to=2026-01-07T00:00:00Z") == [leo]
    assert await ids("status=cancelled") == []
    page = data(await http.get("/manage/live-classes?limit=2&page=2", headers=staff.headers))
    assert page["pagination"] == {"page": 2, "limit": 2, "total": 3, "totalPages": 2}
    assert len(page["items"]) == 1


async def test_bad_input_is_a_validation_error(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    coach: LiveTrainer,
    staff: TestUser,
) -> None:
    series = {
        "weekdays": [0],
        "localTime": "07:00",
        "startsOn": "2026-01-05",
        "until": "2026-02-01",
    }
    bad_bodies = [
        {},
        one_off(durationMinutes=5),
        one_off(durationMinutes=241),
        one_off(capacity=0),
        one_off(capacity=1001),
        one_off(intensity="extreme"),
        one_off(title=""),
        one_off(unknown=1),
        one_off("2025-12-31T18:00:00Z"),  # past
        one_off("2026-01-05T18:00:00"),  # no zone
        one_off(1767636000),  # a number, not an ISO instant
        one_off("2027-06-01T18:00:00Z"),  # more than a year ahead
        one_off(series=series),  # both
        {**one_off(), "startsAt": None},  # neither
        {**one_off(), "startsAt": None, "series": {**series, "weekdays": []}},
        {**one_off(), "startsAt": None, "series": {**series, "weekdays": [7]}},
        {**one_off(), "startsAt": None, "series": {**series, "weekdays": [1, "tuesday"]}},
        {**one_off(), "startsAt": None, "series": {**series, "localTime": "25:00"}},
        {**one_off(), "startsAt": None, "series": {**series, "until": "2026-01-01"}},
        {**one_off(), "startsAt": None, "series": {**series, "startsOn": "2025-12-29"}},
        {**one_off(), "startsAt": None, "series": {**series, "until": "2026-07-02"}},
        one_off(categoryId=999_999),
        one_off(trainerId=coach.trainer_id),  # a trainer schedules only themselves
    ]
    for body in bad_bodies:
        response = await http.post("/trainer/live-classes", json=body, headers=coach.headers)
        body_text = response.text
        assert response.status_code == 400, (body, body_text)
        assert response.json()["code"] == "VALIDATION_ERROR", body
    for body in (one_off(), one_off(trainerId=999_999), one_off(trainerId=0)):
        error(
            await http.post("/manage/live-classes", json=body, headers=staff.headers),
            400,
            "VALIDATION_ERROR",
        )
    class_id = await make_live_class(db, client_a, coach.trainer_id, T0 + timedelta(days=3))
    for patch in ({}, {"title": None}, {"capacity": 0}, {"startsAt": "2025-01-01T00:00:00Z"}):
        error(
            await http.patch(
                f"/trainer/live-classes/{class_id}", json=patch, headers=coach.headers
            ),
            400,
            "VALIDATION_ERROR",
        )
    error(
        await http.post(f"/trainer/live-classes/{class_id}/cancel", json={}, headers=coach.headers),
        400,
        "VALIDATION_ERROR",
    )
    for query in (
        "from=yesterday",
        "status=open",
        "from=2026-01-05T00:00:00Z&to=2026-01-04T00:00:00Z",
    ):
        error(
            await http.get(f"/trainer/live-classes?{query}", headers=coach.headers),
            400,
            "VALIDATION_ERROR",
        )
    error(await http.get("/manage/live-classes/0", headers=staff.headers), 400, "VALIDATION_ERROR")
    assert (await _class_row(db, client_a, class_id)).title == "Live HIIT"  # nothing changed


# --- weekly series and daylight saving ---------------------------------------------------------


async def test_a_series_keeps_its_local_time_across_the_spring_change(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    coach = await make_live_trainer(
        http, db, client_a, "london@example.com", time_zone="Europe/London"
    )
    body = {
        **one_off(),
        "startsAt": None,
        "series": {
            "weekdays": ["sunday"],
            "localTime": "07:00",
            "startsOn": "2026-03-22",
            "until": "2026-04-05",
        },
    }
    answer = data(await http.post("/trainer/live-classes", json=body, headers=coach.headers), 201)
    assert answer["series"]["weekdays"] == [6]
    assert answer["series"]["days"] == ["sunday"]
    assert answer["series"]["localTime"] == "07:00"
    assert answer["series"]["timeZone"] == "Europe/London"
    classes = answer["classes"]
    # GMT (+0) before 29 March 01:00 UTC, BST (+1) after: the UTC start moves, the wall time not.
    assert [c["startsAt"] for c in classes] == [
        "2026-03-22T07:00:00Z",
        "2026-03-29T06:00:00Z",
        "2026-04-05T06:00:00Z",
    ]
    assert {c["localStart"][11:] for c in classes} == {"07:00"}
    assert {c["seriesId"] for c in classes} == {answer["series"]["id"]}

    # 01:30 does not exist on 29 March (01:00 -> 02:00): it lands just after the gap, 02:30 BST.
    gap = {
        **one_off(title="Night owls", durationMinutes=30),
        "startsAt": None,
        "series": {
            "weekdays": [5, 6],
            "localTime": "01:30",
            "startsOn": "2026-03-28",
            "until": "2026-03-29",
        },
    }
    classes = data(await http.post("/trainer/live-classes", json=gap, headers=coach.headers), 201)[
        "classes"
    ]
    assert [(c["startsAt"], c["localStart"]) for c in classes] == [
        ("2026-03-28T01:30:00Z", "2026-03-28T01:30"),
        ("2026-03-29T01:30:00Z", "2026-03-29T02:30"),
    ]


async def test_a_series_keeps_its_local_time_across_the_autumn_change(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    clock.advance(datetime(2026, 10, 1, tzinfo=UTC) - T0)
    coach = await make_live_trainer(
        http, db, client_a, "london@example.com", time_zone="Europe/London"
    )
    body = {
        **one_off(),
        "startsAt": None,
        "series": {
            "weekdays": [0, 1, 2, 3, 4, 5, 6],
            "localTime": "07:00",
            "startsOn": "2026-10-24",
            "until": "2026-10-26",
        },
    }
    classes = data(await http.post("/trainer/live-classes", json=body, headers=coach.headers), 201)[
        "classes"
    ]
    assert [c["startsAt"] for c in classes] == [
        "2026-10-24T06:00:00Z",  # BST
        "2026-10-25T07:00:00Z",  # GMT from 25 October 01:00 UTC
        "2026-10-26T07:00:00Z",
    ]
    assert {c["localStart"][11:] for c in classes} == {"07:00"}
    # 01:30 happens twice on 25 October: the class is at the first one (still BST).
    repeated = {
        **one_off(title="Night owls", durationMinutes=20),
        "startsAt": None,
        "series": {
            "weekdays": [6],
            "localTime": "01:30",
            "startsOn": "2026-10-25",
            "until": "2026-10-25",
        },
    }
    [night] = data(
        await http.post("/trainer/live-classes", json=repeated, headers=coach.headers), 201
    )["classes"]
    assert night["startsAt"] == "2026-10-25T00:30:00Z"


async def test_a_series_leaves_out_dates_already_past_and_refuses_an_empty_one(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    clock.advance(timedelta(hours=8))  # Thursday 1 January, 08:00 in London
    coach = await make_live_trainer(http, db, client_a, "coach@example.com")
    series = {
        "weekdays": ["thursday"],
        "localTime": "07:00",
        "startsOn": "2026-01-01",
        "until": "2026-01-08",
    }
    body = {**one_off(), "startsAt": None, "series": series}
    classes = data(await http.post("/trainer/live-classes", json=body, headers=coach.headers), 201)[
        "classes"
    ]
    assert [c["startsAt"] for c in classes] == ["2026-01-08T07:00:00Z"]
    empty = {**body, "series": {**series, "until": "2026-01-01"}}
    error(
        await http.post("/trainer/live-classes", json=empty, headers=coach.headers),
        400,
        "VALIDATION_ERROR",
    )


# --- overlap ------------------------------------------------------------------------------------


async def test_a_trainer_cannot_teach_two_classes_at_once(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    coach: LiveTrainer,
    staff: TestUser,
) -> None:
    first = data(
        await http.post(
            "/trainer/live-classes", json=one_off(durationMinutes=60), headers=coach.headers
        ),
        201,
    )["classes"][0]
    body = error(
        await http.post(
            "/trainer/live-classes", json=one_off("2026-01-05T18:30:00Z"), headers=coach.headers
        ),
        409,
        "CONFLICT",
    )
    assert body["details"]["conflicts"][0]["id"] == first["id"]
    # A series with one clashing date makes nothing at all.
    series = {
        **one_off(),
        "startsAt": None,
        "series": {
            "weekdays": [0],
            "localTime": "17:30",
            "startsOn": "2026-01-05",
            "until": "2026-02-02",
        },
    }
    error(
        await http.post("/trainer/live-classes", json=series, headers=coach.headers),
        409,
        "CONFLICT",
    )
    # Touching is fine; another trainer at the same time is fine.
    data(
        await http.post(
            "/trainer/live-classes", json=one_off("2026-01-05T19:00:00Z"), headers=coach.headers
        ),
        201,
    )
    other = await make_trainer_row(db, client_a)
    data(
        await http.post(
            "/manage/live-classes", json=one_off(trainerId=other), headers=staff.headers
        ),
        201,
    )
    # Staff scheduling for the trainer meet the same rule; a move onto a taken time too.
    error(
        await http.post(
            "/manage/live-classes", json=one_off(trainerId=coach.trainer_id), headers=staff.headers
        ),
        409,
        "CONFLICT",
    )
    later = data(
        await http.post(
            "/trainer/live-classes", json=one_off("2026-01-06T18:00:00Z"), headers=coach.headers
        ),
        201,
    )["classes"][0]
    error(
        await http.patch(
            f"/trainer/live-classes/{later['id']}",
            json={"startsAt": "2026-01-05T18:15:00Z"},
            headers=coach.headers,
        ),
        409,
        "CONFLICT",
    )
    # A cancelled class frees its time.
    data(
        await http.post(
            f"/trainer/live-classes/{first['id']}/cancel",
            json={"reason": "ill"},
            headers=coach.headers,
        )
    )
    data(
        await http.post(
            "/trainer/live-classes", json=one_off("2026-01-05T18:00:00Z"), headers=coach.headers
        ),
        201,
    )


# --- the state machine --------------------------------------------------------------------------


def test_the_legal_transitions_are_exactly_these() -> None:
    legal = {("scheduled", "live"), ("scheduled", "cancelled"), ("live", "ended")}
    for current in LiveClassStatus:
        for to in LiveClassStatus:
            live = LiveClass(status=current.value)
            if (current.value, to.value) in legal:
                check_transition(live, to)
            else:
                with pytest.raises(InvalidStateTransition):
                    check_transition(live, to)


async def test_a_status_change_loses_to_a_concurrent_one(
    db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    trainer_id = await make_trainer_row(db, client_a)
    class_id = await make_live_class(db, client_a, trainer_id, T0 + timedelta(days=1))
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        live = await session.get_one(LiveClass, class_id)
        # Someone else starts it meanwhile (the statement bypasses this session's object).
        await session.execute(
            update(LiveClass)
            .where(LiveClass.id == class_id)
            .values(status="live")
            .execution_options(synchronize_session=False)
        )
        assert live.status == "scheduled"
        with pytest.raises(InvalidStateTransition):
            await move_to(session, live, LiveClassStatus.CANCELLED)
        await move_to(session, live, LiveClassStatus.ENDED, ended_at=T0)
        assert live.status == "ended"


async def test_only_scheduled_classes_change_or_cancel(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: LiveTrainer
) -> None:
    for status in ("live", "ended", "cancelled"):
        class_id = await make_live_class(
            db, client_a, coach.trainer_id, T0 + timedelta(days=2), status=status
        )
        error(
            await http.patch(
                f"/trainer/live-classes/{class_id}", json={"title": "x"}, headers=coach.headers
            ),
            409,
            "INVALID_STATE_TRANSITION",
        )
        error(
            await http.post(
                f"/trainer/live-classes/{class_id}/cancel",
                json={"reason": "r"},
                headers=coach.headers,
            ),
            409,
            "INVALID_STATE_TRANSITION",
        )
        assert (await _class_row(db, client_a, class_id)).status == status


async def test_class_for_trainer_serves_the_trainer_and_staff_only(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: LiveTrainer, staff: TestUser
) -> None:
    other = await make_live_trainer(http, db, client_a, "other@example.com")
    mine = await make_live_class(db, client_a, coach.trainer_id, T0 + timedelta(days=1))
    theirs = await make_live_class(db, client_a, other.trainer_id, T0 + timedelta(days=1))
    as_coach = Caller(policy=Policy(Auth.TRAINER), user_id=coach.user.id, role="trainer")
    as_staff = Caller(policy=Policy(Auth.STAFF), user_id=staff.id, role="client_admin")
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        assert (await class_for_trainer(session, as_coach, mine, lock=True)).id == mine
        with pytest.raises(LiveClassNotFound):
            await class_for_trainer(session, as_coach, theirs)
        assert (await class_for_trainer(session, as_staff, theirs)).id == theirs


# --- who sees what ------------------------------------------------------------------------------


async def test_a_trainer_sees_and_changes_only_their_own_classes(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: LiveTrainer
) -> None:
    other = await make_live_trainer(http, db, client_a, "other@example.com")
    theirs = await make_live_class(db, client_a, other.trainer_id, T0 + timedelta(days=1))
    mine = await make_live_class(db, client_a, coach.trainer_id, T0 + timedelta(days=2))
    listed = data(await http.get("/trainer/live-classes", headers=coach.headers))
    assert [c["id"] for c in listed["items"]] == [mine]
    error(
        await http.get(f"/trainer/live-classes/{theirs}", headers=coach.headers), 404, "NOT_FOUND"
    )
    error(
        await http.patch(
            f"/trainer/live-classes/{theirs}", json={"title": "Mine now"}, headers=coach.headers
        ),
        404,
        "NOT_FOUND",
    )
    error(
        await http.post(
            f"/trainer/live-classes/{theirs}/cancel", json={"reason": "r"}, headers=coach.headers
        ),
        404,
        "NOT_FOUND",
    )
    assert (await _class_row(db, client_a, theirs)).status == "scheduled"
    # Members and trainers without a profile are kept out; staff are not trainers.
    member = await make_user(http, db, client_a, "member@example.com")
    error(await http.get("/trainer/live-classes", headers=member.headers), 403, "FORBIDDEN")
    error(await http.get("/manage/live-classes", headers=member.headers), 403, "FORBIDDEN")
    error(await http.get("/manage/live-classes", headers=coach.headers), 403, "FORBIDDEN")
    orphan = await make_user(http, db, client_a, "orphan@example.com", role="trainer")
    error(
        await http.post("/trainer/live-classes", json=one_off(), headers=orphan.headers),
        403,
        "FORBIDDEN",
    )


async def test_another_clients_staff_get_404(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    coach: LiveTrainer,
    staff: TestUser,
) -> None:
    class_id = await make_live_class(db, client_a, coach.trainer_id, T0 + timedelta(days=1))
    staff_b = await make_user(http, db, client_b, "admin@b.example.com", role="client_admin")
    coach_b = await make_live_trainer(http, db, client_b, "coach@b.example.com")
    h = staff_b.headers
    error(await http.get(f"/manage/live-classes/{class_id}", headers=h), 404, "NOT_FOUND")
    error(
        await http.patch(f"/manage/live-classes/{class_id}", json={"title": "x"}, headers=h),
        404,
        "NOT_FOUND",
    )
    error(await http.delete(f"/manage/live-classes/{class_id}", headers=h), 404, "NOT_FOUND")
    error(
        await http.post(f"/manage/live-classes/{class_id}/cancel", json={"reason": "r"}, headers=h),
        404,
        "NOT_FOUND",
    )
    error(
        await http.get(f"/trainer/live-classes/{class_id}", headers=coach_b.headers),
        404,
        "NOT_FOUND",
    )
    assert data(await http.get("/manage/live-classes", headers=h))["items"] == []
    # Client A's trainer is no trainer of client B's.
    error(
        await http.post(
            "/manage/live-classes", json=one_off(trainerId=coach.trainer_id), headers=h
        ),
        400,
        "VALIDATION_ERROR",
    )
    # A's token with B's key is refused outright.
    crossed = {**client_b.headers, "Authorization": staff.headers["Authorization"]}
    assert (await http.get("/manage/live-classes", headers=crossed)).status_code == 401
    live = await _class_row(db, client_a, class_id)
    assert (live.title, live.status) == ("Live HIIT", "scheduled")


async def test_the_schedule_is_part_of_the_live_classes_feature(
    http: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    client = await make_client(db, "No Live", enabled_features=["classes"])
    coach = await make_live_trainer(http, db, client, "coach@nolive.example.com")
    admin = await make_user(http, db, client, "admin@nolive.example.com", role="client_admin")
    error(
        await http.post("/trainer/live-classes", json=one_off(), headers=coach.headers),
        403,
        "FEATURE_DISABLED",
    )
    error(await http.get("/manage/live-classes", headers=admin.headers), 403, "FEATURE_DISABLED")


# --- edits --------------------------------------------------------------------------------------


async def _members(
    http: httpx.AsyncClient, db: Database, client: TestClient, n: int
) -> list[TestUser]:
    return [
        await make_user(http, db, client, f"m{i}@example.com", name=f"Member {i}") for i in range(n)
    ]


async def test_changing_a_class_and_its_capacity(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: LiveTrainer, staff: TestUser
) -> None:
    start = datetime(2026, 1, 5, 18, tzinfo=UTC)
    class_id = await make_live_class(
        db, client_a, coach.trainer_id, start, capacity=2, intensity="low"
    )
    members = await _members(http, db, client_a, 5)
    for i, member in enumerate(members):
        await add_registration(db, client_a, class_id, member.id, T0, waitlisted=i >= 2)
    changed = data(
        await http.patch(
            f"/trainer/live-classes/{class_id}",
            json={
                "title": "Evening HIIT",
                "startsAt": "2026-01-06T19:00:00Z",
                "durationMinutes": 30,
                "intensity": None,
                "isPremium": True,
            },
            headers=coach.headers,
        )
    )
    assert changed["title"] == "Evening HIIT"
    assert (changed["startsAt"], changed["endsAt"]) == (
        "2026-01-06T19:00:00Z",
        "2026-01-06T19:30:00Z",
    )
    assert changed["intensity"] is None
    assert changed["isPremium"] is True
    assert (changed["registeredCount"], changed["waitlistCount"], changed["spotsLeft"]) == (2, 3, 0)

    body = error(
        await http.patch(
            f"/trainer/live-classes/{class_id}", json={"capacity": 1}, headers=coach.headers
        ),
        409,
        "CONFLICT",
    )
    assert body["details"] == {"registeredCount": 2}
    # Two more seats go to the first two in the queue.
    raised = data(
        await http.patch(
            f"/manage/live-classes/{class_id}", json={"capacity": 4}, headers=staff.headers
        )
    )
    assert (raised["capacity"], raised["registeredCount"], raised["waitlistCount"]) == (4, 4, 1)
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        rows = await session.execute(
            select(LiveRegistration.user_id, LiveRegistration.status).order_by(LiveRegistration.id)
        )
        statuses = {user_id: status for user_id, status in rows}
    assert [statuses[m.id] for m in members] == ["registered"] * 4 + ["waitlisted"]
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        promoted_mail = list(
            await session.scalars(
                select(OutboxMail.to_address).where(OutboxMail.template == "live_class_promoted")
            )
        )
    # The two who got the new seats are told so.
    assert sorted(promoted_mail) == sorted(m.email for m in members[2:4])


async def test_deleting_a_class_nobody_registered_for(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: LiveTrainer, staff: TestUser
) -> None:
    empty = await make_live_class(db, client_a, coach.trainer_id, T0 + timedelta(days=1))
    booked = await make_live_class(db, client_a, coach.trainer_id, T0 + timedelta(days=2))
    member = await make_user(http, db, client_a, "member@example.com")
    await add_registration(db, client_a, booked, member.id, T0)
    assert data(await http.delete(f"/manage/live-classes/{empty}", headers=staff.headers)) == {
        "id": empty,
        "deleted": True,
    }
    error(await http.get(f"/manage/live-classes/{empty}", headers=staff.headers), 404, "NOT_FOUND")
    error(
        await http.delete(f"/manage/live-classes/{booked}", headers=staff.headers), 409, "CONFLICT"
    )
    assert (await _class_row(db, client_a, booked)).status == "scheduled"


# --- cancellation -------------------------------------------------------------------------------


async def test_cancelling_releases_every_seat_and_mails_each_member(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, coach: LiveTrainer, staff: TestUser
) -> None:
    start = datetime(2026, 1, 5, 18, tzinfo=UTC)
    class_id = await make_live_class(
        db, client_a, coach.trainer_id, start, capacity=2, title="Power Hour"
    )
    other_class = await make_live_class(db, client_a, coach.trainer_id, start + timedelta(days=1))
    members = await _members(http, db, client_a, 4)
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await session.execute(
            update(User)
            .where(User.id == members[1].id)
            .values(profile={"time_zone": "America/New_York"})
        )
    await add_registration(db, client_a, class_id, members[0].id, T0)
    await add_registration(db, client_a, class_id, members[1].id, T0)
    await add_registration(db, client_a, class_id, members[2].id, T0, waitlisted=True)
    gone = await add_registration(db, client_a, class_id, members[3].id, T0)
    await add_registration(db, client_a, other_class, members[3].id, T0)
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await session.execute(
            update(LiveRegistration).where(LiveRegistration.id == gone).values(status="cancelled")
        )

    answer = data(
        await http.post(
            f"/manage/live-classes/{class_id}/cancel",
            json={"reason": "The studio floods"},
            headers=staff.headers,
        )
    )
    assert answer["status"] == "cancelled"
    assert answer["cancelReason"] == "The studio floods"
    assert answer["cancelledAt"] == "2026-01-01T00:00:00Z"
    assert answer["notified"] == 3
    assert (answer["registeredCount"], answer["waitlistCount"]) == (0, 0)

    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        mails = list(
            await session.scalars(
                select(OutboxMail).where(OutboxMail.template == "live_class_cancelled")
            )
        )
        registrations = {
            r.user_id: r
            for r in await session.scalars(
                select(LiveRegistration).where(LiveRegistration.live_class_id == class_id)
            )
        }
        untouched = await session.scalar(
            select(LiveRegistration.status).where(LiveRegistration.live_class_id == other_class)
        )
    by_address = {m.to_address: m for m in mails}
    assert set(by_address) == {members[i].email for i in range(3)}
    london = by_address[members[0].email]
    assert london.subject == "Cancelled: Power Hour on Mon 05 Jan 2026, 18:00 (Europe/London)"
    assert "The studio floods" in london.body_text
    assert "Lena Live" in london.body_text
    new_york = by_address[members[1].email]
    assert new_york.subject == "Cancelled: Power Hour on Mon 05 Jan 2026, 13:00 (America/New_York)"
    assert "waitlist" in by_address[members[2].email].body_text
    assert {r.status for r in registrations.values()} == {"cancelled"}
    assert all(registrations[members[i].id].cancelled_at is not None for i in range(3))
    assert registrations[members[3].id].cancelled_at is None  # cancelled before: not touched
    assert untouched == "registered"

    # Cancelling again is refused and mails nobody more.
    error(
        await http.post(
            f"/trainer/live-classes/{class_id}/cancel",
            json={"reason": "again"},
            headers=coach.headers,
        ),
        409,
        "INVALID_STATE_TRANSITION",
    )
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        count = len(list(await session.scalars(select(OutboxMail.id))))
    assert count == 3
