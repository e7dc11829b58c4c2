"""Partner staff's voucher codes: bulk generation, listing, statistics, export and revoking."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Voucher
from stvos.partners import vouchers as voucher_service
from tests.partners import SignedInPartner, error_of, signed_in_partner
from tests.support.factories import TestClient

START = datetime(2026, 1, 1, tzinfo=UTC)
LATER = "2026-06-30T00:00:00Z"
CODE = re.compile(r"^[A-Z0-9]{1,12}-[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$")


async def _generate(
    http: httpx.AsyncClient, partner: SignedInPartner, quantity: int = 3, **fields: Any
) -> list[dict[str, Any]]:
    body = {"quantity": quantity, "prefix": "iron", "expiresAt": LATER, **fields}
    response = await http.post("/partner/vouchers", json=body, headers=partner.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    assert data["quantity"] == quantity == len(data["vouchers"])
    vouchers: list[dict[str, Any]] = data["vouchers"]
    return vouchers


async def _register(http: httpx.AsyncClient, client: TestClient, email: str, code: str) -> Any:
    return await http.post(
        "/auth/register",
        json={"email": email, "password": "correct-horse-battery", "voucherCode": code},
        headers=client.headers,
    )


async def _count_vouchers(db: Database, client: TestClient) -> int:
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        return int(await session.scalar(select(func.count(Voucher.id))) or 0)


async def test_a_partner_generates_500_codes_in_one_call(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    made = await _generate(http, partner, 500, prefix="gym26")
    codes = [v["code"] for v in made]
    assert len(set(codes)) == 500
    assert all(CODE.match(code) and code.startswith("GYM26-") for code in codes)
    first = made[0]
    assert first["status"] == "active"
    assert first["prefix"] == "GYM26"
    assert first["expiresAt"] == "2026-06-30T00:00:00Z"
    assert first["maxRedemptions"] == 1
    assert first["redemptionCount"] == 0
    assert first["accessDays"] is None
    assert first["grantsPremium"] is False
    assert first["createdAt"] == "2026-01-01T00:00:00Z"
    assert first["lastRedeemedAt"] is None
    assert await _count_vouchers(db, client_a) == 500

    listed = await http.get("/partner/vouchers?limit=100&page=5", headers=partner.headers)
    page = listed.json()["data"]
    assert page["pagination"] == {"page": 5, "limit": 100, "total": 500, "totalPages": 5}
    assert len(page["items"]) == 100


async def test_terms_of_the_codes_are_kept(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    made = await _generate(
        http, partner, 2, maxRedemptions=25, accessDays=90, grantsPremium=True, prefix="Corp"
    )
    assert {(v["maxRedemptions"], v["accessDays"], v["grantsPremium"]) for v in made} == {
        (25, 90, True)
    }
    assert all(v["code"].startswith("CORP-") for v in made)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": 501}, "quantity"),
        ({"prefix": ""}, "prefix"),
        ({"prefix": "IRON-GYM"}, "prefix"),
        ({"prefix": "ABCDEFGHIJKLM"}, "prefix"),
        ({"expiresAt": "2025-12-31T23:59:59Z"}, "expiresAt"),
        ({"expiresAt": "2031-06-01T00:00:00Z"}, "expiresAt"),
        ({"expiresAt": "2026-06-30T00:00:00"}, "expiresAt"),  # no zone: ambiguous
        ({"maxRedemptions": 0}, "maxRedemptions"),
        ({"maxRedemptions": 10_001}, "maxRedemptions"),
        ({"accessDays": 0}, "accessDays"),
        ({"accessDays": 3651}, "accessDays"),
        ({"discount": 10}, "discount"),
    ],
)
async def test_bad_batches_are_refused_and_nothing_is_written(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    clock: FrozenClock,
    change: dict[str, Any],
    field: str,
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    body = {"quantity": 5, "prefix": "IRON", "expiresAt": LATER, **change}
    response = await http.post("/partner/vouchers", json=body, headers=partner.headers)
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert any(field in str(d.get("field")) for d in error["details"]), error
    assert await _count_vouchers(db, client_a) == 0


async def test_idempotency_key_replays_the_same_batch(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    headers = {**partner.headers, "Idempotency-Key": "batch-1"}
    body = {"quantity": 20, "prefix": "IRON", "expiresAt": LATER}
    first = await http.post("/partner/vouchers", json=body, headers=headers)
    again = await http.post("/partner/vouchers", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert await _count_vouchers(db, client_a) == 20
    other = await http.post("/partner/vouchers", json={**body, "quantity": 21}, headers=headers)
    error_of(other, 409, "IDEMPOTENCY_CONFLICT")
    assert await _count_vouchers(db, client_a) == 20


async def test_a_code_taken_by_another_client_is_drawn_again(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Codes are unique platform-wide, yet a client cannot see other clients' codes: the
    insert itself detects the collision, and only the collided code is drawn again."""
    partner_a = await signed_in_partner(http, db, client_a)
    partner_b = await signed_in_partner(http, db, client_b)
    draws = iter(["IRON-AAAAAA", "IRON-BBBBBB", "IRON-AAAAAA", "IRON-CCCCCC"])
    monkeypatch.setattr(voucher_service, "new_code", lambda _prefix: next(draws))
    taken = await _generate(http, partner_b, 1)
    assert taken[0]["code"] == "IRON-AAAAAA"
    made = await _generate(http, partner_a, 2)
    assert sorted(v["code"] for v in made) == ["IRON-BBBBBB", "IRON-CCCCCC"]
    assert await _count_vouchers(db, client_a) == 2
    assert await _count_vouchers(db, client_b) == 1


async def test_status_filter_search_and_stats_follow_one_rule(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    soon = (START + timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    expiring = await _generate(http, partner, 2, prefix="SOON", expiresAt=soon)
    lasting = await _generate(http, partner, 4, prefix="LONG")
    multi = await _generate(http, partner, 1, prefix="MULTI", maxRedemptions=3)
    # One lasting code redeemed (used up), one revoked, one use of the 3-use code.
    assert (
        await _register(http, client_a, "ann@example.com", lasting[0]["code"])
    ).status_code == 201
    assert (await _register(http, client_a, "bob@example.com", multi[0]["code"])).status_code == 201
    revoked = await http.delete(f"/partner/vouchers/{lasting[1]['id']}", headers=partner.headers)
    assert revoked.status_code == 200, revoked.text
    clock.advance(timedelta(minutes=11))  # the SOON codes expire; no job runs

    async def listed(query: str) -> list[dict[str, Any]]:
        response = await http.get(f"/partner/vouchers?{query}", headers=partner.headers)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["data"]["items"]
        return items

    def ids(items: list[dict[str, Any]]) -> set[int]:
        return {v["id"] for v in items}

    assert ids(await listed("status=expired")) == {v["id"] for v in expiring}
    assert ids(await listed("status=redeemed")) == {lasting[0]["id"]}
    assert ids(await listed("status=revoked")) == {lasting[1]["id"]}
    active = await listed("status=active")
    assert ids(active) == {lasting[2]["id"], lasting[3]["id"], multi[0]["id"]}
    assert {v["status"] for v in active} == {"active"}
    everything = await listed("limit=100")
    assert [v["id"] for v in everything] == sorted(ids(everything), reverse=True)  # newest first
    by_id = {v["id"]: v for v in everything}
    assert by_id[lasting[0]["id"]]["status"] == "redeemed"
    assert by_id[lasting[0]["id"]]["redemptionCount"] == 1
    assert by_id[lasting[0]["id"]]["lastRedeemedAt"] == "2026-01-01T00:00:00Z"
    assert by_id[multi[0]["id"]]["redemptionCount"] == 1
    assert by_id[lasting[1]["id"]]["revokedAt"] == "2026-01-01T00:00:00Z"

    # search: a case-blind substring of the code; LIKE wildcards are literal.
    fragment = lasting[2]["code"][-4:].lower()
    assert lasting[2]["id"] in ids(await listed(f"search={fragment}"))
    assert ids(await listed("search=long-")) == {v["id"] for v in lasting}
    assert ids(await listed("search=lon%25")) == set()
    assert ids(await listed("search=multi&status=active")) == {multi[0]["id"]}
    assert ids(await listed("search=multi&status=expired")) == set()

    error_of(
        await http.get("/partner/vouchers?status=used", headers=partner.headers),
        400,
        "VALIDATION_ERROR",
    )

    stats = await http.get("/partner/vouchers/stats", headers=partner.headers)
    assert stats.json()["data"] == {
        "total": 7,
        "active": 3,
        "redeemed": 1,
        "expired": 2,
        "revoked": 1,
        "redemptions": 2,
        "redemptionRate": round(1 / 7, 4),
    }


async def test_stats_of_a_partner_without_codes(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    stats = await http.get("/partner/vouchers/stats", headers=partner.headers)
    assert stats.json()["data"] == {
        "total": 0,
        "active": 0,
        "redeemed": 0,
        "expired": 0,
        "revoked": 0,
        "redemptions": 0,
        "redemptionRate": 0.0,
    }


async def test_revoke(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    single = await _generate(http, partner, 2)
    multi = (await _generate(http, partner, 1, prefix="MULTI", maxRedemptions=2))[0]

    revoked = await http.delete(f"/partner/vouchers/{single[0]['id']}", headers=partner.headers)
    assert revoked.status_code == 200
    assert revoked.json()["data"]["status"] == "revoked"
    assert revoked.json()["data"]["revokedAt"] == "2026-01-01T00:00:00Z"
    # Again: the same answer (a retried DELETE must not fail).
    clock.advance(60)
    again = await http.delete(f"/partner/vouchers/{single[0]['id']}", headers=partner.headers)
    assert again.status_code == 200
    assert again.json()["data"]["revokedAt"] == "2026-01-01T00:00:00Z"

    # A used-up code made a member: 409.
    assert (
        await _register(http, client_a, "ann@example.com", single[1]["code"])
    ).status_code == 201
    used = await http.delete(f"/partner/vouchers/{single[1]['id']}", headers=partner.headers)
    error_of(used, 409, "CONFLICT")
    listed = await http.get("/partner/vouchers?status=redeemed", headers=partner.headers)
    assert [v["id"] for v in listed.json()["data"]["items"]] == [single[1]["id"]]

    # A multi-use code with uses left can be withdrawn; its member stays a member.
    assert (await _register(http, client_a, "bob@example.com", multi["code"])).status_code == 201
    withdrawn = await http.delete(f"/partner/vouchers/{multi['id']}", headers=partner.headers)
    assert withdrawn.status_code == 200
    assert withdrawn.json()["data"]["status"] == "revoked"
    assert withdrawn.json()["data"]["redemptionCount"] == 1
    refused = await _register(http, client_a, "cat@example.com", multi["code"])
    error_of(refused, 409, "VOUCHER_REVOKED")

    error_of(
        await http.delete("/partner/vouchers/999999", headers=partner.headers), 404, "NOT_FOUND"
    )


async def test_export_is_a_clean_csv(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    made = await _generate(http, partner, 3, accessDays=30)
    await http.delete(f"/partner/vouchers/{made[0]['id']}", headers=partner.headers)
    response = await http.get("/partner/vouchers/export", headers=partner.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == list(voucher_service.EXPORT_HEADER)
    assert [r[0] for r in rows[1:]] == [v["code"] for v in made]  # oldest first
    assert rows[1][1] == "revoked"
    assert rows[2][1:7] == ["active", "2026-06-30T00:00:00Z", "1", "0", "30", "false"]
    assert "\r\n" in text

    only_active = await http.get("/partner/vouchers/export?status=active", headers=partner.headers)
    active_rows = list(csv.reader(io.StringIO(only_active.content.decode().lstrip("\ufeff"))))
    assert [r[0] for r in active_rows[1:]] == [made[1]["code"], made[2]["code"]]


async def test_partners_see_only_their_own_codes(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    clock: FrozenClock,
) -> None:
    iron = await signed_in_partner(http, db, client_a, name="Iron Gym")
    corp = await signed_in_partner(http, db, client_a, name="Acme Corp", studio=iron.studio)
    beta = await signed_in_partner(http, db, client_b, name="Beta Partner")
    iron_codes = await _generate(http, iron, 2, prefix="IRON")
    corp_codes = await _generate(http, corp, 1, prefix="ACME")
    beta_codes = await _generate(http, beta, 1, prefix="BETA")

    for partner, own in ((iron, iron_codes), (corp, corp_codes), (beta, beta_codes)):
        listed = await http.get("/partner/vouchers", headers=partner.headers)
        assert {v["id"] for v in listed.json()["data"]["items"]} == {v["id"] for v in own}
        stats = await http.get("/partner/vouchers/stats", headers=partner.headers)
        assert stats.json()["data"]["total"] == len(own)
        export = await http.get("/partner/vouchers/export", headers=partner.headers)
        assert export.content.decode().count("\r\n") == len(own) + 1

    # Another partner's code, of this client or another: 404, and it stays active.
    for partner, foreign in ((corp, iron_codes[0]), (beta, iron_codes[1]), (iron, beta_codes[0])):
        response = await http.delete(f"/partner/vouchers/{foreign['id']}", headers=partner.headers)
        error_of(response, 404, "NOT_FOUND")
    listed = await http.get("/partner/vouchers?status=active", headers=iron.headers)
    assert listed.json()["data"]["pagination"]["total"] == 2

    # Partner routes want a partner token: an app key or a user token is not enough.
    assert (await http.get("/partner/vouchers", headers=client_a.headers)).status_code == 401
    studio = await http.get("/partner/vouchers", headers=iron.studio.headers)
    assert studio.status_code in (401, 403)
