"""Rate limits through the whole HTTP stack, on the in-process store and on Redis.

The contract: 100 requests/minute per API key with a burst of 20, overridable per client; over
it, ``429 RATE_LIMITED`` with ``Retry-After``; ``RateLimit-Limit``/``-Remaining``/``-Reset`` on
every rate-limited answer. ``GET /app/config`` takes an optional key, so a request *with* a key
is counted and one without is not.

The test settings lift the limits out of the way (``settings_for``); these tests build their
own apps with real limits. Redis tests use ``STVOS_TEST_REDIS_URL`` (default
``redis://localhost:6379/15``). The limiter's identity is the API key id, which restarts at 1
in every fresh test database while Redis keeps its counters between runs (and is shared with
any run going on at the same time), so each Redis test gives its keys random ids instead of
flushing the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import update

from stvos.app import create_app
from stvos.config import Settings, load_settings
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models.client import ApiKey, Client
from stvos.tenancy import service
from tests.support.factories import TestClient, make_client

BASE_URL = "http://testserver/api/v1"
CONFIG = "/app/config"
REDIS_URL = os.environ.get("STVOS_TEST_REDIS_URL") or "redis://localhost:6379/15"
RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")

BuildSettings = Callable[..., Settings]


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def limited_settings(make_settings: Callable[..., Settings]) -> BuildSettings:
    """Test settings with real limits; ``redis=True`` puts the counters in Redis."""

    def build(per_minute: int = 100, burst: int = 20, *, redis: bool = False) -> Settings:
        return make_settings(
            redis_url=REDIS_URL if redis else None,
            rate_limit={"per_minute": per_minute, "burst": burst},
        )

    return build


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One app instance (one worker process, as far as the limiter is concerned)."""
    app = create_app(settings)
    try:
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
                yield app, http
    finally:
        # LifespanManager skips the app's shutdown when the block fails; closing twice is safe.
        await app.state.db.dispose()
        await app.state.limiter.aclose()


async def unique_key_id(db: Database, client: TestClient) -> TestClient:
    """Give the client's key a random id, so its Redis counters are its own."""
    new_id = random.randint(10**7, 2**31 - 1)
    async with db.transaction(TenantScope.for_platform()) as session:
        await session.execute(
            update(ApiKey).where(ApiKey.id == client.api_key_id).values(id=new_id)
        )
    return dataclasses.replace(client, api_key_id=new_id)


async def new_client(app: FastAPI, name: str, *, redis: bool = False) -> TestClient:
    client = await make_client(app.state.db, name)
    return await unique_key_id(app.state.db, client) if redis else client


async def second_key(db: Database, client: TestClient) -> dict[str, str]:
    async with db.transaction(TenantScope.for_platform()) as session:
        row = await service.find_client(session, client.id)
        _key, raw = await service.issue_api_key(session, row, name="second")
    return {"X-API-Key": raw}


async def set_override(
    app: FastAPI, client: TestClient, *, per_minute: int | None, burst: int | None
) -> None:
    async with app.state.db.transaction(TenantScope.for_platform()) as session:
        await session.execute(
            update(Client)
            .where(Client.id == client.id)
            .values(rate_limit_per_minute=per_minute, rate_limit_burst=burst)
        )
    app.state.authenticator.invalidate()


def one(response: httpx.Response, name: str) -> str:
    """The header's value; repeats must at least agree (see test_a_429_sends_each_header_once)."""
    values = response.headers.get_list(name)
    assert values, f"no {name} header"
    assert len(set(values)) == 1, f"{name}: {values}"
    return values[0]


def remaining(response: httpx.Response) -> int:
    return int(one(response, "RateLimit-Remaining"))


def assert_counted(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 200, response.text
    for name in RATE_HEADERS:
        assert len(response.headers.get_list(name)) == 1, name
    assert one(response, "RateLimit-Limit") == str(limit)
    assert 0 <= int(one(response, "RateLimit-Reset")) <= 60
    assert "retry-after" not in response.headers


def assert_refused(response: httpx.Response, limit: int, max_wait: int) -> int:
    """A 429 in the contract's shape; returns its Retry-After."""
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "RATE_LIMITED"
    assert isinstance(body["error"], str)
    assert body["error"]
    retry_after = int(one(response, "Retry-After"))
    assert 1 <= retry_after <= max_wait
    assert one(response, "RateLimit-Limit") == str(limit)
    assert one(response, "RateLimit-Remaining") == "0"
    assert 1 <= int(one(response, "RateLimit-Reset")) <= max_wait
    return retry_after


def assert_not_counted(response: httpx.Response) -> None:
    for name in (*RATE_HEADERS, "retry-after"):
        assert name not in response.headers, f"unexpected {name} on {response.request.url}"


async def spend(http: httpx.AsyncClient, headers: dict[str, str], n: int) -> list[int]:
    """``n`` requests that must all pass; their RateLimit-Remaining values."""
    seen = []
    for _ in range(n):
        response = await http.get(CONFIG, headers=headers)
        assert response.status_code == 200, response.text
        seen.append(remaining(response))
    return seen


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        request.applymarker(pytest.mark.redis)
    return str(request.param)


# --- the default quota ---------------------------------------------------------------------


async def test_burst_of_twenty_then_429(limited_settings: BuildSettings, backend: str) -> None:
    redis = backend == "redis"
    async with serving(limited_settings(redis=redis)) as (app, http):
        assert app.state.limiter.backend == backend
        client = await new_client(app, "Alpha Studio", redis=redis)

        seen = []
        for _ in range(20):
            response = await http.get(CONFIG, headers=client.headers)
            assert_counted(response, limit=100)
            seen.append(remaining(response))
        assert seen == list(range(19, -1, -1))

        refused = await http.get(CONFIG, headers=client.headers)
        # A burst of 20 at 100/minute comes back over 12 seconds.
        assert_refused(refused, limit=100, max_wait=12)


async def test_each_api_key_has_its_own_budget(limited_settings: BuildSettings) -> None:
    async with serving(limited_settings()) as (app, http):
        alpha = await new_client(app, "Alpha Studio")
        beta = await new_client(app, "Beta Gym")
        alpha_second = await second_key(app.state.db, alpha)

        await spend(http, alpha.headers, 20)
        assert_refused(await http.get(CONFIG, headers=alpha.headers), limit=100, max_wait=12)

        other_client = await http.get(CONFIG, headers=beta.headers)
        assert_counted(other_client, limit=100)
        assert remaining(other_client) == 19

        other_key = await http.get(CONFIG, headers=alpha_second)
        assert_counted(other_key, limit=100)
        assert remaining(other_key) == 19
        assert other_key.json()["data"]["client"]["slug"] == alpha.slug


async def test_health_and_keyless_requests_are_not_limited(
    limited_settings: BuildSettings,
) -> None:
    async with serving(limited_settings(per_minute=60, burst=2)) as (app, http):
        client = await new_client(app, "Alpha Studio")
        await spend(http, client.headers, 2)
        assert (await http.get(CONFIG, headers=client.headers)).status_code == 429

        for _ in range(5):
            keyless = await http.get(CONFIG)
            assert keyless.status_code == 200, keyless.text
            assert_not_counted(keyless)
            for path in ("/health", "/health/detailed"):
                # A public route ignores the key, spent or not.
                for headers in ({}, client.headers):
                    health = await http.get(path, headers=headers)
                    assert health.status_code == 200, health.text
                    assert_not_counted(health)


async def test_a_429_sends_each_header_once(limited_settings: BuildSettings) -> None:
    async with serving(limited_settings(per_minute=60, burst=1)) as (app, http):
        client = await new_client(app, "Alpha Studio")
        await spend(http, client.headers, 1)
        refused = await http.get(CONFIG, headers=client.headers)
        assert refused.status_code == 429
        counts = {
            name: len(refused.headers.get_list(name)) for name in (*RATE_HEADERS, "retry-after")
        }
        assert counts == dict.fromkeys(counts, 1)


# --- per-client override and settings -----------------------------------------------------


async def test_a_client_override_replaces_the_platform_quota(
    limited_settings: BuildSettings,
) -> None:
    async with serving(limited_settings()) as (app, http):
        alpha = await new_client(app, "Alpha Studio")
        beta = await new_client(app, "Beta Gym")
        assert_counted(await http.get(CONFIG, headers=alpha.headers), limit=100)

        await set_override(app, alpha, per_minute=30, burst=5)

        seen = []
        for _ in range(5):
            response = await http.get(CONFIG, headers=alpha.headers)
            assert_counted(response, limit=30)
            seen.append(remaining(response))
        assert seen == [4, 3, 2, 1, 0]
        # Five at 30/minute come back over 10 seconds.
        assert_refused(await http.get(CONFIG, headers=alpha.headers), limit=30, max_wait=10)

        untouched = await http.get(CONFIG, headers=beta.headers)
        assert_counted(untouched, limit=100)
        assert remaining(untouched) == 19


async def test_an_override_of_the_burst_alone_keeps_the_platform_rate(
    limited_settings: BuildSettings,
) -> None:
    async with serving(limited_settings()) as (app, http):
        alpha = await new_client(app, "Alpha Studio")
        await set_override(app, alpha, per_minute=None, burst=3)

        for _ in range(3):
            assert_counted(await http.get(CONFIG, headers=alpha.headers), limit=100)
        assert_refused(await http.get(CONFIG, headers=alpha.headers), limit=100, max_wait=2)


def test_environment_variables_set_the_platform_quota(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env file
    for name in ("PER_MINUTE", "BURST", "ENABLED"):
        monkeypatch.delenv(f"STVOS_RATE_LIMIT_{name}", raising=False)
    defaults = load_settings().rate_limit
    assert (defaults.per_minute, defaults.burst, defaults.enabled) == (100, 20, True)

    monkeypatch.setenv("STVOS_RATE_LIMIT_PER_MINUTE", "250")
    monkeypatch.setenv("STVOS_RATE_LIMIT_BURST", "7")
    configured = load_settings().rate_limit
    assert (configured.per_minute, configured.burst, configured.enabled) == (250, 7, True)


async def test_the_environment_quota_is_what_the_app_enforces(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STVOS_REDIS_URL", raising=False)
    monkeypatch.setenv("STVOS_RATE_LIMIT_PER_MINUTE", "40")
    monkeypatch.setenv("STVOS_RATE_LIMIT_BURST", "3")
    settings = load_settings(
        environment="test", data_dir=tmp_path / "data", database={"url": database_url}
    )
    async with serving(settings) as (app, http):
        client = await new_client(app, "Alpha Studio")
        assert await spend(http, client.headers, 3) == [2, 1, 0]
        assert_refused(await http.get(CONFIG, headers=client.headers), limit=40, max_wait=5)


# --- after a 429 ---------------------------------------------------------------------------


async def test_refused_requests_do_not_push_back_the_retry(
    limited_settings: BuildSettings, backend: str
) -> None:
    """Hammering through a 429 must not spend budget: Retry-After seconds later it passes.

    60/minute with a burst of 1 refills the burst in one second; 70 refused requests would
    also have used up the whole minute if refusals were counted.
    """
    redis = backend == "redis"
    async with serving(limited_settings(per_minute=60, burst=1, redis=redis)) as (app, http):
        client = await new_client(app, "Alpha Studio", redis=redis)
        assert await spend(http, client.headers, 1) == [0]
        passed_at = time.monotonic()

        for _ in range(70):
            response = await http.get(CONFIG, headers=client.headers)
            if response.status_code == 200:
                # Only on a very slow machine: the second was up before the loop was done.
                assert time.monotonic() - passed_at > 0.9
                passed_at = time.monotonic()
                continue
            assert assert_refused(response, limit=60, max_wait=1) == 1

        await asyncio.sleep(1.05)
        again = await http.get(CONFIG, headers=client.headers)
        assert_counted(again, limit=60)
        assert remaining(again) == 0


# --- several workers -----------------------------------------------------------------------


@pytest.mark.redis
async def test_workers_sharing_redis_share_one_budget(limited_settings: BuildSettings) -> None:
    settings = limited_settings(redis=True)
    async with serving(settings) as (app_1, http_1), serving(settings) as (app_2, http_2):
        assert app_1.state.limiter is not app_2.state.limiter
        client = await new_client(app_1, "Alpha Studio", redis=True)

        first = await spend(http_1, client.headers, 10)
        second = await spend(http_2, client.headers, 10)
        assert first + second == list(range(19, -1, -1))

        assert_refused(await http_1.get(CONFIG, headers=client.headers), limit=100, max_wait=12)
        assert_refused(await http_2.get(CONFIG, headers=client.headers), limit=100, max_wait=12)


async def test_workers_without_redis_count_separately(limited_settings: BuildSettings) -> None:
    settings = limited_settings()
    async with serving(settings) as (app_1, http_1), serving(settings) as (_app_2, http_2):
        assert app_1.state.limiter.backend == "memory"
        client = await new_client(app_1, "Alpha Studio")

        await spend(http_1, client.headers, 20)
        assert_refused(await http_1.get(CONFIG, headers=client.headers), limit=100, max_wait=12)

        elsewhere = await http_2.get(CONFIG, headers=client.headers)
        assert_counted(elsewhere, limit=100)
        assert remaining(elsewhere) == 19


@pytest.mark.redis
async def test_detailed_health_reports_the_redis_limiter(limited_settings: BuildSettings) -> None:
    async with serving(limited_settings(redis=True)) as (_app, http):
        response = await http.get("/health/detailed")
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["status"] == "ok"
        limiter: dict[str, Any] = data["rateLimiter"]
        assert limiter["backend"] == "redis"
        assert limiter["status"] == "ok"
        assert limiter["latencyMs"] >= 0
