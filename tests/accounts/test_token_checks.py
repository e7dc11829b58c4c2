"""Every way a bearer token can be wrong answers 401 (and never another client's data)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from stvos.accounts.tokens import ALGORITHM, AccessClaims, Audience, TokenSigner
from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import User
from tests.support.factories import TestClient, TestUser, make_user


@pytest.fixture
async def member(http: httpx.AsyncClient, db: Database, client_a: TestClient) -> TestUser:
    return await make_user(http, db, client_a, "member@example.com")


def _claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _signer(app: FastAPI) -> TokenSigner:
    signer: TokenSigner = app.state.accounts.signer
    return signer


def _forge(app: FastAPI, payload: dict[str, Any], *, key: bytes | None = None) -> str:
    secret = key if key is not None else _signer(app)._secret
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


async def _me(http: httpx.AsyncClient, client: TestClient, token: str | None) -> httpx.Response:
    headers = dict(client.headers)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await http.get("/users/me", headers=headers)


def _assert_401(response: httpx.Response, code: str = "UNAUTHORIZED") -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == code


async def test_the_genuine_token_works(
    http: httpx.AsyncClient, member: TestUser, client_a: TestClient
) -> None:
    response = await _me(http, client_a, member.access_token)
    assert response.status_code == 200
    claims = _claims_of(member.access_token)
    assert claims["aud"] == "stvos:user"
    assert claims["iss"] == "stvos"
    assert claims["typ"] == "access"
    assert claims["clientId"] == client_a.id
    assert claims["sub"] == str(member.id)
    assert claims["role"] == "user"
    assert {"jti", "exp", "iat", "nbf", "sid", "ver"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 900


async def test_no_token_and_malformed_headers(
    http: httpx.AsyncClient, client_a: TestClient
) -> None:
    _assert_401(await _me(http, client_a, None))
    for header in ("Basic abc", "Bearer", "Bearer    ", "Token abc.def.ghi"):
        response = await http.get(
            "/users/me", headers={**client_a.headers, "Authorization": header}
        )
        _assert_401(response)
    _assert_401(await _me(http, client_a, "not.a.jwt"))
    _assert_401(await _me(http, client_a, "a" * 5000))


async def test_alg_none_is_refused(
    http: httpx.AsyncClient, member: TestUser, client_a: TestClient
) -> None:
    claims = _claims_of(member.access_token)

    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    _assert_401(await _me(http, client_a, unsigned))


async def test_wrong_signing_key(
    http: httpx.AsyncClient, app: FastAPI, member: TestUser, client_a: TestClient
) -> None:
    forged = _forge(app, _claims_of(member.access_token), key=b"k" * 48)
    _assert_401(await _me(http, client_a, forged))


async def test_expired_token_says_so(
    http: httpx.AsyncClient, member: TestUser, client_a: TestClient, clock: FrozenClock
) -> None:
    # Issued under the real clock; move the frozen clock past its expiry.
    claims = _claims_of(member.access_token)
    clock._now = datetime.fromtimestamp(claims["exp"] + 1, UTC)
    _assert_401(await _me(http, client_a, member.access_token), "TOKEN_EXPIRED")


async def test_not_yet_valid_token(
    http: httpx.AsyncClient, app: FastAPI, member: TestUser, client_a: TestClient
) -> None:
    claims = _claims_of(member.access_token)
    later = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    _assert_401(await _me(http, client_a, _forge(app, {**claims, "nbf": later})))


@pytest.mark.parametrize(
    ("change", "value"),
    [("aud", "stvos:partner"), ("aud", "somebody-else"), ("iss", "evil"), ("typ", "refresh")],
)
async def test_wrong_audience_issuer_or_type(
    http: httpx.AsyncClient,
    app: FastAPI,
    member: TestUser,
    client_a: TestClient,
    change: str,
    value: str,
) -> None:
    claims = _claims_of(member.access_token)
    _assert_401(await _me(http, client_a, _forge(app, {**claims, change: value})))


async def test_missing_claims(
    http: httpx.AsyncClient, app: FastAPI, member: TestUser, client_a: TestClient
) -> None:
    claims = _claims_of(member.access_token)
    for name in ("exp", "sub", "ver", "jti"):
        stripped = {k: v for k, v in claims.items() if k != name}
        _assert_401(await _me(http, client_a, _forge(app, stripped)))


async def test_a_refresh_token_is_not_an_access_token(
    http: httpx.AsyncClient, member: TestUser, client_a: TestClient
) -> None:
    _assert_401(await _me(http, client_a, member.refresh_token))


async def test_a_partner_token_is_not_a_user_token(
    http: httpx.AsyncClient, app: FastAPI, member: TestUser, client_a: TestClient
) -> None:
    partner_token = _signer(app).issue(
        AccessClaims(
            audience=Audience.PARTNER,
            subject_id=member.id,
            token_version=1,
            client_id=client_a.id,
            partner_id=1,
        )
    )
    _assert_401(await _me(http, client_a, partner_token.token))


async def test_client_a_token_with_client_b_key(
    http: httpx.AsyncClient, member: TestUser, client_b: TestClient
) -> None:
    _assert_401(await _me(http, client_b, member.access_token))


async def test_token_with_another_clients_id_in_it(
    http: httpx.AsyncClient,
    app: FastAPI,
    db: Database,
    member: TestUser,
    client_a: TestClient,
    client_b: TestClient,
) -> None:
    # Even a correctly signed token naming client B cannot reach client A's user ids.
    claims = {**_claims_of(member.access_token), "clientId": client_b.id}
    _assert_401(await _me(http, client_b, _forge(app, claims)))


async def test_disabled_and_deleted_users(
    http: httpx.AsyncClient, db: Database, member: TestUser, client_a: TestClient
) -> None:
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await session.execute(update(User).where(User.id == member.id).values(status="disabled"))
    _assert_401(await _me(http, client_a, member.access_token))
    login = await http.post(
        "/auth/login",
        json={"email": member.email, "password": member.password},
        headers=client_a.headers,
    )
    assert login.status_code == 403
    assert login.json()["code"] == "ACCOUNT_DISABLED"


async def test_an_erased_user_token_is_dead(
    http: httpx.AsyncClient, db: Database, member: TestUser, client_a: TestClient
) -> None:
    assert (await http.delete("/users/me", headers=member.headers)).status_code == 200
    _assert_401(await _me(http, client_a, member.access_token))


async def test_a_remembered_token_still_expires_and_a_tampered_one_is_still_refused(
    http: httpx.AsyncClient,
    member: TestUser,
    client_a: TestClient,
    clock: FrozenClock,
) -> None:
    clock._now = datetime.fromtimestamp(_claims_of(member.access_token)["iat"], UTC)
    # Used once: its verified signature is remembered.
    assert (await _me(http, client_a, member.access_token)).status_code == 200
    # Another token of the same shape with one signature byte changed is not "the same token".
    head, body, signature = member.access_token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    _assert_401(await _me(http, client_a, f"{head}.{body}.{flipped}"))
    # The remembered token is for the user audience only: as a partner token it is refused.
    partner = await http.get(
        "/partner/dashboard", headers={"Authorization": f"Bearer {member.access_token}"}
    )
    assert partner.status_code == 401
    # Expiry is checked at every use, remembered or not.
    clock._now = datetime.fromtimestamp(_claims_of(member.access_token)["exp"] + 1, UTC)
    _assert_401(await _me(http, client_a, member.access_token), "TOKEN_EXPIRED")


def test_the_remembered_tokens_are_bounded(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    from stvos.accounts import tokens

    monkeypatch.setattr(tokens, "VERIFIED_CACHE_SIZE", 3)
    signer = _signer(app)
    issued = [
        signer.issue(
            AccessClaims(audience=Audience.USER, subject_id=i, token_version=1, client_id=1)
        ).token
        for i in range(5)
    ]
    for token in issued:
        assert signer.verify(token, Audience.USER).subject_id == issued.index(token)
    assert len(signer._verified) == 3
    assert [key[0] for key in signer._verified] == issued[2:]  # the oldest went first
