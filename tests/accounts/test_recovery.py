"""Forgot / reset password through the HTTP API, with the embedded mail outbox."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select, update

from stvos.app import create_app
from stvos.config import Settings
from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import OutboxMail, PasswordResetToken, User
from tests.support.factories import TestClient, TestUser, make_client, make_user

BASE_URL = "http://testserver/api/v1"
NEW_PASSWORD = "a-brand-new-secret"
TOKEN_IN_MAIL = re.compile(r"code in the app: (pr_[A-Za-z0-9_-]+)")


async def _outbox(db: Database) -> list[OutboxMail]:
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        return list(await session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def _token_of(mail: OutboxMail) -> str:
    match = TOKEN_IN_MAIL.search(mail.body_text)
    assert match, mail.body_text
    return match.group(1)


async def _forgot(http: httpx.AsyncClient, client: TestClient, email: str) -> httpx.Response:
    return await http.post("/auth/forgot-password", json={"email": email}, headers=client.headers)


async def _reset(
    http: httpx.AsyncClient, client: TestClient, token: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await http.post(
        "/auth/reset-password",
        json={"token": token, "password": password},
        headers=client.headers,
    )


async def _mailed_token(http: httpx.AsyncClient, db: Database, user: TestUser) -> str:
    response = await _forgot(http, user.client, user.email)
    assert response.status_code == 200, response.text
    mails = [m for m in await _outbox(db) if m.to_address == user.email]
    return _token_of(mails[-1])


async def _login(http: httpx.AsyncClient, user: TestUser, password: str) -> httpx.Response:
    return await http.post(
        "/auth/login",
        json={"email": user.email, "password": password},
        headers=user.client.headers,
    )


def _assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["code"] == code
    return body


# --- forgot-password --------------------------------------------------------------------------


async def test_forgot_answers_alike_and_mails_only_existing_accounts(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    user = await make_user(http, db, client_a, "ann@example.com", name="Ann")
    known = await _forgot(http, client_a, "ANN@example.com ")
    unknown = await _forgot(http, client_a, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    assert known.json()["data"]["message"].startswith("If an account with this email exists")

    mails = await _outbox(db)
    assert len(mails) == 1
    mail = mails[0]
    assert mail.client_id == client_a.id
    assert mail.to_address == user.email
    assert mail.template == "password_reset"
    assert (mail.transport, mail.status) == ("outbox", "stored")
    assert mail.subject == "Reset your Alpha Studio password"
    token = _token_of(mail)
    assert len(token) >= 43  # 32 random bytes, URL-safe
    assert f"http://localhost:3000/reset-password?token={token}" in mail.body_text
    assert "Hello Ann," in mail.body_text

    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        stored = list(await session.scalars(select(PasswordResetToken)))
    assert len(stored) == 1
    assert stored[0].user_id == user.id
    assert stored[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored[0].expires_at - stored[0].created_at == timedelta(minutes=30)


async def test_disabled_accounts_and_other_clients_users_get_no_mail(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    await make_user(http, db, client_a, "ann@example.com")
    disabled = await make_user(http, db, client_a, "dis@example.com")
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await session.execute(update(User).where(User.id == disabled.id).values(status="disabled"))
    from_b = await _forgot(http, client_b, "ann@example.com")
    from_disabled = await _forgot(http, client_a, "dis@example.com")
    assert from_b.status_code == from_disabled.status_code == 200
    assert from_b.json() == from_disabled.json()
    assert await _outbox(db) == []


async def test_forgot_needs_an_api_key(http: httpx.AsyncClient, client_a: TestClient) -> None:
    response = await http.post("/auth/forgot-password", json={"email": "ann@example.com"})
    _assert_error(response, 401, "API_KEY_REQUIRED")


# --- reset-password ---------------------------------------------------------------------------


async def test_mailed_token_resets_the_password_and_ends_every_sign_in(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    user = await make_user(http, db, client_a, "ann@example.com")
    second = (await _login(http, user, user.password)).json()["data"]
    token = await _mailed_token(http, db, user)

    response = await _reset(http, client_a, token)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "data": {"message": "Your password has been reset. Sign in with the new password."},
    }

    _assert_error(await _login(http, user, user.password), 401, "INVALID_CREDENTIALS")
    assert (await _login(http, user, NEW_PASSWORD)).status_code == 200
    for access in (user.access_token, second["accessToken"]):
        me = await http.get(
            "/auth/me", headers={**client_a.headers, "Authorization": f"Bearer {access}"}
        )
        _assert_error(me, 401, "UNAUTHORIZED")
    for refresh in (user.refresh_token, second["refreshToken"]):
        renewed = await http.post(
            "/auth/refresh", json={"refreshToken": refresh}, headers=client_a.headers
        )
        assert renewed.status_code == 401, renewed.text


async def test_a_token_works_once(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    user = await make_user(http, db, client_a, "ann@example.com")
    token = await _mailed_token(http, db, user)
    assert (await _reset(http, client_a, token)).status_code == 200
    again = await _reset(http, client_a, token, password="yet-another-secret")
    body = _assert_error(again, 400, "INVALID_RESET_TOKEN")
    assert "already used" in str(body["error"])
    assert (await _login(http, user, NEW_PASSWORD)).status_code == 200
    assert (await _login(http, user, "yet-another-secret")).status_code == 401


async def test_concurrent_uses_of_one_token_give_exactly_one_success(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    user = await make_user(http, db, client_a, "ann@example.com")
    token = await _mailed_token(http, db, user)
    passwords = [f"racing-password-{n}" for n in range(4)]
    responses = await asyncio.gather(*(_reset(http, client_a, token, p) for p in passwords))
    statuses = [r.status_code for r in responses]
    assert sorted(statuses) == [200, 400, 400, 400], [r.text for r in responses]
    for response in responses:
        if response.status_code == 400:
            _assert_error(response, 400, "INVALID_RESET_TOKEN")
    winner = passwords[statuses.index(200)]
    logins = {p: (await _login(http, user, p)).status_code for p in passwords}
    assert logins == {p: 200 if p == winner else 401 for p in passwords}


async def test_tokens_expire(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    user = await make_user(http, db, client_a, "ann@example.com")
    token = await _mailed_token(http, db, user)
    clock.advance(timedelta(minutes=30, seconds=1))
    body = _assert_error(await _reset(http, client_a, token), 400, "INVALID_RESET_TOKEN")
    assert "expired" in str(body["error"])
    assert (await _login(http, user, user.password)).status_code == 200

    fresh = await _mailed_token(http, db, user)
    clock.advance(timedelta(minutes=29))
    assert (await _reset(http, client_a, fresh)).status_code == 200


async def test_a_new_request_voids_the_earlier_link(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    user = await make_user(http, db, client_a, "ann@example.com")
    first = await _mailed_token(http, db, user)
    second = await _mailed_token(http, db, user)
    assert first != second
    _assert_error(await _reset(http, client_a, first), 400, "INVALID_RESET_TOKEN")
    assert (await _reset(http, client_a, second)).status_code == 200


async def test_another_clients_key_cannot_use_the_token(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    user = await make_user(http, db, client_a, "ann@example.com")
    await make_user(http, db, client_b, "ann@example.com")  # same person, other app
    token = await _mailed_token(http, db, user)
    _assert_error(await _reset(http, client_b, token), 400, "INVALID_RESET_TOKEN")
    assert (await _reset(http, client_a, token)).status_code == 200  # not spent by B's attempt


async def test_unknown_tokens_are_refused(http: httpx.AsyncClient, client_a: TestClient) -> None:
    body = _assert_error(await _reset(http, client_a, "pr_" + "x" * 43), 400, "INVALID_RESET_TOKEN")
    assert body["error"] == "This password-reset link is not valid; ask for a new one"


@pytest.mark.parametrize(
    ("path", "payload", "field", "message"),
    [
        ("/auth/forgot-password", {}, "email", "Field required"),
        ("/auth/forgot-password", {"email": "not-an-email"}, "email", "valid email"),
        ("/auth/forgot-password", {"email": "a@example.com", "x": 1}, "x", "Unknown field"),
        ("/auth/reset-password", {"password": NEW_PASSWORD}, "token", "Field required"),
        ("/auth/reset-password", {"token": "pr_abc", "password": "short"}, "password", "at least"),
        ("/auth/reset-password", {"token": "", "password": NEW_PASSWORD}, "token", "at least"),
        (
            "/auth/reset-password",
            {"token": "pr_abc", "password": NEW_PASSWORD, "email": "a@example.com"},
            "email",
            "Unknown field",
        ),
    ],
)
async def test_bad_input_is_a_validation_error(
    http: httpx.AsyncClient,
    client_a: TestClient,
    path: str,
    payload: dict[str, object],
    field: str,
    message: str,
) -> None:
    response = await http.post(path, json=payload, headers=client_a.headers)
    body = _assert_error(response, 400, "VALIDATION_ERROR")
    details = body["details"]
    assert isinstance(details, list)
    matching = [d for d in details if d["field"] == field]
    assert matching, details
    assert message in matching[0]["message"]


# --- throttling -------------------------------------------------------------------------------


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    try:
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
                yield app, http
    finally:
        await app.state.db.dispose()
        await app.state.limiter.aclose()


async def test_forgot_is_throttled_per_account_and_per_client(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(auth={"recovery_per_account": 2, "recovery_per_client": 4})
    async with serving(settings) as (app, http):
        client = await make_client(app.state.db, "Throttled Studio")
        for _ in range(2):
            assert (await _forgot(http, client, "ann@example.com")).status_code == 200
        limited = await _forgot(http, client, "Ann@Example.com")
        _assert_error(limited, 429, "RATE_LIMITED")
        assert int(limited.headers["retry-after"]) > 0
        # Other accounts still have their own allowance, up to the client's.
        assert (await _forgot(http, client, "bob@example.com")).status_code == 200
        # 4 of the client's 4 per minute spent (the refused one above counted too).
        limited = await _forgot(http, client, "cy@example.com")
        _assert_error(limited, 429, "RATE_LIMITED")
        assert 0 < int(limited.headers["retry-after"]) <= 60


async def test_reset_is_throttled_per_client(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(auth={"recovery_per_client": 3})
    async with serving(settings) as (app, http):
        client = await make_client(app.state.db, "Throttled Studio")
        for n in range(3):
            guess = await _reset(http, client, f"pr_guess{n}")
            _assert_error(guess, 400, "INVALID_RESET_TOKEN")
        limited = await _reset(http, client, "pr_guess3")
        _assert_error(limited, 429, "RATE_LIMITED")
        assert int(limited.headers["retry-after"]) > 0


# --- logging ----------------------------------------------------------------------------------


async def test_the_log_line_carries_no_token_outside_development(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await make_user(http, db, client_a, "ann@example.com")
    with caplog.at_level(logging.INFO, logger="stvos.mail"):
        token = await _mailed_token(http, db, user)
    lines = [r for r in caplog.records if r.name == "stvos.mail"]
    assert len(lines) == 1
    text = lines[0].getMessage() + repr(lines[0].__dict__)
    assert "password_reset" in text
    assert token not in text
    assert user.email not in text


async def test_development_logs_the_link_of_the_embedded_outbox(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(make_settings(environment="development")) as (app, http):
        client = await make_client(app.state.db, "Dev Studio")
        user = await make_user(http, app.state.db, client, "dev@example.com")
        with caplog.at_level(logging.INFO, logger="stvos.mail"):
            token = await _mailed_token(http, app.state.db, user)
    lines = [r.getMessage() for r in caplog.records if r.name == "stvos.mail"]
    assert len(lines) == 1
    assert f"reset-password?token={token}" in lines[0]
