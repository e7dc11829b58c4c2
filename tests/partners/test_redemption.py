"""Redeeming voucher codes at sign-up (atomic under concurrency), checking them, join links and
the universal key finding the client from a code."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Client, Partner, PartnerMembership, User, Voucher, VoucherRedemption
from stvos.partners import redemption
from stvos.partners.errors import VoucherAlreadyRedeemed
from tests.partners import SignedInPartner, error_of, signed_in_partner
from tests.support.factories import TestClient, make_default, make_universal_key

START = datetime(2026, 1, 1, tzinfo=UTC)
LATER = "2026-06-30T00:00:00Z"
PASSWORD = "correct-horse-battery"


async def _codes(
    http: httpx.AsyncClient, partner: SignedInPartner, quantity: int = 1, **fields: Any
) -> list[dict[str, Any]]:
    body = {"quantity": quantity, "prefix": "IRON", "expiresAt": LATER, **fields}
    response = await http.post("/partner/vouchers", json=body, headers=partner.headers)
    assert response.status_code == 201, response.text
    made: list[dict[str, Any]] = response.json()["data"]["vouchers"]
    return made


async def _register(
    http: httpx.AsyncClient, headers: dict[str, str], email: str, code: str | None
) -> httpx.Response:
    body: dict[str, Any] = {"email": email, "password": PASSWORD}
    if code is not None:
        body["voucherCode"] = code
    return await http.post("/auth/register", json=body, headers=headers)


async def _memberships(db: Database, client: TestClient) -> list[PartnerMembership]:
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        return list(await session.scalars(select(PartnerMembership)))


async def _users(db: Database, client: TestClient) -> list[User]:
    """The client's app users (studio staff made by the partner set-up left out)."""
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        return list(await session.scalars(select(User).where(User.role == "user")))


# --- redeeming at sign-up ---------------------------------------------------------------------


async def test_signing_up_with_a_code_makes_a_member(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    code = (await _codes(http, partner, accessDays=30, grantsPremium=True))[0]
    clock.advance(timedelta(minutes=5))
    # Case and stray spaces do not matter.
    typed = " " + code["code"].lower().replace("-", " - ") + " "
    response = await _register(http, client_a.headers, "ann@example.com", typed)
    assert response.status_code == 201, response.text
    user_id = response.json()["data"]["user"]["id"]
    now = START + timedelta(minutes=5)

    [membership] = await _memberships(db, client_a)
    assert membership.user_id == user_id
    assert membership.partner_id == partner.id
    assert membership.voucher_id == code["id"]
    assert membership.joined_at == now
    assert membership.access_until == now + timedelta(days=30)
    assert membership.premium is True
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        user = await session.get(User, user_id)
        assert user is not None
        assert user.premium_until == now + timedelta(days=30)
        [redeemed] = list(await session.scalars(select(VoucherRedemption)))
        assert (redeemed.voucher_id, redeemed.user_id, redeemed.redeemed_at) == (
            code["id"],
            user_id,
            now,
        )

    listed = await http.get("/partner/vouchers", headers=partner.headers)
    [shown] = listed.json()["data"]["items"]
    assert shown["status"] == "redeemed"
    assert shown["redemptionCount"] == 1
    assert shown["lastRedeemedAt"] == "2026-01-01T00:05:00Z"


async def test_a_code_without_an_access_period_gives_open_ended_access(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    code = (await _codes(http, partner, grantsPremium=True))[0]["code"]
    response = await _register(http, client_a.headers, "ann@example.com", code)
    assert response.status_code == 201, response.text
    [membership] = await _memberships(db, client_a)
    assert membership.access_until is None
    [user] = await _users(db, client_a)
    assert user.premium_until == redemption.PREMIUM_NO_END


@pytest.mark.parametrize("reason", ["unknown", "expired", "revoked", "used", "inactive_partner"])
async def test_a_refused_code_leaves_no_user_behind(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    clock: FrozenClock,
    reason: str,
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    soon = (START + timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    voucher = (await _codes(http, partner, expiresAt=soon))[0]
    code, expected = voucher["code"], (409, "VOUCHER_ALREADY_REDEEMED")
    if reason == "unknown":
        code, expected = "IRON-ZZZZZZ", (400, "INVALID_VOUCHER")
    elif reason == "expired":
        clock.advance(timedelta(minutes=10))  # expiresAt itself is already too late
        expected = (409, "VOUCHER_EXPIRED")
    elif reason == "revoked":
        await http.delete(f"/partner/vouchers/{voucher['id']}", headers=partner.headers)
        expected = (409, "VOUCHER_REVOKED")
    elif reason == "used":
        assert (
            await _register(http, client_a.headers, "first@example.com", code)
        ).status_code == 201
    else:
        async with db.transaction(TenantScope.for_client(client_a.id)) as session:
            await session.execute(update(Partner).values(status="inactive"))
        expected = (400, "INVALID_VOUCHER")
    before = len(await _users(db, client_a))

    response = await _register(http, client_a.headers, "ann@example.com", code)
    error_of(response, *expected)
    users = await _users(db, client_a)
    assert len(users) == before
    assert "ann@example.com" not in {u.email for u in users}
    # The email is free: signing up again (without the code) works.
    retry = await _register(http, client_a.headers, "ann@example.com", None)
    assert retry.status_code == 201, retry.text
    assert len(await _memberships(db, client_a)) == (1 if reason == "used" else 0)


async def test_fifty_concurrent_sign_ups_with_one_single_use_code_make_one_member(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    code = (await _codes(http, partner))[0]["code"]
    responses = await asyncio.gather(
        *(_register(http, client_a.headers, f"racer{i}@example.com", code) for i in range(50))
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 49}, [r.text for r in responses if r.status_code != 409]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "VOUCHER_ALREADY_REDEEMED"
    }
    winner = next(r for r in responses if r.status_code == 201).json()["data"]["user"]
    [membership] = await _memberships(db, client_a)
    assert membership.user_id == winner["id"]
    users = [u for u in await _users(db, client_a) if u.email.startswith("racer")]
    assert [u.id for u in users] == [winner["id"]]
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        voucher = await session.scalar(select(Voucher).where(Voucher.code == code))
        assert voucher is not None
        assert (voucher.redemption_count, voucher.status) == (1, "redeemed")
        assert await session.scalar(select(func.count(VoucherRedemption.id))) == 1


async def test_a_three_use_code_admits_exactly_three_of_ten(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    code = (await _codes(http, partner, maxRedemptions=3))[0]["code"]
    responses = await asyncio.gather(
        *(_register(http, client_a.headers, f"team{i}@example.com", code) for i in range(10))
    )
    assert Counter(r.status_code for r in responses) == {201: 3, 409: 7}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "VOUCHER_ALREADY_REDEEMED"
    }
    members = await _memberships(db, client_a)
    winners = {r.json()["data"]["user"]["id"] for r in responses if r.status_code == 201}
    assert {m.user_id for m in members} == winners
    assert len(members) == 3
    stats = await http.get("/partner/vouchers/stats", headers=partner.headers)
    assert stats.json()["data"]["redeemed"] == 1
    assert stats.json()["data"]["redemptions"] == 3


async def test_a_later_code_extends_the_membership_and_never_shortens_it(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    first = (await _codes(http, partner, accessDays=30, prefix="FIRST"))[0]
    longer = (await _codes(http, partner, accessDays=90, grantsPremium=True, prefix="LONG"))[0]
    shorter = (await _codes(http, partner, accessDays=5, prefix="SHORT", maxRedemptions=2))[0]
    response = await _register(http, client_a.headers, "ann@example.com", first["code"])
    user_id = response.json()["data"]["user"]["id"]
    clock.advance(timedelta(days=1))
    now = START + timedelta(days=1)
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await redemption.redeem(session, code=longer["code"], user_id=user_id)
        await redemption.redeem(session, code=shorter["code"], user_id=user_id)
    [membership] = await _memberships(db, client_a)
    assert membership.joined_at == START
    assert membership.voucher_id == first["id"]
    assert membership.access_until == now + timedelta(days=90)
    assert membership.premium is True
    [user] = await _users(db, client_a)
    assert user.premium_until == now + timedelta(days=90)
    # One use per person, even of a multi-use code; the refusal undoes the count.
    with pytest.raises(VoucherAlreadyRedeemed):
        async with db.transaction(TenantScope.for_client(client_a.id)) as session:
            await redemption.redeem(session, code=shorter["code"], user_id=user_id)
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        voucher = await session.get(Voucher, shorter["id"])
        assert voucher is not None
        assert voucher.redemption_count == 1


# --- checking a code --------------------------------------------------------------------------


async def test_validate_answers_the_terms_or_the_sign_up_error(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a, name="Iron Gym")
    made = await _codes(http, partner, 3, accessDays=14, grantsPremium=True)
    ok = await http.post(
        "/auth/voucher/validate", json={"code": made[0]["code"].lower()}, headers=client_a.headers
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"] == {
        "valid": True,
        "code": made[0]["code"],
        "expiresAt": LATER,
        "accessDays": 14,
        "grantsPremium": True,
        "partner": {"id": partner.id, "name": "Iron Gym"},
    }
    # Checking does not use the code up.
    assert (
        await _register(http, client_a.headers, "a@example.com", made[0]["code"])
    ).status_code == 201
    await http.delete(f"/partner/vouchers/{made[1]['id']}", headers=partner.headers)
    for code, expected in (
        (made[0]["code"], (409, "VOUCHER_ALREADY_REDEEMED")),
        (made[1]["code"], (409, "VOUCHER_REVOKED")),
        ("IRON-ZZZZZZ", (400, "INVALID_VOUCHER")),
    ):
        response = await http.post(
            "/auth/voucher/validate", json={"code": code}, headers=client_a.headers
        )
        error_of(response, *expected)
    error_of(
        await http.post("/auth/voucher/validate", json={}, headers=client_a.headers),
        400,
        "VALIDATION_ERROR",
    )
    error_of(
        await http.post("/auth/voucher/validate", json={"code": made[2]["code"]}),
        401,
        "API_KEY_REQUIRED",
    )


async def test_validate_is_throttled(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    # 60 look-ups per address per 15 minutes by default: an office can sign up, a guesser not.
    answers = [
        await http.post(
            "/auth/voucher/validate", json={"code": f"GUESS-{i}"}, headers=client_a.headers
        )
        for i in range(61)
    ]
    codes = [r.json()["code"] for r in answers]
    assert codes[:60] == ["INVALID_VOUCHER"] * 60
    assert codes[60] == "RATE_LIMITED"
    limited = answers[60]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1


# --- isolation --------------------------------------------------------------------------------


async def test_a_code_works_only_in_its_own_app(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    clock: FrozenClock,
) -> None:
    partner = await signed_in_partner(http, db, client_a)
    code = (await _codes(http, partner))[0]["code"]
    check = await http.post("/auth/voucher/validate", json={"code": code}, headers=client_b.headers)
    error_of(check, 400, "INVALID_VOUCHER")
    error_of(await _register(http, client_b.headers, "b@example.com", code), 400, "INVALID_VOUCHER")
    assert await _users(db, client_b) == []
    # Still unused in its own app.
    assert (await _register(http, client_a.headers, "a@example.com", code)).status_code == 201


# --- the public join link ---------------------------------------------------------------------


async def test_join_link_shows_validity_and_branding_without_a_key(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    partner = await signed_in_partner(http, db, client_a, name="Iron Gym")
    soon = (START + timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    code = (await _codes(http, partner, accessDays=7, expiresAt=soon))[0]["code"]
    response = await http.get(f"/app/join/{code.lower()}")
    assert response.status_code == 200, response.text
    page = response.json()["data"]
    assert page["code"] == code
    assert (page["valid"], page["status"], page["reason"]) == (True, "active", None)
    assert page["expiresAt"] == "2026-01-01T00:10:00Z"
    assert page["accessDays"] == 7
    assert page["partner"] == {"name": "Iron Gym"}
    assert page["client"]["id"] == client_a.id
    assert page["client"]["slug"] == client_a.slug
    assert "branding" in page["client"]
    assert "enabledFeatures" in page["client"]

    clock.advance(timedelta(minutes=10))
    expired = (await http.get(f"/app/join/{code}")).json()["data"]
    assert (expired["valid"], expired["status"], expired["reason"]) == (
        False,
        "expired",
        "VOUCHER_EXPIRED",
    )
    error_of(await http.get("/app/join/IRON-ZZZZZZ"), 404, "NOT_FOUND")

    # A suspended app's links lead nowhere.
    async with db.transaction(TenantScope.for_platform()) as session:
        await session.execute(
            update(Client).where(Client.id == client_a.id).values(status="suspended")
        )
    error_of(await http.get(f"/app/join/{code}"), 404, "NOT_FOUND")


async def test_join_link_is_throttled_per_address(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    statuses = [(await http.get(f"/app/join/GUESS-{i}")).status_code for i in range(61)]
    assert statuses[:60] == [404] * 60
    assert statuses[60] == 429


# --- the universal key ------------------------------------------------------------------------


async def test_universal_key_finds_the_app_from_the_code(
    app: FastAPI,
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    clock: FrozenClock,
) -> None:
    partner = await signed_in_partner(http, db, client_a, name="Iron Gym")
    code = (await _codes(http, partner))[0]["code"]
    universal = {"X-API-Key": await make_universal_key(db)}
    # No default client and no usable code: nothing names the app.
    error_of(
        await _register(http, universal, "x@example.com", "NOPE-AAAAAA"), 400, "NO_DEFAULT_CLIENT"
    )

    check = await http.post("/auth/voucher/validate", json={"code": code}, headers=universal)
    assert check.status_code == 200, check.text
    assert check.json()["data"]["partner"]["id"] == partner.id

    await make_default(db, client_b.id)  # the code's app wins over the default one
    app.state.authenticator.invalidate()  # as the admin API does after changing the default
    response = await _register(http, universal, "ann@example.com", code.lower())
    assert response.status_code == 201, response.text
    [user] = await _users(db, client_a)
    assert user.email == "ann@example.com"
    assert await _users(db, client_b) == []
    assert len(await _memberships(db, client_a)) == 1
    # Without a code, the default client it is.
    plain = await _register(http, universal, "bob@example.com", None)
    assert plain.status_code == 201
    assert [u.email for u in await _users(db, client_b)] == ["bob@example.com"]
