"""Partner members: the list (search, active filter, sorting, paging), detail with viewing
history, the CSV export, a constant statement count, and isolation. Also the end-to-end path:
a member's real watching shows in members, dashboard, analytics and the billing CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from tests.content import add_category, add_class
from tests.partners import error_of, signed_in_partner
from tests.partners.insights_helpers import (
    add_ledger,
    add_member,
    add_progress,
    add_user,
    csv_rows,
    set_partner,
    watch,
)
from tests.support.factories import TestClient, make_user
from tests.support.statements import count_statements

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def _items(http: httpx.AsyncClient, headers: dict[str, str], query: str = "") -> Any:
    response = await http.get(f"/partner/members{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_real_watching_shows_in_members_dashboard_analytics_and_billing(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    await set_partner(db, client_a, partner.id, billing_rate_minor=450, currency="EUR")
    user = await make_user(http, db, client_a, "ana@example.com", name="Ana")
    await add_member(db, client_a, partner.id, user.id, joined_at=clock.now(), premium=True)
    category = await add_category(db, client_a, "Core")
    class_id = await add_class(
        db, client_a, "Core Blast", T0 - timedelta(days=1), duration_minutes=10,
        category_id=category,
    )  # fmt: skip
    beat = await watch(http, clock, user, class_id, 600)
    assert beat["completed"] is True

    page = await _items(http, partner.headers)
    assert page["pagination"]["total"] == 1
    (member,) = page["items"]
    assert member["userId"] == user.id
    assert member["email"] == "ana@example.com"
    assert member["name"] == "Ana"
    assert member["premium"] is True
    assert member["active"] is True
    assert member["watchTimeMinutes"] == 10
    assert member["classesWatched"] == 1
    assert member["completions"] == 1
    assert member["sessions"] == 1
    assert member["lastActiveAt"] == "2026-01-01T00:10:00Z"
    assert member["joinedAt"] == "2026-01-01T00:00:00Z"
    assert member["accessUntil"] is None

    detail = (await http.get(f"/partner/members/{user.id}", headers=partner.headers)).json()
    history = detail["data"]["history"]
    assert history == [
        {
            "classId": class_id,
            "title": "Core Blast",
            "minutes": 10,
            "completed": True,
            "completions": 1,
            "lastWatchedAt": "2026-01-01T00:10:00Z",
        }
    ]
    assert detail["data"]["totals"] == {
        "watchTimeMinutes": 10,
        "classesWatched": 1,
        "completions": 1,
        "sessions": 1,
        "last30DaysMinutes": 10,
    }

    dash = (await http.get("/partner/dashboard", headers=partner.headers)).json()["data"]
    assert dash["totalMembers"] == 1
    assert dash["activeMembers"] == 1
    assert dash["totalWatchTimeMinutes"] == 10
    assert dash["totalClassesWatched"] == 1
    assert dash["trends"] == {"membersChange": None, "watchTimeChange": None}

    series = (await http.get("/partner/analytics/watch-time", headers=partner.headers)).json()
    assert series["data"]["series"][-1] == {
        "start": "2026-01-01",
        "minutes": 10,
        "completions": 1,
        "activeMembers": 1,
    }
    assert series["data"]["totals"] == {"minutes": 10, "completions": 1, "activeMembers": 1}
    top = (await http.get("/partner/analytics/content", headers=partner.headers)).json()
    assert top["data"]["topClasses"][0]["title"] == "Core Blast"
    assert top["data"]["topClasses"][0]["completionRate"] == 1.0
    assert top["data"]["topCategories"][0]["name"] == "Core"

    rows = csv_rows(await http.get("/partner/billing/2026-01/export", headers=partner.headers))
    assert rows[0][:3] == ["userId", "email", "name"]
    assert rows[1][:3] == [str(user.id), "ana@example.com", "Ana"]
    assert rows[1][5:] == ["10", "1", "1", "4.50", "EUR"]
    assert rows[-1][0] == "TOTAL"
    assert rows[-1][-2:] == ["4.50", "EUR"]


async def test_watching_before_joining_does_not_count(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    clock._now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    partner = await signed_in_partner(http, db, client_a)
    class_id = await add_class(db, client_a, "Yoga", T0)
    user_id = await add_user(db, client_a, "late@example.com")
    await add_member(db, client_a, partner.id, user_id, datetime(2026, 3, 5, 23, tzinfo=UTC))
    await add_ledger(
        db,
        client_a,
        (user_id, class_id, date(2026, 3, 4), 6000, 1),  # before joining
        (user_id, class_id, date(2026, 3, 5), 600, 0),  # the joined day counts whole
        (user_id, class_id, date(2026, 3, 6), 1200, 0),
    )
    (member,) = (await _items(http, partner.headers))["items"]
    assert member["watchTimeMinutes"] == 30
    assert member["completions"] == 0
    assert member["classesWatched"] == 1
    assert member["active"] is False
    assert member["lastActiveAt"] is None


async def test_search_status_sort_and_paging(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    clock._now = datetime(2026, 5, 1, tzinfo=UTC)
    now = clock.now()
    partner = await signed_in_partner(http, db, client_a)
    class_id = await add_class(db, client_a, "Run", T0)
    ana = await add_user(db, client_a, "ana@example.com", "Ana Lima", last_login_at=now)
    bob = await add_user(db, client_a, "bob@corp.com", "Bob 100%")
    cy = await add_user(db, client_a, "cy@example.com", None, last_login_at=now - timedelta(40))
    gone = await add_user(db, client_a, "gone@example.com", "Gone", deleted_at=now)
    for offset, user_id in enumerate((ana, bob, cy, gone)):
        await add_member(db, client_a, partner.id, user_id, T0 + timedelta(days=offset))
    await add_progress(db, client_a, bob, class_id, now - timedelta(days=2))
    await add_ledger(
        db,
        client_a,
        (bob, class_id, date(2026, 4, 28), 1800, 0),
        (cy, class_id, date(2026, 2, 1), 3600, 1),
        (ana, class_id, date(2026, 2, 1), 60, 0),
    )

    default = await _items(http, partner.headers)
    assert [m["userId"] for m in default["items"]] == [gone, cy, bob, ana]  # newest joined first
    erased = default["items"][0]
    assert erased["email"] is None
    assert erased["name"] is None
    assert erased["erased"] is True

    by_watch = await _items(http, partner.headers, "?sort=watchTime")
    assert [m["userId"] for m in by_watch["items"]][:3] == [cy, bob, ana]
    assert [m["watchTimeMinutes"] for m in by_watch["items"]] == [60, 30, 1, 0]
    by_active = await _items(http, partner.headers, "?sort=lastActive")
    assert [m["userId"] for m in by_active["items"]] == [ana, bob, cy, gone]

    active = await _items(http, partner.headers, "?status=active")
    assert sorted(m["userId"] for m in active["items"]) == sorted([ana, bob])
    assert all(m["active"] for m in active["items"])
    inactive = await _items(http, partner.headers, "?status=inactive")
    assert sorted(m["userId"] for m in inactive["items"]) == sorted([cy, gone])

    assert [m["userId"] for m in (await _items(http, partner.headers, "?search=LIMA"))["items"]]
    assert [
        m["userId"] for m in (await _items(http, partner.headers, "?search=CORP"))["items"]
    ] == [bob]
    assert [
        m["userId"] for m in (await _items(http, partner.headers, "?search=100%"))["items"]
    ] == [bob]
    assert (await _items(http, partner.headers, "?search=_"))["items"] == []
    assert (await _items(http, partner.headers, "?search=gone"))["items"] == []

    page = await _items(http, partner.headers, "?limit=3&page=2")
    assert [m["userId"] for m in page["items"]] == [ana]
    assert page["pagination"] == {"page": 2, "limit": 3, "total": 4, "totalPages": 2}

    for query, field in (("status=idle", "status"), ("sort=name", "sort"), ("limit=0", "limit")):
        body = error_of(
            await http.get(f"/partner/members?{query}", headers=partner.headers),
            400,
            "VALIDATION_ERROR",
        )
        assert field in str(body["details"])


async def test_a_page_costs_the_same_statements_for_3_or_12_members(
    clock: FrozenClock,
    app: FastAPI,
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    class_id = await add_class(db, client_a, "Run", T0)
    counts = []
    for batch in (3, 9):
        for n in range(batch):
            user_id = await add_user(db, client_a, f"m{batch}-{n}@example.com")
            await add_member(db, client_a, partner.id, user_id, T0)
            await add_ledger(db, client_a, (user_id, class_id, date(2026, 1, 1), 60 * n, 0))
            await add_progress(db, client_a, user_id, class_id, T0)
        with count_statements(app) as statements:
            page = await _items(http, partner.headers, "?sort=watchTime&limit=100")
        counts.append(len(statements))
        assert len(page["items"]) == {3: 3, 9: 12}[batch]
    assert counts[0] == counts[1]


async def test_export_is_a_safe_csv_of_every_member(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    names = ['=HYPERLINK("http://x")', "+1 Plus", "-2 Minus", "@SUM(A1)", "Plain"]
    for n, name in enumerate(names):
        user_id = await add_user(db, client_a, f"csv{n}@example.com", name)
        await add_member(db, client_a, partner.id, user_id, T0 + timedelta(minutes=n))
    rows = csv_rows(await http.get("/partner/members/export", headers=partner.headers))
    assert rows[0] == [
        "userId", "email", "name", "joinedAt", "accessUntil", "premium", "lastActiveAt",
        "active", "watchTimeMinutes", "classesWatched", "completions", "sessions",
    ]  # fmt: skip
    assert len(rows) == 1 + len(names)
    exported = [row[2] for row in rows[1:]]
    assert exported == ["Plain", "'@SUM(A1)", "'-2 Minus", "'+1 Plus", '\'=HYPERLINK("http://x")']
    assert rows[1][3] == "2026-01-01T00:04:00Z"
    filtered = csv_rows(
        await http.get("/partner/members/export?search=plain", headers=partner.headers)
    )
    assert len(filtered) == 2


async def test_members_are_isolated_between_partners_and_clients(
    clock: FrozenClock,
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
) -> None:
    gym = await signed_in_partner(http, db, client_a, name="Gym")
    corp = await signed_in_partner(http, db, client_a, name="Corp", studio=gym.studio)
    other = await signed_in_partner(http, db, client_b, name="Gym B")
    class_id = await add_class(db, client_a, "Run", T0)
    mine = await add_user(db, client_a, "mine@example.com")
    theirs = await add_user(db, client_a, "theirs@example.com")
    await add_member(db, client_a, gym.id, mine, T0)
    await add_member(db, client_a, corp.id, theirs, T0)
    await add_ledger(db, client_a, (theirs, class_id, date(2026, 1, 1), 600, 1))

    assert [m["userId"] for m in (await _items(http, gym.headers))["items"]] == [mine]
    assert [m["userId"] for m in (await _items(http, corp.headers))["items"]] == [theirs]
    assert (await _items(http, other.headers))["items"] == []
    error_of(await http.get(f"/partner/members/{theirs}", headers=gym.headers), 404, "NOT_FOUND")
    error_of(await http.get(f"/partner/members/{mine}", headers=other.headers), 404, "NOT_FOUND")
    assert len(csv_rows(await http.get("/partner/members/export", headers=other.headers))) == 1
    # A user of the app but of no partner, and an API key instead of a partner token.
    error_of(await http.get("/partner/members/999999", headers=gym.headers), 404, "NOT_FOUND")
    assert (await http.get("/partner/members", headers=client_a.headers)).status_code == 401
