"""Partner dashboard (period totals and trends) and analytics (watch-time series, content tops),
the local day of an instant in SQL on both databases, validation and isolation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.kit.zones import local_date_sql
from stvos.models import Partner, PartnerMembership
from stvos.partners.insights import dialect_of
from tests.content import add_category, add_class
from tests.partners import SignedInPartner, error_of, signed_in_partner
from tests.partners.insights_helpers import (
    add_ledger,
    add_member,
    add_progress,
    add_user,
    set_partner,
)
from tests.support.factories import TestClient

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)  # London is on summer time (BST) since 29 March


async def _scenario(
    http: httpx.AsyncClient, db: Database, client: TestClient
) -> tuple[SignedInPartner, dict[str, int]]:
    """Four members of a gym (joined before and in both periods), one of another partner."""
    gym = await signed_in_partner(http, db, client, name="Gym")
    corp = await signed_in_partner(http, db, client, name="Corp", studio=gym.studio)
    yoga = await add_category(db, client, "Yoga")
    ids = {
        "a": await add_class(db, client, "Flow A", T0, category_id=yoga),
        "b": await add_class(db, client, "Flow B", T0, category_id=yoga),
        "c": await add_class(db, client, "Loose C", T0),
    }
    signed_in = datetime(2026, 3, 25, tzinfo=UTC)
    users = {
        "m1": await add_user(db, client, "m1@example.com", last_login_at=signed_in),
        "m2": await add_user(db, client, "m2@example.com"),
        "m3": await add_user(db, client, "m3@example.com"),
        "m4": await add_user(db, client, "m4@example.com"),
        "x": await add_user(db, client, "x@example.com", last_login_at=NOW),
    }  # fmt: skip
    joined = {
        "m1": T0,
        "m2": datetime(2026, 2, 10, tzinfo=UTC),
        "m3": datetime(2026, 3, 10, tzinfo=UTC),
        "m4": datetime(2026, 3, 20, tzinfo=UTC),
    }
    for key, at in joined.items():
        await add_member(db, client, gym.id, users[key], at)
    await add_member(db, client, corp.id, users["x"], T0)
    await add_progress(db, client, users["m2"], ids["a"], datetime(2026, 3, 30, 8, tzinfo=UTC))
    m1, m2, m3, x = users["m1"], users["m2"], users["m3"], users["x"]
    await add_ledger(
        db,
        client,
        (m1, ids["a"], date(2026, 2, 15), 1200, 0),  # previous period
        (m1, ids["a"], date(2026, 2, 28), 300, 0),  # previous period
        (m1, ids["a"], date(2026, 3, 15), 1200, 1),
        (m1, ids["c"], date(2026, 3, 15), 600, 0),
        (m2, ids["a"], date(2026, 2, 20), 600, 0),  # previous period
        (m2, ids["a"], date(2026, 3, 30), 600, 0),
        (m2, ids["b"], date(2026, 3, 30), 1200, 1),
        (m3, ids["b"], date(2026, 3, 5), 6000, 1),  # before m3 joined: never counted
        (m3, ids["b"], date(2026, 3, 31), 600, 0),
        (x, ids["b"], date(2026, 3, 15), 9999, 1),  # another partner's member
    )
    return gym, {**users, **ids, "yoga": yoga}


async def test_dashboard_totals_and_trends(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    clock._now = NOW
    gym, _ = await _scenario(http, db, client_a)
    data = (await http.get("/partner/dashboard", headers=gym.headers)).json()["data"]
    # Period 2026-03-02..2026-03-31: watch 1200+600+600+1200+600 s = 70 min; previous
    # period 2026-01-31..2026-03-01: 1200+300+600 s = 35 min. New members 2 vs 1.
    assert data == {
        "totalMembers": 4,
        "activeMembers": 2,  # m1 (signed in 25 March), m2 (watched 30 March)
        "totalWatchTimeMinutes": 70,
        "totalClassesWatched": 2,
        "trends": {"membersChange": 100.0, "watchTimeChange": 100.0},
        "period": {
            "from": "2026-03-02",
            "to": "2026-03-31",
            "days": 30,
            "timeZone": "Europe/London",
            "newMembers": 2,
            "distinctClassesWatched": 3,
        },
    }
    week = (await http.get("/partner/dashboard?days=7", headers=gym.headers)).json()["data"]
    # 2026-03-25..31: 40 min; previous 03-18..24: no watching (no trend), m4 joined 20 March.
    assert week["totalWatchTimeMinutes"] == 40
    assert week["trends"] == {"membersChange": -100.0, "watchTimeChange": None}
    assert week["period"]["newMembers"] == 0
    for days in ("6", "366", "x"):
        error_of(
            await http.get(f"/partner/dashboard?days={days}", headers=gym.headers),
            400,
            "VALIDATION_ERROR",
        )


async def test_watch_time_series_by_day_week_and_month(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    clock._now = NOW
    gym, _ = await _scenario(http, db, client_a)

    daily = (await http.get("/partner/analytics/watch-time", headers=gym.headers)).json()["data"]
    assert (daily["from"], daily["to"], daily["granularity"]) == ("2026-03-02", "2026-03-31", "day")
    assert daily["timeZone"] == "Europe/London"
    assert len(daily["series"]) == 30
    by_day = {p["start"]: p for p in daily["series"]}
    assert by_day["2026-03-15"] == {
        "start": "2026-03-15",
        "minutes": 30,
        "completions": 1,
        "activeMembers": 1,
    }
    assert by_day["2026-03-30"]["minutes"] == 30
    assert by_day["2026-03-30"]["activeMembers"] == 1
    assert by_day["2026-03-05"]["minutes"] == 0  # m3 had not joined yet
    assert daily["totals"] == {"minutes": 70, "completions": 2, "activeMembers": 3}

    weekly = (
        await http.get(
            "/partner/analytics/watch-time?from=2026-03-01&to=2026-03-31&granularity=week",
            headers=gym.headers,
        )
    ).json()["data"]
    # 1 March 2026 is a Sunday: its week starts Monday 23 February (only 1 March counts).
    assert [(p["start"], p["minutes"], p["activeMembers"]) for p in weekly["series"]] == [
        ("2026-02-23", 0, 0),
        ("2026-03-02", 0, 0),
        ("2026-03-09", 30, 1),
        ("2026-03-16", 0, 0),
        ("2026-03-23", 0, 0),
        ("2026-03-30", 40, 2),
    ]
    monthly = (
        await http.get(
            "/partner/analytics/watch-time?from=2026-01-15&to=2026-03-31&granularity=month",
            headers=gym.headers,
        )
    ).json()["data"]
    assert [(p["start"], p["minutes"], p["completions"]) for p in monthly["series"]] == [
        ("2026-01-01", 0, 0),
        ("2026-02-01", 35, 0),
        ("2026-03-01", 70, 2),
    ]
    assert monthly["totals"] == {"minutes": 105, "completions": 2, "activeMembers": 3}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-03-10&to=2026-03-01", "from"),
        ("from=2024-01-01&to=2026-03-01", "to"),
        ("granularity=year", "granularity"),
        ("from=2026-02-30", "from"),
        ("to=yesterday", "to"),
    ],
)
async def test_analytics_validation(
    clock: FrozenClock,
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    query: str,
    field: str,
) -> None:
    gym = await signed_in_partner(http, db, client_a)
    for path in ("watch-time", "content"):
        if path == "content" and field == "granularity":
            continue
        body = error_of(
            await http.get(f"/partner/analytics/{path}?{query}", headers=gym.headers),
            400,
            "VALIDATION_ERROR",
        )
        assert field in str(body["details"])


async def test_the_partners_zone_decides_today(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    clock._now = datetime(2026, 1, 1, 5, tzinfo=UTC)  # still 31 December in Honolulu
    gym = await signed_in_partner(http, db, client_a)
    await set_partner(db, client_a, gym.id, time_zone="Pacific/Honolulu")
    data = (await http.get("/partner/analytics/watch-time", headers=gym.headers)).json()["data"]
    assert (data["to"], data["timeZone"]) == ("2025-12-31", "Pacific/Honolulu")
    dash = (await http.get("/partner/dashboard", headers=gym.headers)).json()["data"]
    assert dash["period"]["to"] == "2025-12-31"
    assert dash["period"]["timeZone"] == "Pacific/Honolulu"


async def test_days_are_the_partners_local_days_exactly(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    """The app counts in London; a partner in Honolulu (UTC-10) sees its own days, exactly."""
    clock._now = datetime(2026, 1, 5, tzinfo=UTC)
    gym = await signed_in_partner(http, db, client_a)
    await set_partner(db, client_a, gym.id, time_zone="Pacific/Honolulu")
    class_id = await add_class(db, client_a, "Late Flow", datetime(2025, 12, 1, tzinfo=UTC))
    member = await add_user(db, client_a, "night-owl@example.com")
    await add_member(db, client_a, gym.id, member, datetime(2025, 12, 20, tzinfo=UTC))
    await add_ledger(
        db,
        client_a,
        # 2 January in London, but 1 January (19:00) in Honolulu.
        (member, class_id, datetime(2026, 1, 2, 5, 0, tzinfo=UTC), 600, 0),
        # 2 January in both (02:00 in Honolulu).
        (member, class_id, datetime(2026, 1, 2, 12, 0, tzinfo=UTC), 1200, 1),
    )
    query = "from=2026-01-01&to=2026-01-02&granularity=day"
    data = (await http.get(f"/partner/analytics/watch-time?{query}", headers=gym.headers)).json()[
        "data"
    ]
    assert data["timeZone"] == "Pacific/Honolulu"
    assert [(p["start"], p["minutes"], p["completions"]) for p in data["series"]] == [
        ("2026-01-01", 10, 0),
        ("2026-01-02", 20, 1),
    ]
    # The same quarter hours, read by month in Honolulu: December has none of them.
    query = "from=2025-12-01&to=2026-01-31&granularity=month"
    data = (await http.get(f"/partner/analytics/watch-time?{query}", headers=gym.headers)).json()[
        "data"
    ]
    assert [(p["start"], p["minutes"]) for p in data["series"]] == [
        ("2025-12-01", 0),
        ("2026-01-01", 30),
    ]


async def test_content_tops_and_completion_rates(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    clock._now = NOW
    gym, ids = await _scenario(http, db, client_a)
    data = (await http.get("/partner/analytics/content", headers=gym.headers)).json()["data"]
    # In 2026-03-02..31: Flow B 1200 (m2, completed) + 600 (m3) s; Flow A 1200 (m1, completed)
    # + 600 (m2) s; Loose C 600 s (m1). x's 9999 s belong to another partner.
    assert data["topClasses"] == [
        {
            "classId": ids["a"],
            "title": "Flow A",
            "categoryId": ids["yoga"],
            "minutes": 30,
            "viewers": 2,
            "completions": 1,
            "completionRate": 0.5,
        },
        {
            "classId": ids["b"],
            "title": "Flow B",
            "categoryId": ids["yoga"],
            "minutes": 30,
            "viewers": 2,
            "completions": 1,
            "completionRate": 0.5,
        },
        {
            "classId": ids["c"],
            "title": "Loose C",
            "categoryId": None,
            "minutes": 10,
            "viewers": 1,
            "completions": 0,
            "completionRate": 0.0,
        },
    ]
    yoga, loose = data["topCategories"]
    assert (yoga["name"], yoga["minutes"], yoga["viewers"], yoga["classes"]) == ("Yoga", 60, 3, 2)
    assert yoga["completionRate"] == 0.667
    assert yoga["completions"] == 2
    assert (loose["categoryId"], loose["name"], loose["minutes"]) == (None, "Uncategorised", 10)
    limited = await http.get("/partner/analytics/content?limit=1", headers=gym.headers)
    assert len(limited.json()["data"]["topClasses"]) == 1
    assert len(limited.json()["data"]["topCategories"]) == 1
    error_of(
        await http.get("/partner/analytics/content?limit=51", headers=gym.headers),
        400,
        "VALIDATION_ERROR",
    )


async def test_insights_are_isolated_between_clients(
    clock: FrozenClock,
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
) -> None:
    clock._now = NOW
    await _scenario(http, db, client_a)
    other = await signed_in_partner(http, db, client_b, name="B Gym")
    dash = (await http.get("/partner/dashboard", headers=other.headers)).json()["data"]
    assert (dash["totalMembers"], dash["activeMembers"], dash["totalWatchTimeMinutes"]) == (0, 0, 0)
    series = (await http.get("/partner/analytics/watch-time", headers=other.headers)).json()
    assert series["data"]["totals"] == {"minutes": 0, "completions": 0, "activeMembers": 0}
    assert series["data"]["timeZone"] == "America/New_York"
    top = (await http.get("/partner/analytics/content", headers=other.headers)).json()["data"]
    assert top["topClasses"] == []
    assert top["topCategories"] == []
    # Partner routes take a partner token only: an app key or a user's token is refused.
    assert (await http.get("/partner/dashboard", headers=client_a.headers)).status_code == 401
    assert (await http.get("/partner/dashboard", headers=other.studio.headers)).status_code in (
        401,
        403,
    )


@pytest.mark.parametrize(
    ("zone", "moments"),
    [
        (
            "Europe/London",
            [
                datetime(2026, 3, 28, 23, 30, tzinfo=UTC),
                datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
                datetime(2026, 3, 29, 23, 30, tzinfo=UTC),  # BST: already 30 March
                datetime(2026, 10, 24, 23, 30, tzinfo=UTC),  # BST: 25 October
                datetime(2026, 10, 25, 23, 30, tzinfo=UTC),  # GMT again: still 25 October
            ],
        ),
        (
            "America/New_York",
            [
                datetime(2026, 3, 8, 4, 59, tzinfo=UTC),
                datetime(2026, 3, 8, 5, 0, tzinfo=UTC),
                datetime(2026, 11, 1, 3, 59, tzinfo=UTC),
                datetime(2026, 11, 1, 4, 0, tzinfo=UTC),
                datetime(2026, 11, 2, 4, 59, tzinfo=UTC),
            ],
        ),
        (
            "Asia/Kolkata",
            [datetime(2026, 1, 1, 18, 29, tzinfo=UTC), datetime(2026, 1, 1, 18, 30, tzinfo=UTC)],
        ),
        ("UTC", [datetime(2026, 1, 1, 23, 59, 59, tzinfo=UTC)]),
    ],
)
async def test_local_day_of_an_instant_in_sql(
    db: Database, client_a: TestClient, zone: str, moments: list[datetime]
) -> None:
    """The joined-day rule depends on this: SQL's local day must equal zoneinfo's."""
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        partner = Partner(name="P", type="gym", status="active")
        session.add(partner)
        await session.flush()
        partner_id = partner.id
    for n, moment in enumerate(moments):
        user_id = await add_user(db, client_a, f"tz{n}@example.com")
        await add_member(db, client_a, partner_id, user_id, moment)
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        expression = local_date_sql(
            PartnerMembership.joined_at, ZoneInfo(zone), dialect_of(session)
        )
        rows = (
            await session.execute(
                select(PartnerMembership.joined_at, expression).order_by(PartnerMembership.id)
            )
        ).all()
    assert len(rows) == len(moments)
    for joined_at, local_day in rows:
        expected = joined_at.astimezone(ZoneInfo(zone)).date()
        assert str(local_day)[:10] == expected.isoformat(), (joined_at, zone)
