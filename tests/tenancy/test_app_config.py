"""GET /app/config: what a white-label app needs at start-up, with and without a key."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Client
from tests.support.factories import make_client, make_default


async def test_with_a_key_the_config_is_that_clients(http: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_client(
        db,
        "Harbour Yoga",
        requires_voucher=True,
        colours={"primary": "#0A84FF"},
        logo_url="https://cdn.example.com/harbour/logo.png",
        enabled_features=["classes", "nutrition"],
    )
    response = await http.get("/app/config", headers=tenant.headers)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["hasDefaultClient"] is False
    assert data["requiresVoucher"] is True
    client = data["client"]
    assert client["id"] == tenant.id
    assert client["name"] == "Harbour Yoga"
    assert client["logo"] == "https://cdn.example.com/harbour/logo.png"
    assert client["splashScreen"] is None
    assert client["branding"] == {"colors": {"primary": "#0A84FF"}}
    assert client["enabledFeatures"] == ["classes", "nutrition"]


async def test_without_a_key_the_default_client_is_shown(
    http: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    empty = (await http.get("/app/config")).json()["data"]
    assert empty == {"hasDefaultClient": False, "requiresVoucher": True, "client": None}

    tenant = await make_client(db, "Default Gym")
    await make_default(db, tenant.id)
    data = (await http.get("/app/config")).json()["data"]
    assert data["hasDefaultClient"] is True
    assert data["requiresVoucher"] is False
    assert data["client"]["id"] == tenant.id


async def test_a_suspended_default_client_is_not_offered(
    http: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_client(db, "Closing Gym")
    await make_default(db, tenant.id)
    async with db.transaction(TenantScope.for_platform()) as session:
        client = await session.get(Client, tenant.id)
        assert client is not None
        client.status = "suspended"
    data = (await http.get("/app/config")).json()["data"]
    assert data["hasDefaultClient"] is False
    assert data["client"] is None


async def test_client_b_never_sees_client_a(http: httpx.AsyncClient, db: Database) -> None:
    a = await make_client(db, "Alpha", colours={"primary": "#111111"})
    b = await make_client(db, "Beta", colours={"primary": "#222222"})
    await make_default(db, a.id)
    data = (await http.get("/app/config", headers=b.headers)).json()["data"]
    assert data["client"]["id"] == b.id
    assert data["client"]["branding"]["colors"] == {"primary": "#222222"}
    assert "Alpha" not in str(data["client"])
