"""/progress/*: logging workouts, meals and water; history; per-day summaries and streaks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.progress import service
from tests.support.factories import TestClient, TestUser, make_client, make_user

# Tuesday 2026-01-20, midday UTC (London is on UTC in winter; Los Angeles UTC-8; Auckland UTC+13).
NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)

WORKOUT: dict[str, Any] = {
    "name": "Leg day",
    "exercises": [
        {"name": "Squat", "sets": [{"reps": 5, "weightKg": 100}, {"reps": 5, "weightKg": 105}]},
        {"name": "Lunge", "sets": [{"reps": 12}]},
    ],
    "durationMinutes": 45,
    "caloriesBurned": 320,
}

MEAL: dict[str, Any] = {
    "mealType": "lunch",
    "items": [
        {"name": "Rice", "grams": 200, "calories": 260, "proteinG": 5, "carbsG": 57, "fatG": 0.6},
        {"name": "Chicken", "grams": 150, "calories": 248.5, "proteinG": 46.5, "fatG": 5.4},
    ],
}


@pytest.fixture
def at_now(clock: FrozenClock) -> FrozenClock:
    clock.advance(NOW - clock.now())
    return clock


@pytest.fixture
async def member(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, at_now: FrozenClock
) -> TestUser:
    """Signed in on the frozen clock, after it was set (tokens carry the clock's times)."""
    return await make_user(http, db, client_a, "pat@example.com", name="Pat")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def _post(
    http: httpx.AsyncClient, user: TestUser, kind: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return await http.post(f"/progress/{kind}", json=body, headers={**user.headers, **headers})


async def _workout_on(http: httpx.AsyncClient, user: TestUser, moment: datetime) -> None:
    response = await _post(http, user, "workout", {**WORKOUT, "performedAt": _iso(moment)})
    assert response.status_code == 201, response.text


async def _summary(http: httpx.AsyncClient, user: TestUser, **params: str) -> dict[str, Any]:
    response = await http.get("/progress/summary", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


# --- logging ----------------------------------------------------------------------------------


async def test_log_workout_answers_the_typed_entry(
    http: httpx.AsyncClient, member: TestUser
) -> None:
    response = await _post(http, member, "workout", WORKOUT)
    assert response.status_code == 201, response.text
    entry = response.json()["data"]
    assert entry["kind"] == "workout"
    assert entry["occurredAt"] == "2026-01-20T12:00:00Z"  # default: now
    assert entry["localDate"] == "2026-01-20"
    assert entry["durationMinutes"] == 45
    assert entry["caloriesBurned"] == 320
    assert entry["details"]["name"] == "Leg day"
    assert entry["details"]["exercises"][0]["sets"][1] == {"reps": 5, "weightKg": 105.0}
    assert entry["details"]["exercises"][1]["sets"][0]["weightKg"] is None


async def test_log_workout_by_plan_reference(http: httpx.AsyncClient, member: TestUser) -> None:
    body = {"planReference": "plan-12/week-1/day-2", "durationMinutes": 30}
    response = await _post(http, member, "workout", body)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["details"]["planReference"] == "plan-12/week-1/day-2"


async def test_log_nutrition_computes_totals(http: httpx.AsyncClient, member: TestUser) -> None:
    response = await _post(http, member, "nutrition", MEAL)
    assert response.status_code == 201, response.text
    entry = response.json()["data"]
    assert entry["kind"] == "nutrition"
    assert entry["caloriesIn"] == 508  # 260 + 248.5, rounded
    assert entry["proteinG"] == 51.5
    assert entry["carbsG"] == 57
    assert entry["fatG"] == 6.0
    assert entry["details"]["mealType"] == "lunch"
    assert [item["name"] for item in entry["details"]["items"]] == ["Rice", "Chicken"]


async def test_log_water(http: httpx.AsyncClient, member: TestUser) -> None:
    when = NOW - timedelta(hours=2)
    response = await _post(http, member, "water", {"ml": 750, "loggedAt": _iso(when)})
    assert response.status_code == 201, response.text
    entry = response.json()["data"]
    assert (entry["kind"], entry["waterMl"], entry["occurredAt"]) == (
        "water",
        750,
        "2026-01-20T10:00:00Z",
    )


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("water", {"ml": -250}, "ml"),
        ("water", {"ml": 0}, "ml"),
        ("water", {"ml": 6000}, "ml"),
        ("water", {"ml": 250, "colour": "clear"}, "colour"),
        ("water", {"ml": 250, "loggedAt": "2026-01-20T12:06:00Z"}, "loggedAt"),
        ("water", {"ml": 250, "loggedAt": "2025-01-01T00:00:00Z"}, "loggedAt"),
        ("water", {"ml": 250, "loggedAt": "2026-01-20T10:00:00"}, "loggedAt"),  # no zone
        (
            "nutrition",
            {
                "mealType": "snack",
                "items": [{"name": "Cake", "grams": 900, "calories": 10000}],
            },
            "items.0.calories",
        ),
        (
            "nutrition",
            {
                "mealType": "snack",
                "items": [{"name": "Crisps", "grams": 400, "calories": 2000}] * 2,
            },
            "items",
        ),
        ("nutrition", {"mealType": "brunch", "items": MEAL["items"]}, "mealType"),
        ("nutrition", {"mealType": "lunch", "items": []}, "items"),
        (
            "nutrition",
            {"mealType": "lunch", "items": [{"name": "Air", "grams": 0, "calories": 0}]},
            "items.0.grams",
        ),
        ("workout", {**WORKOUT, "performedAt": "2026-01-21T09:00:00+01:00"}, "performedAt"),
        ("workout", {**WORKOUT, "durationMinutes": 0}, "durationMinutes"),
        ("workout", {**WORKOUT, "caloriesBurned": -5}, "caloriesBurned"),
        ("workout", {**WORKOUT, "mood": "great"}, "mood"),
        ("workout", {"durationMinutes": 30}, "name"),
        (
            "workout",
            {**WORKOUT, "exercises": [{"name": "Squat", "sets": [{"reps": 0}]}]},
            "exercises.0.sets.0.reps",
        ),
        (
            "workout",
            {**WORKOUT, "exercises": [{"name": "Squat", "sets": [{"reps": 1}] * 51}]},
            "exercises.0.sets",
        ),
    ],
)
async def test_implausible_or_malformed_entries_are_400_naming_the_field(
    http: httpx.AsyncClient, member: TestUser, kind: str, body: dict[str, Any], field: str
) -> None:
    response = await _post(http, member, kind, body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["code"] == "VALIDATION_ERROR"
    assert field in [detail["field"] for detail in payload["details"]]
    assert field in payload["error"]
    history = await http.get("/progress/history", headers=member.headers)
    assert history.json()["data"]["pagination"]["total"] == 0


async def test_a_big_meal_is_fine_where_a_snack_is_not(
    http: httpx.AsyncClient, member: TestUser
) -> None:
    body = {"mealType": "dinner", "items": [{"name": "Feast", "grams": 1500, "calories": 2000}] * 2}
    response = await _post(http, member, "nutrition", body)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["caloriesIn"] == 4000


async def test_progress_needs_a_signed_in_member(
    http: httpx.AsyncClient, client_a: TestClient
) -> None:
    response = await http.post("/progress/water", json={"ml": 250}, headers=client_a.headers)
    assert response.status_code == 401
    response = await http.get("/progress/summary", headers=client_a.headers)
    assert response.status_code == 401


# --- local dates ------------------------------------------------------------------------------


async def test_local_date_follows_the_members_zone_across_midnight(
    http: httpx.AsyncClient, member: TestUser
) -> None:
    update = await http.put(
        "/users/me", json={"profile": {"timeZone": "America/Los_Angeles"}}, headers=member.headers
    )
    assert update.status_code == 200, update.text
    # 23:30 on 15 January in Los Angeles is 07:30 on the 16th in UTC.
    late = datetime(2026, 1, 16, 7, 30, tzinfo=UTC)
    await _workout_on(http, member, late)
    water = await _post(http, member, "water", {"ml": 500, "loggedAt": "2026-01-15T23:45:00-08:00"})
    assert water.json()["data"]["localDate"] == "2026-01-15"
    assert water.json()["data"]["occurredAt"] == "2026-01-16T07:45:00Z"

    summary = await _summary(http, member, **{"from": "2026-01-15", "to": "2026-01-16"})
    assert summary["timeZone"] == "America/Los_Angeles"
    by_day = {day["date"]: day for day in summary["days"]}
    assert by_day["2026-01-15"]["workouts"] == 1
    assert by_day["2026-01-15"]["activeMinutes"] == 45
    assert by_day["2026-01-15"]["waterMl"] == 500
    assert by_day["2026-01-16"] == {
        "date": "2026-01-16",
        "workouts": 0,
        "activeMinutes": 0,
        "caloriesBurned": 0,
        "caloriesIn": 0,
        "waterMl": 0,
    }


async def test_the_clients_zone_applies_without_a_profile_zone(
    http: httpx.AsyncClient, db: Database, at_now: FrozenClock
) -> None:
    kiwi_client = await make_client(db, "Kiwi Fitness", time_zone="Pacific/Auckland")
    kiwi = await make_user(http, db, kiwi_client, "kiri@example.com")
    # 11:30 UTC on the 15th is 00:30 on the 16th in Auckland (NZDT, UTC+13).
    await _workout_on(http, kiwi, datetime(2026, 1, 15, 11, 30, tzinfo=UTC))
    history = await http.get("/progress/history", headers=kiwi.headers)
    assert history.json()["data"]["items"][0]["localDate"] == "2026-01-16"
    summary = await _summary(http, kiwi, **{"from": "2026-01-15", "to": "2026-01-16"})
    assert summary["timeZone"] == "Pacific/Auckland"
    assert [day["workouts"] for day in summary["days"]] == [0, 1]


# --- summary and streaks ----------------------------------------------------------------------


async def test_summary_series_and_totals(http: httpx.AsyncClient, member: TestUser) -> None:
    await _workout_on(http, member, datetime(2026, 1, 18, 9, 0, tzinfo=UTC))
    await _workout_on(http, member, datetime(2026, 1, 18, 18, 0, tzinfo=UTC))
    meal = await _post(http, member, "nutrition", {**MEAL, "loggedAt": "2026-01-19T12:30:00Z"})
    assert meal.status_code == 201
    for ml in (250, 500):
        await _post(http, member, "water", {"ml": ml, "loggedAt": "2026-01-19T15:00:00Z"})

    summary = await _summary(http, member)  # default: the last 7 days, today included
    assert (summary["from"], summary["to"]) == ("2026-01-14", "2026-01-20")
    assert summary["timeZone"] == "Europe/London"
    assert [day["date"] for day in summary["days"]] == [
        (date(2026, 1, 14) + timedelta(days=n)).isoformat() for n in range(7)
    ]
    by_day = {day["date"]: day for day in summary["days"]}
    assert by_day["2026-01-18"]["workouts"] == 2
    assert by_day["2026-01-18"]["activeMinutes"] == 90
    assert by_day["2026-01-18"]["caloriesBurned"] == 640
    assert by_day["2026-01-19"]["caloriesIn"] == 508
    assert by_day["2026-01-19"]["waterMl"] == 750
    assert summary["totals"] == {
        "workouts": 2,
        "activeMinutes": 90,
        "caloriesBurned": 640,
        "caloriesIn": 508,
        "waterMl": 750,
    }

    narrow = await _summary(http, member, **{"from": "2026-01-19", "to": "2026-01-19"})
    assert len(narrow["days"]) == 1
    assert narrow["totals"]["workouts"] == 0


async def test_active_minutes_include_class_watch_time(
    http: httpx.AsyncClient, member: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def watched(*_args: object) -> dict[date, int]:
        return {date(2026, 1, 19): 25}

    monkeypatch.setattr(service, "class_minutes_by_day", watched)
    await _workout_on(http, member, datetime(2026, 1, 19, 8, 0, tzinfo=UTC))
    summary = await _summary(http, member, **{"from": "2026-01-19", "to": "2026-01-20"})
    assert [day["activeMinutes"] for day in summary["days"]] == [70, 0]
    assert summary["totals"]["activeMinutes"] == 70


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-01-20", "to": "2026-01-10"}, "from"),
        ({"from": "2025-01-01", "to": "2026-01-20"}, "to"),
        ({"from": "20-01-2026"}, "from"),
        ({"to": "2026-02-30"}, "to"),
    ],
)
async def test_summary_range_is_checked(
    http: httpx.AsyncClient, member: TestUser, params: dict[str, str], field: str
) -> None:
    response = await http.get("/progress/summary", params=params, headers=member.headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert field in [detail["field"] for detail in response.json()["details"]]


async def test_a_full_year_summary_is_allowed(http: httpx.AsyncClient, member: TestUser) -> None:
    summary = await _summary(http, member, **{"from": "2025-01-20", "to": "2026-01-20"})
    assert len(summary["days"]) == 366


def _days_ago(days: int, hour: int = 8) -> datetime:
    return NOW.replace(hour=hour) - timedelta(days=days)


async def test_streaks_count_back_from_yesterday_until_today_has_a_workout(
    http: httpx.AsyncClient, member: TestUser
) -> None:
    # Workouts 10, 9 and 8 days ago (a run of 3), a gap, then 2 and 1 days ago (twice on one).
    for days in (10, 9, 8, 2, 1):
        await _workout_on(http, member, _days_ago(days))
    await _workout_on(http, member, _days_ago(1, hour=19))
    # Nutrition and water do not make a streak day.
    await _post(http, member, "water", {"ml": 300, "loggedAt": _iso(_days_ago(3))})

    streaks = (await _summary(http, member))["streaks"]
    assert streaks == {"current": 2, "longest": 3}

    await _workout_on(http, member, NOW - timedelta(minutes=10))
    assert (await _summary(http, member))["streaks"] == {"current": 3, "longest": 3}
    # The streak does not depend on the summary's range.
    narrow = await _summary(http, member, **{"from": "2025-06-01", "to": "2025-06-02"})
    assert narrow["streaks"] == {"current": 3, "longest": 3}


async def test_a_missed_yesterday_ends_the_current_streak(
    http: httpx.AsyncClient, member: TestUser
) -> None:
    for days in (4, 3, 2):
        await _workout_on(http, member, _days_ago(days))
    assert (await _summary(http, member))["streaks"] == {"current": 0, "longest": 3}


async def test_streak_days_are_local_days(http: httpx.AsyncClient, member: TestUser) -> None:
    await http.put(
        "/users/me", json={"profile": {"timeZone": "Pacific/Auckland"}}, headers=member.headers
    )
    # Now is 01:00 on the 21st in Auckland. 23:00 on the 19th and 00:30 on the 20th (local)
    # are two days, although both are on the 19th in UTC.
    await _workout_on(http, member, datetime(2026, 1, 19, 10, 0, tzinfo=UTC))
    await _workout_on(http, member, datetime(2026, 1, 19, 11, 30, tzinfo=UTC))
    summary = await _summary(http, member)
    assert summary["to"] == "2026-01-21"
    assert summary["streaks"] == {"current": 2, "longest": 2}


async def test_no_entries_no_streak(http: httpx.AsyncClient, member: TestUser) -> None:
    summary = await _summary(http, member)
    assert summary["streaks"] == {"current": 0, "longest": 0}
    assert summary["totals"]["workouts"] == 0


def test_streak_arithmetic() -> None:
    days = [date(2026, 1, d) for d in (1, 2, 3, 4, 7, 8, 10)]
    assert service.longest_streak(days) == 4
    assert service.longest_streak([]) == 0
    assert service.current_streak(days, date(2026, 1, 10)) == 1
    assert service.current_streak(days, date(2026, 1, 9)) == 2
    assert service.current_streak(days, date(2026, 1, 11)) == 1
    assert service.current_streak(days, date(2026, 1, 12)) == 0


# --- history ----------------------------------------------------------------------------------


async def test_history_is_paginated_newest_first_and_filters_by_kind(
    http: httpx.AsyncClient, member: TestUser
) -> None:
    for hours in range(5):
        when = _iso(NOW - timedelta(hours=hours + 1))
        await _post(http, member, "water", {"ml": 100 + hours, "loggedAt": when})
    await _workout_on(http, member, NOW - timedelta(minutes=30))
    await _post(http, member, "nutrition", {**MEAL, "loggedAt": _iso(NOW - timedelta(days=2))})

    first = await http.get("/progress/history", params={"limit": 3}, headers=member.headers)
    assert first.status_code == 200, first.text
    page = first.json()["data"]
    assert page["pagination"] == {"page": 1, "limit": 3, "total": 7, "totalPages": 3}
    assert [item["kind"] for item in page["items"]] == ["workout", "water", "water"]
    assert [item["waterMl"] for item in page["items"][1:]] == [100, 101]

    last = await http.get(
        "/progress/history", params={"limit": 3, "page": 3}, headers=member.headers
    )
    assert [item["kind"] for item in last.json()["data"]["items"]] == ["nutrition"]

    water = await http.get("/progress/history", params={"kind": "water"}, headers=member.headers)
    items = water.json()["data"]["items"]
    assert [item["waterMl"] for item in items] == [100, 101, 102, 103, 104]
    occurred = [item["occurredAt"] for item in items]
    assert occurred == sorted(occurred, reverse=True)

    bad = await http.get("/progress/history", params={"kind": "sleep"}, headers=member.headers)
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "kind"


# --- gates, tenancy, idempotency --------------------------------------------------------------


async def test_feature_gates(http: httpx.AsyncClient, db: Database, at_now: FrozenClock) -> None:
    plain = await make_client(db, "Classes Only", enabled_features=["classes"])
    user = await make_user(http, db, plain, "sam@example.com")
    for kind, body in (("workout", WORKOUT), ("nutrition", MEAL), ("water", {"ml": 250})):
        response = await _post(http, user, kind, body)
        assert response.status_code == 403, kind
        assert response.json()["code"] == "FEATURE_DISABLED"
    assert (await http.get("/progress/history", headers=user.headers)).status_code == 200
    assert (await _summary(http, user))["totals"]["workouts"] == 0

    water_only = await make_client(db, "Nutrition Only", enabled_features=["nutrition"])
    drinker = await make_user(http, db, water_only, "dee@example.com")
    assert (await _post(http, drinker, "water", {"ml": 250})).status_code == 201
    assert (await _post(http, drinker, "workout", WORKOUT)).status_code == 403


async def test_clients_see_only_their_own_entries(
    http: httpx.AsyncClient, db: Database, member: TestUser, client_b: TestClient
) -> None:
    neighbour = await make_user(http, db, client_b, "pat@example.com")  # same email, other client
    created = await _post(http, member, "workout", WORKOUT)
    await _post(http, member, "water", {"ml": 400})
    entry_id = created.json()["data"]["id"]

    history = (await http.get("/progress/history", headers=neighbour.headers)).json()["data"]
    assert history["items"] == []
    assert history["pagination"]["total"] == 0
    summary = await _summary(http, neighbour)
    assert summary["totals"] == {
        "workouts": 0,
        "activeMinutes": 0,
        "caloriesBurned": 0,
        "caloriesIn": 0,
        "waterMl": 0,
    }
    assert summary["streaks"] == {"current": 0, "longest": 0}

    own = await _post(http, neighbour, "water", {"ml": 100})
    mine = (await http.get("/progress/history", headers=neighbour.headers)).json()["data"]
    assert [item["id"] for item in mine["items"]] == [own.json()["data"]["id"]]
    assert entry_id not in [item["id"] for item in mine["items"]]

    # A member's token with another client's key is refused outright.
    crossed = {**member.headers, "X-API-Key": client_b.api_key}
    assert (await http.get("/progress/history", headers=crossed)).status_code == 401


async def test_other_members_of_the_same_client_are_separate(
    http: httpx.AsyncClient, db: Database, member: TestUser, client_a: TestClient
) -> None:
    other = await make_user(http, db, client_a, "alex@example.com")
    await _workout_on(http, member, NOW - timedelta(hours=1))
    assert (await _summary(http, other))["totals"]["workouts"] == 0
    history = (await http.get("/progress/history", headers=other.headers)).json()["data"]
    assert history["pagination"]["total"] == 0


async def test_idempotent_replay(http: httpx.AsyncClient, member: TestUser) -> None:
    body = {"ml": 330, "loggedAt": "2026-01-20T11:00:00Z"}
    first = await _post(http, member, "water", body, **{"Idempotency-Key": "water-1"})
    again = await _post(http, member, "water", body, **{"Idempotency-Key": "water-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["data"]["id"] == first.json()["data"]["id"]

    other = await _post(http, member, "water", {"ml": 331}, **{"Idempotency-Key": "water-1"})
    assert other.status_code == 409
    assert other.json()["code"] == "IDEMPOTENCY_CONFLICT"

    history = (await http.get("/progress/history", headers=member.headers)).json()["data"]
    assert history["pagination"]["total"] == 1
