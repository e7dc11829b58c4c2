"""Resolving the caller's client from X-API-Key: client keys, revocation, the universal key."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text, update

from stvos.kit import security
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import ApiKey, Client
from stvos.tenancy import service
from tests.support.factories import TestClient, make_client, make_default, make_universal_key


async def _config(http: httpx.AsyncClient, key: str | None) -> httpx.Response:
    headers = {"X-API-Key": key} if key is not None else {}
    return await http.get("/app/config", headers=headers)


async def test_a_key_resolves_to_its_own_client(
    http: httpx.AsyncClient, client_a: TestClient, client_b: TestClient
) -> None:
    a = (await _config(http, client_a.api_key)).json()["data"]["client"]
    b = (await _config(http, client_b.api_key)).json()["data"]["client"]
    assert (a["id"], a["name"]) == (client_a.id, "Alpha Studio")
    assert (b["id"], b["name"]) == (client_b.id, "Beta Gym")


async def test_keys_are_high_entropy_and_stored_only_as_a_hash(
    db: Database, client_a: TestClient
) -> None:
    assert client_a.api_key.startswith("fytos_")
    assert len(client_a.api_key) >= 46
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        key = await session.get(ApiKey, client_a.api_key_id)
        assert key is not None
        assert key.key_hash == security.hash_key(client_a.api_key)
        assert key.prefix == client_a.api_key[:12]
        dumped = [
            str(value)
            for row in (await session.execute(text("SELECT * FROM api_keys"))).all()
            for value in row
        ]
    assert not any(client_a.api_key in value for value in dumped)


async def test_missing_malformed_and_unknown_keys(
    http: httpx.AsyncClient, app: FastAPI, client_a: TestClient
) -> None:
    # /app/config works without a key, but a key that is sent must be valid.
    for bad in ("nonsense", "fytos_short", "fytos_" + "A" * 40, client_a.api_key + "x"):
        response = await _config(http, bad)
        assert response.status_code == 401, bad
        assert response.json()["code"] == "INVALID_API_KEY"


async def test_last_used_is_recorded(
    db: Database, http: httpx.AsyncClient, client_a: TestClient
) -> None:
    assert (await _config(http, client_a.api_key)).status_code == 200
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        key = await session.get(ApiKey, client_a.api_key_id)
    assert key is not None
    assert key.last_used_at is not None


async def test_a_revoked_key_stops_working_at_once_in_this_process(
    http: httpx.AsyncClient, app: FastAPI, db: Database, client_a: TestClient
) -> None:
    assert (await _config(http, client_a.api_key)).status_code == 200
    async with db.transaction(TenantScope.for_platform()) as session:
        await service.revoke_api_key(session, client_a.api_key_id)
    app.state.authenticator.invalidate()
    response = await _config(http, client_a.api_key)
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_API_KEY"


async def test_a_revocation_by_another_process_lands_within_the_cache_time(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: object
) -> None:
    from stvos.kit.clock import FrozenClock

    assert isinstance(clock, FrozenClock)
    assert (await _config(http, client_a.api_key)).status_code == 200
    # Revoked behind this process's back (as `stvos admin revoke-api-key` would).
    async with db.transaction(TenantScope.for_platform()) as session:
        await session.execute(
            update(ApiKey).where(ApiKey.id == client_a.api_key_id).values(revoked_at=clock.now())
        )
    assert (await _config(http, client_a.api_key)).status_code == 200  # still cached
    clock.advance(11)  # past STVOS_SECURITY_API_KEY_CACHE_SECONDS (10 s)
    assert (await _config(http, client_a.api_key)).status_code == 401


async def test_suspended_client_keys_get_403(
    http: httpx.AsyncClient, app: FastAPI, db: Database, client_a: TestClient
) -> None:
    async with db.transaction(TenantScope.for_platform()) as session:
        await session.execute(
            update(Client).where(Client.id == client_a.id).values(status="suspended")
        )
    app.state.authenticator.invalidate()
    response = await _config(http, client_a.api_key)
    assert response.status_code == 403
    assert response.json()["code"] == "CLIENT_SUSPENDED"


async def test_universal_key_acts_for_the_default_client(
    http: httpx.AsyncClient, app: FastAPI, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    universal = await make_universal_key(db)
    assert universal.startswith("fytos_uni_")
    # No default client yet: the universal key alone names no client.
    data = (await _config(http, universal)).json()["data"]
    assert data == {"hasDefaultClient": False, "requiresVoucher": True, "client": None}

    await make_default(db, client_b.id)
    app.state.authenticator.invalidate()
    data = (await _config(http, universal)).json()["data"]
    assert data["hasDefaultClient"] is True
    assert data["client"]["id"] == client_b.id


async def test_universal_key_is_refused_on_key_routes_without_a_client(
    phttp: httpx.AsyncClient, pdb: Database, plumbing_app: FastAPI
) -> None:
    universal = await make_universal_key(pdb)
    response = await phttp.get("/_test/items", headers={"X-API-Key": universal})
    assert response.status_code == 400
    assert response.json()["code"] == "NO_DEFAULT_CLIENT"
    response = await phttp.get("/_test/items")
    assert response.status_code == 401
    assert response.json()["code"] == "API_KEY_REQUIRED"

    tenant = await make_client(pdb, "Default Studio")
    await make_default(pdb, tenant.id)
    plumbing_app.state.authenticator.invalidate()
    assert (await phttp.get("/_test/items", headers={"X-API-Key": universal})).status_code == 200


async def test_issuing_a_new_universal_key_revokes_the_old_one(
    http: httpx.AsyncClient, app: FastAPI, db: Database
) -> None:
    first = await make_universal_key(db)
    second = await make_universal_key(db)
    app.state.authenticator.invalidate()
    assert (await _config(http, first)).status_code == 401
    assert (await _config(http, second)).status_code == 200


async def test_only_one_default_client_at_a_time(
    db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    await make_default(db, client_a.id)
    await make_default(db, client_b.id)
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        defaults = list(await session.scalars(select(Client.id).where(Client.is_default.is_(True))))
    assert defaults == [client_b.id]
