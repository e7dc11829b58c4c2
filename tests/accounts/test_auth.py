"""Sign-up, sign-in, refresh rotation, sign-out and /auth/me, per the published contract."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import RefreshToken, Trainer, User
from tests.support.factories import (
    TestClient,
    make_client,
    make_default,
    make_universal_key,
    make_user,
)

PASSWORD = "correct-horse-battery"


async def _register(
    http: httpx.AsyncClient, client: TestClient, email: str, **extra: object
) -> httpx.Response:
    body = {"email": email, "password": PASSWORD, **extra}
    return await http.post("/auth/register", json=body, headers=client.headers)


def _bearer(client: TestClient, token: str) -> dict[str, str]:
    return {**client.headers, "Authorization": f"Bearer {token}"}


async def test_register_answers_both_token_placements(
    http: httpx.AsyncClient, client_a: TestClient
) -> None:
    response = await _register(http, client_a, "ann@example.com", name="Ann")
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["user"] == {
        "id": data["user"]["id"],
        "email": "ann@example.com",
        "name": "Ann",
        "role": "user",
    }
    assert data["accessToken"] == data["tokens"]["accessToken"]
    assert data["refreshToken"] == data["tokens"]["refreshToken"]
    assert data["tokens"]["expiresIn"] == 900
    me = await http.get("/auth/me", headers=_bearer(client_a, data["accessToken"]))
    assert me.status_code == 200
    assert me.json()["data"]["user"]["email"] == "ann@example.com"
    assert me.json()["data"]["client"]["id"] == client_a.id
    assert "classes" in me.json()["data"]["client"]["enabledFeatures"]


async def test_emails_are_unique_per_client_case_insensitively(
    http: httpx.AsyncClient, client_a: TestClient, client_b: TestClient
) -> None:
    assert (await _register(http, client_a, "Sam@Example.com")).status_code == 201
    again = await _register(http, client_a, "sam@EXAMPLE.com")
    assert again.status_code == 409
    assert again.json()["code"] == "USER_EXISTS"
    # The same person may join another client independently.
    assert (await _register(http, client_b, "sam@example.com")).status_code == 201


async def test_concurrent_sign_ups_with_one_email_make_one_account(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    responses = await asyncio.gather(
        *(_register(http, client_a, "race@example.com") for _ in range(5))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        users = list(await session.scalars(select(User.id)))
    assert len(users) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "email"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "x@example.com", "password": "short"}, "password"),
        ({"email": "x@example.com", "password": PASSWORD, "role": "client_admin"}, "role"),
        ({"email": "x@example.com", "password": PASSWORD, "profile": {"age": 5}}, "profile.age"),
        (
            {"email": "x@example.com", "password": PASSWORD, "profile": {"timeZone": "Mars/Base"}},
            "profile.timeZone",
        ),
    ],
)
async def test_register_validation(
    http: httpx.AsyncClient, client_a: TestClient, body: dict[str, object], field: str
) -> None:
    response = await http.post("/auth/register", json=body, headers=client_a.headers)
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in response.json()["details"]]


async def test_voucher_rules(http: httpx.AsyncClient, db: Database) -> None:
    strict = await make_client(db, "Voucher Only", requires_voucher=True)
    response = await _register(http, strict, "v@example.com")
    assert response.status_code == 400
    assert response.json()["code"] == "VOUCHER_REQUIRED"
    # Until the partners capability installs vouchers, every code is unknown; nothing is kept.
    response = await _register(http, strict, "v@example.com", voucherCode="GYM-ABC123")
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_VOUCHER"
    async with db.transaction(TenantScope.for_client(strict.id), write=False) as session:
        assert list(await session.scalars(select(User.id))) == []


async def test_coach_must_be_a_trainer_of_the_same_client(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    async with db.transaction(TenantScope.for_client(client_b.id)) as session:
        foreign = Trainer(name="Other Coach")
        session.add(foreign)
        await session.flush()
        foreign_id = foreign.id
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        own = Trainer(name="Coach Kim")
        session.add(own)
        await session.flush()
        own_id = own.id

    bad = await _register(http, client_a, "c1@example.com", coachId=foreign_id)
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "coachId"
    good = await _register(http, client_a, "c2@example.com", coachId=own_id)
    assert good.status_code == 201
    me = await http.get("/users/me", headers=_bearer(client_a, good.json()["data"]["accessToken"]))
    assert me.json()["data"]["user"]["coach"] == {"id": own_id, "name": "Coach Kim"}


async def test_login_gives_tokens_and_the_client(
    http: httpx.AsyncClient, client_a: TestClient
) -> None:
    await _register(http, client_a, "lee@example.com")
    response = await http.post(
        "/auth/login",
        json={"email": "LEE@example.com", "password": PASSWORD},
        headers=client_a.headers,
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["client"]["id"] == client_a.id
    assert data["client"]["name"] == "Alpha Studio"
    assert "colors" in data["client"]["branding"]
    assert data["tokens"]["accessToken"] == data["accessToken"]


async def test_login_failures_look_alike(http: httpx.AsyncClient, client_a: TestClient) -> None:
    await _register(http, client_a, "kim@example.com")
    wrong = await http.post(
        "/auth/login",
        json={"email": "kim@example.com", "password": "nope-nope"},
        headers=client_a.headers,
    )
    unknown = await http.post(
        "/auth/login",
        json={"email": "who@example.com", "password": "nope-nope"},
        headers=client_a.headers,
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "INVALID_CREDENTIALS"
    assert wrong.json()["error"] == unknown.json()["error"]


async def test_a_user_of_client_a_cannot_sign_in_with_client_bs_key(
    http: httpx.AsyncClient, client_a: TestClient, client_b: TestClient
) -> None:
    await _register(http, client_a, "only-a@example.com")
    response = await http.post(
        "/auth/login",
        json={"email": "only-a@example.com", "password": PASSWORD},
        headers=client_b.headers,
    )
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_CREDENTIALS"


async def test_refresh_rotates_and_reuse_ends_the_family(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    first = (await _register(http, client_a, "rot@example.com")).json()["data"]
    rotated = await http.post(
        "/auth/refresh", json={"refreshToken": first["refreshToken"]}, headers=client_a.headers
    )
    assert rotated.status_code == 200
    second = rotated.json()["data"]
    assert second["refreshToken"] != first["refreshToken"]
    assert second["tokens"]["refreshToken"] == second["refreshToken"]

    # The old token again: theft is assumed, the whole family ends (and stays ended).
    reused = await http.post(
        "/auth/refresh", json={"refreshToken": first["refreshToken"]}, headers=client_a.headers
    )
    assert reused.status_code == 401
    assert reused.json()["code"] == "REFRESH_TOKEN_REUSED"
    latest = await http.post(
        "/auth/refresh", json={"refreshToken": second["refreshToken"]}, headers=client_a.headers
    )
    assert latest.status_code == 401
    # Whoever holds the family's access tokens is out at once, not in 15 minutes.
    for token in (first["accessToken"], second["accessToken"]):
        me = await http.get("/users/me", headers=_bearer(client_a, token))
        assert me.status_code == 401
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        live = list(
            await session.scalars(select(RefreshToken.id).where(RefreshToken.revoked_at.is_(None)))
        )
    assert live == []


async def test_concurrent_refreshes_of_one_token_cannot_both_win(
    http: httpx.AsyncClient, client_a: TestClient
) -> None:
    data = (await _register(http, client_a, "twin@example.com")).json()["data"]
    responses = await asyncio.gather(
        *(
            http.post(
                "/auth/refresh",
                json={"refreshToken": data["refreshToken"]},
                headers=client_a.headers,
            )
            for _ in range(4)
        )
    )
    assert sum(r.status_code == 200 for r in responses) <= 1
    assert all(r.status_code in {200, 401} for r in responses)


async def test_refresh_tokens_are_bound_to_their_client(
    http: httpx.AsyncClient, client_a: TestClient, client_b: TestClient
) -> None:
    data = (await _register(http, client_a, "bound@example.com")).json()["data"]
    response = await http.post(
        "/auth/refresh", json={"refreshToken": data["refreshToken"]}, headers=client_b.headers
    )
    assert response.status_code == 401
    for junk in ("", "rt_nonsense", "x" * 300):
        bad = await http.post(
            "/auth/refresh", json={"refreshToken": junk}, headers=client_a.headers
        )
        assert bad.status_code in {400, 401}


async def test_logout_ends_the_sign_in(http: httpx.AsyncClient, client_a: TestClient) -> None:
    data = (await _register(http, client_a, "bye@example.com")).json()["data"]
    response = await http.post("/auth/logout", headers=_bearer(client_a, data["accessToken"]))
    assert response.status_code == 200
    assert response.json()["data"]["message"]
    again = await http.post(
        "/auth/refresh", json={"refreshToken": data["refreshToken"]}, headers=client_a.headers
    )
    assert again.status_code == 401
    # The access token of that sign-in ends with it, without waiting for its expiry.
    me = await http.get("/users/me", headers=_bearer(client_a, data["accessToken"]))
    assert me.status_code == 401
    assert (await http.post("/auth/logout", headers=client_a.headers)).status_code == 401


async def test_logout_ends_only_this_sign_in(http: httpx.AsyncClient, client_a: TestClient) -> None:
    phone = (await _register(http, client_a, "two@example.com")).json()["data"]
    laptop = (
        await http.post(
            "/auth/login",
            json={"email": "two@example.com", "password": PASSWORD},
            headers=client_a.headers,
        )
    ).json()["data"]
    assert (
        await http.post("/auth/logout", headers=_bearer(client_a, phone["accessToken"]))
    ).status_code == 200
    assert (
        await http.get("/users/me", headers=_bearer(client_a, laptop["accessToken"]))
    ).status_code == 200


async def test_universal_key_uses_the_tokens_client(
    http: httpx.AsyncClient, app: FastAPI, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    universal = await make_universal_key(db)
    user_b = await make_user(http, db, client_b, "uni@example.com")
    # No default client: the universal key alone cannot register anyone.
    response = await http.post(
        "/auth/register",
        json={"email": "nobody@example.com", "password": PASSWORD},
        headers={"X-API-Key": universal},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "NO_DEFAULT_CLIENT"
    # A signed-in user's token names the client under the universal key.
    me = await http.get(
        "/auth/me",
        headers={"X-API-Key": universal, "Authorization": f"Bearer {user_b.access_token}"},
    )
    assert me.status_code == 200
    assert me.json()["data"]["client"]["id"] == client_b.id
    # With a default client, registration through the universal key lands there.
    await make_default(db, client_a.id)
    app.state.authenticator.invalidate()
    created = await http.post(
        "/auth/register",
        json={"email": "dflt@example.com", "password": PASSWORD},
        headers={"X-API-Key": universal},
    )
    assert created.status_code == 201
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        owner = await session.scalar(
            select(User.client_id).where(User.email_normalized == "dflt@example.com")
        )
    assert owner == client_a.id


async def test_sign_in_is_throttled_per_account(
    make_settings,
    client_a: TestClient,  # type: ignore[no-untyped-def]
) -> None:
    from asgi_lifespan import LifespanManager

    from stvos.app import create_app

    settings = make_settings(auth={"login_per_account": 3, "login_per_client": 100})
    app = create_app(settings)
    async with LifespanManager(app):
        tenant = await make_client(app.state.db, "Throttled Studio")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as http:
            body = {"email": "target@example.com", "password": "guess-guess"}
            codes = [
                (await http.post("/auth/login", json=body, headers=tenant.headers)).status_code
                for _ in range(3)
            ]
            assert codes == [401, 401, 401]
            blocked = await http.post("/auth/login", json=body, headers=tenant.headers)
            assert blocked.status_code == 429
            assert blocked.json()["code"] == "RATE_LIMITED"
            assert int(blocked.headers["retry-after"]) >= 1
            # Another account of the same client is not locked out by it.
            other = {"email": "other@example.com", "password": "guess-guess"}
            assert (
                await http.post("/auth/login", json=other, headers=tenant.headers)
            ).status_code == 401
