"""Idempotency keys on a route that creates things (tests/support/routes.py: POST /_test/keys)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import ApiKey, IdempotencyRecord
from tests.support.factories import TestClient, make_client


@pytest.fixture
async def tenant(pdb: Database) -> TestClient:
    return await make_client(pdb, "Idempotent Studio")


async def _named(db: Database, name: str) -> int:
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        return (
            await session.scalar(
                select(func.count()).select_from(ApiKey).where(ApiKey.name == name)
            )
            or 0
        )


def _with_key(tenant: TestClient, key: str) -> dict[str, str]:
    return {**tenant.headers, "Idempotency-Key": key}


async def test_the_same_key_and_body_replays_the_first_answer(
    phttp: httpx.AsyncClient, pdb: Database, tenant: TestClient
) -> None:
    headers = _with_key(tenant, "order-1")
    first = await phttp.post("/_test/keys", json={"name": "mobile"}, headers=headers)
    # Same body with other whitespace and key order is the same request.
    second = await phttp.post(
        "/_test/keys",
        content=b'{ "name" :  "mobile" }',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["content-type"] == "application/json"
    assert await _named(pdb, "mobile") == 1


async def test_the_same_key_with_another_body_is_a_conflict(
    phttp: httpx.AsyncClient, pdb: Database, tenant: TestClient
) -> None:
    headers = _with_key(tenant, "order-2")
    assert (
        await phttp.post("/_test/keys", json={"name": "web"}, headers=headers)
    ).status_code == 201
    response = await phttp.post("/_test/keys", json={"name": "tv"}, headers=headers)
    assert response.status_code == 409
    assert response.json()["code"] == "IDEMPOTENCY_CONFLICT"
    assert await _named(pdb, "tv") == 0


async def test_without_a_key_every_request_acts(
    phttp: httpx.AsyncClient, pdb: Database, tenant: TestClient
) -> None:
    for _ in range(2):
        response = await phttp.post("/_test/keys", json={"name": "plain"}, headers=tenant.headers)
        assert response.status_code == 201
    assert await _named(pdb, "plain") == 2


async def test_keys_are_per_client(phttp: httpx.AsyncClient, pdb: Database) -> None:
    a = await make_client(pdb, "Alpha")
    b = await make_client(pdb, "Beta")
    ra = await phttp.post("/_test/keys", json={"name": "shared"}, headers=_with_key(a, "same"))
    rb = await phttp.post("/_test/keys", json={"name": "shared"}, headers=_with_key(b, "same"))
    assert ra.status_code == rb.status_code == 201
    assert ra.json()["data"]["id"] != rb.json()["data"]["id"]
    assert "idempotent-replayed" not in rb.headers
    assert await _named(pdb, "shared") == 2


async def test_a_failed_request_leaves_the_key_free(
    phttp: httpx.AsyncClient, pdb: Database, tenant: TestClient
) -> None:
    headers = _with_key(tenant, "retry-me")
    bad = await phttp.post("/_test/keys", json={"nom": "typo"}, headers=headers)
    assert bad.status_code == 400
    good = await phttp.post("/_test/keys", json={"name": "fixed"}, headers=headers)
    assert good.status_code == 201
    assert "idempotent-replayed" not in good.headers


async def test_records_expire(
    phttp: httpx.AsyncClient, pdb: Database, tenant: TestClient, clock: FrozenClock
) -> None:
    headers = _with_key(tenant, "daily")
    assert (
        await phttp.post("/_test/keys", json={"name": "old"}, headers=headers)
    ).status_code == 201
    clock.advance(timedelta(hours=25))  # default STVOS_IDEMPOTENCY_TTL_HOURS is 24
    again = await phttp.post("/_test/keys", json={"name": "new"}, headers=headers)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert await _named(pdb, "new") == 1


async def test_malformed_keys_are_rejected(phttp: httpx.AsyncClient, tenant: TestClient) -> None:
    response = await phttp.post(
        "/_test/keys", json={"name": "x"}, headers=_with_key(tenant, "k" * 300)
    )
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_concurrent_duplicates_create_exactly_once(
    phttp: httpx.AsyncClient, pdb: Database, tenant: TestClient
) -> None:
    headers = _with_key(tenant, "burst")
    responses = await asyncio.gather(
        *(phttp.post("/_test/keys", json={"name": "racy"}, headers=headers) for _ in range(10))
    )
    assert [r.status_code for r in responses] == [201] * 10
    assert len({r.json()["data"]["id"] for r in responses}) == 1
    assert sum("idempotent-replayed" in r.headers for r in responses) == 9
    assert await _named(pdb, "racy") == 1
    async with pdb.transaction(TenantScope.for_platform(), write=False) as session:
        records = await session.scalar(select(func.count()).select_from(IdempotencyRecord))
    assert records == 1
