"""Monthly partner billing: the billable rule in the partner's zone, usage in the month, money in
minor units, closed months stored and unchanged on re-run (also when closed concurrently), the
CSV export (totals row, no formula injection), validation and isolation."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, func, select

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import BillingStatement, PartnerMembership
from tests.content import add_class
from tests.partners import SignedInPartner, error_of, signed_in_partner
from tests.partners.insights_helpers import add_ledger, add_member, add_user, csv_rows, set_partner
from tests.support.factories import TestClient

JAN1 = datetime(2026, 1, 1, tzinfo=UTC)
FEB_START_NY = datetime(2026, 2, 1, 5, tzinfo=UTC)  # midnight in New York


async def _billing(http: httpx.AsyncClient, partner: SignedInPartner, month: str) -> Any:
    response = await http.get(f"/partner/billing?month={month}", headers=partner.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _february(
    http: httpx.AsyncClient, db: Database, client: TestClient
) -> tuple[SignedInPartner, SignedInPartner, dict[str, int]]:
    """A New York partner at 4.50 EUR with members around the edges of February."""
    gym = await signed_in_partner(http, db, client, name="Gym")
    corp = await signed_in_partner(http, db, client, name="Corp", studio=gym.studio)
    await set_partner(
        db, client, gym.id, billing_rate_minor=450, currency="EUR", time_zone="America/New_York"
    )
    class_id = await add_class(db, client, "Spin", JAN1)
    users = {key: await add_user(db, client, f"{key}@example.com", key.upper()) for key in "abcdf"}
    users["e"] = await add_user(db, client, "e@example.com", "E", deleted_at=JAN1)
    await add_member(db, client, gym.id, users["a"], JAN1)  # no end: billable
    # Ends 31 January 22:00 in New York: not February's there (it would be in UTC).
    await add_member(db, client, gym.id, users["b"], JAN1, datetime(2026, 2, 1, 3, tzinfo=UTC))
    await add_member(db, client, gym.id, users["c"], datetime(2026, 2, 15, tzinfo=UTC))
    await add_member(db, client, gym.id, users["d"], JAN1, FEB_START_NY)  # ends as it starts
    await add_member(db, client, gym.id, users["e"], JAN1, FEB_START_NY + timedelta(seconds=1))
    await add_member(db, client, corp.id, users["f"], JAN1)  # another partner's
    a, c, f = users["a"], users["c"], users["f"]
    await add_ledger(
        db,
        client,
        (a, class_id, date(2026, 1, 31), 600, 0),  # January
        (a, class_id, date(2026, 2, 1), 1200, 1),
        (a, class_id, date(2026, 2, 20), 600, 0),
        (c, class_id, date(2026, 2, 13), 6000, 1),  # before c joined (14 Feb in New York)
        (c, class_id, date(2026, 2, 16), 300, 0),
        (f, class_id, date(2026, 2, 16), 9000, 1),
    )
    return gym, corp, users


async def test_billable_rule_usage_and_totals_of_an_open_month(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    clock._now = datetime(2026, 2, 20, 12, tzinfo=UTC)
    gym, _, users = await _february(http, db, client_a)
    report = await _billing(http, gym, "2026-02")
    assert report["closed"] is False
    assert report["month"] == "2026-02"
    assert report["timeZone"] == "America/New_York"
    assert report["periodStart"] == "2026-02-01T05:00:00Z"
    assert report["periodEnd"] == "2026-03-01T05:00:00Z"
    assert "overlapped the month in the partner's time zone" in report["billableRule"]
    assert report["partner"] == {"id": gym.id, "name": "Gym"}
    assert [(m["userId"], m["watchTimeMinutes"], m["completions"]) for m in report["members"]] == [
        (users["a"], 30, 1),
        (users["e"], 0, 0),
        (users["c"], 5, 0),
    ]
    erased = report["members"][1]
    assert erased["email"] is None
    assert erased["name"] is None
    assert report["members"][0]["classesWatched"] == 1
    assert report["totals"] == {
        "billableMembers": 3,
        "rate": "4.50",
        "rateMinor": 450,
        "currency": "EUR",
        "amount": "13.50",
        "amountMinor": 1350,
        "watchTimeMinutes": 35,
        "classesWatched": 2,
        "completions": 1,
    }
    # Read in UTC instead, b's and d's access overlap February too.
    await set_partner(db, client_a, gym.id, time_zone="UTC")
    in_utc = await _billing(http, gym, "2026-02")
    assert in_utc["totals"]["billableMembers"] == 5
    assert in_utc["totals"]["amount"] == "22.50"
    # The current month is the default.
    assert (await http.get("/partner/billing", headers=gym.headers)).json()["data"]["month"] == (
        "2026-02"
    )


async def test_a_closed_month_is_stored_and_never_changes(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    # January in New York ends 1 February 05:00 UTC; with a day of grace it closes 2 February.
    clock._now = datetime(2026, 2, 2, 4, 59, tzinfo=UTC)
    gym, _, users = await _february(http, db, client_a)
    assert (await _billing(http, gym, "2026-01"))["closed"] is False
    clock.advance(timedelta(minutes=2))
    closed = await _billing(http, gym, "2026-01")
    assert closed["closed"] is True
    assert closed["totals"]["billableMembers"] == 4  # a, b, d, e joined 1 Jan; c in February
    assert closed["members"][0]["watchTimeMinutes"] == 10  # a's January
    csv_before = (await http.get("/partner/billing/2026-01/export", headers=gym.headers)).content

    # Later changes: a member removed, one back-dated into January, a new rate.
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await session.execute(
            delete(PartnerMembership).where(PartnerMembership.user_id == users["a"])
        )
    late = await add_user(db, client_a, "late@example.com")
    await add_member(db, client_a, gym.id, late, datetime(2026, 1, 5, tzinfo=UTC))
    await set_partner(db, client_a, gym.id, billing_rate_minor=999)

    again = await _billing(http, gym, "2026-01")
    assert again == closed
    after = (await http.get("/partner/billing/2026-01/export", headers=gym.headers)).content
    assert after == csv_before
    live = await _billing(http, gym, "2026-02")  # the open month follows the changes
    assert live["totals"]["rate"] == "9.99"
    assert users["a"] not in [m["userId"] for m in live["members"]]
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        count = await session.scalar(select(func.count()).select_from(BillingStatement))
    assert count == 1


async def test_concurrent_first_requests_store_one_statement(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    clock._now = datetime(2026, 3, 5, tzinfo=UTC)
    gym, _, _ = await _february(http, db, client_a)
    responses = await asyncio.gather(
        *(http.get("/partner/billing?month=2026-02", headers=gym.headers) for _ in range(6))
    )
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    reports = [r.json()["data"] for r in responses]
    assert all(report == reports[0] for report in reports)
    assert reports[0]["closed"] is True
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        rows = (await session.scalars(select(BillingStatement))).all()
    assert [(row.partner_id, row.month) for row in rows] == [(gym.id, "2026-02")]
    assert rows[0].report["totals"]["amount"] == reports[0]["totals"]["amount"]


async def test_month_validation(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    clock._now = datetime(2026, 2, 20, tzinfo=UTC)
    gym = await signed_in_partner(http, db, client_a)
    for month in ("2026-13", "2026-00", "2026-1", "26-01", "abc", "2026-02-01", "0000-01"):
        for path in (f"/partner/billing?month={month}", f"/partner/billing/{month}/export"):
            body = error_of(await http.get(path, headers=gym.headers), 400, "VALIDATION_ERROR")
            assert "month" in str(body["details"]), path
    for path in ("/partner/billing?month=2026-03", "/partner/billing/2027-01/export"):
        body = error_of(await http.get(path, headers=gym.headers), 400, "VALIDATION_ERROR")
        assert "future" in body["error"]


async def test_billing_csv_has_totals_and_no_formulas(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    clock._now = datetime(2026, 1, 20, tzinfo=UTC)
    gym = await signed_in_partner(http, db, client_a)
    await set_partner(db, client_a, gym.id, billing_rate_minor=450, currency="GBP")
    risky = [("=cmd@example.com", "=1+2"), ("+a@example.com", "+SUM(A1)"), ("-b@example.com", "-3")]
    risky.append(("@c@example.com", "@x"))
    for n, (email, name) in enumerate(risky):
        user_id = await add_user(db, client_a, email, name)
        await add_member(db, client_a, gym.id, user_id, JAN1 + timedelta(hours=n))
    rows = csv_rows(await http.get("/partner/billing/2026-01/export", headers=gym.headers))
    assert rows[0] == [
        "userId", "email", "name", "joinedAt", "accessUntil", "watchTimeMinutes",
        "classesWatched", "completions", "charge", "currency",
    ]  # fmt: skip
    body = rows[1:-1]
    assert [(row[1], row[2]) for row in body] == [
        ("'=cmd@example.com", "'=1+2"),
        ("'+a@example.com", "'+SUM(A1)"),
        ("'-b@example.com", "'-3"),
        ("'@c@example.com", "'@x"),
    ]
    assert body[0][3] == "2026-01-01T00:00:00Z"
    assert body[0][4] == ""
    assert [row[8] for row in body] == ["4.50"] * 4
    assert rows[-1] == ["TOTAL", "4 billable members", "", "", "", "0", "0", "0", "18.00", "GBP"]
    disposition = (await http.get("/partner/billing/2026-01/export", headers=gym.headers)).headers
    assert f"billing-{gym.id}-2026-01.csv" in disposition["content-disposition"]


async def test_billing_is_isolated_between_partners_and_clients(
    clock: FrozenClock,
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
) -> None:
    clock._now = datetime(2026, 3, 5, tzinfo=UTC)
    gym, corp, users = await _february(http, db, client_a)
    other = await signed_in_partner(http, db, client_b, name="B Gym")
    await set_partner(db, client_b, other.id, billing_rate_minor=100)
    mine = await _billing(http, gym, "2026-02")
    corps = await _billing(http, corp, "2026-02")
    theirs = await _billing(http, other, "2026-02")
    assert users["f"] not in [m["userId"] for m in mine["members"]]
    assert [m["userId"] for m in corps["members"]] == [users["f"]]
    assert corps["members"][0]["watchTimeMinutes"] == 150
    assert corps["timeZone"] == "Europe/London"  # no partner zone: the client's
    assert theirs["members"] == []
    assert theirs["totals"]["amount"] == "0.00"
    assert theirs["timeZone"] == "America/New_York"  # client_b's zone
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        rows = (await session.scalars(select(BillingStatement).order_by(BillingStatement.id))).all()
    assert sorted(row.partner_id for row in rows) == sorted([gym.id, corp.id])
    async with db.transaction(TenantScope.for_client(client_b.id)) as session:
        rows = (await session.scalars(select(BillingStatement))).all()
    assert [(row.partner_id, row.report["totals"]["billableMembers"]) for row in rows] == [
        (other.id, 0)
    ]
    assert (await http.get("/partner/billing", headers=client_a.headers)).status_code == 401
