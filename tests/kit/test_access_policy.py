"""Deny by default: every route declares who may call it; features gate routes."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from stvos.app import create_app
from stvos.config import Settings
from stvos.kit.db import Database
from stvos.kit.policy import Auth, allow
from stvos.kit.routing import PolicyMissing, StvosRoute, api_router, mounted_routes
from stvos.kit.tenancy import TenantScope
from stvos.models import Client
from tests.support.factories import TestClient, make_client


def test_every_route_of_the_app_declares_a_policy(settings: Settings) -> None:
    app = create_app(settings)
    routes = mounted_routes(app)
    assert routes, "the app has no routes?"
    undeclared = [
        f"{sorted(r.methods)} {r.path}"
        for r in routes
        if not isinstance(r.route, StvosRoute) or r.policy is None
    ]
    assert undeclared == []
    # Public routes are few and named: widening this list is a security decision.
    public = sorted(r.path for r in routes if r.policy and r.policy.auth is Auth.PUBLIC)
    assert public == [
        "/api/v1/admin/auth/login",
        "/api/v1/app/join/{code}",
        "/api/v1/docs",
        "/api/v1/docs/assets/{name}",
        "/api/v1/health",
        "/api/v1/health/detailed",
        "/api/v1/invite/accept",
        "/api/v1/invite/check",
        "/api/v1/openapi.json",
        "/api/v1/partner-auth/login",
        "/api/v1/partner-auth/refresh",
        "/api/v1/webhooks/livekit",  # LiveKit's signature is its credential
    ]
    # Fewer still look across every client (no credential names the client): each is reviewed.
    platform = sorted(r.path for r in routes if r.policy and r.policy.platform_lookup)
    assert platform == [
        "/api/v1/admin/auth/login",
        "/api/v1/app/join/{code}",
        "/api/v1/invite/accept",
        "/api/v1/invite/check",
        "/api/v1/partner-auth/login",
        "/api/v1/partner-auth/refresh",
        "/api/v1/webhooks/livekit",  # the room name names the client
    ]


def test_a_feature_gate_must_name_a_published_feature() -> None:
    # A typo would otherwise gate nothing: it is refused when the route is declared.
    with pytest.raises(ValueError, match="unknown feature 'nutritoin'"):
        allow(Auth.API_KEY, feature="nutritoin")
    assert allow(Auth.API_KEY, feature="nutrition") is not None


def test_platform_lookup_is_only_for_public_routes() -> None:
    with pytest.raises(ValueError, match=r"only for Auth\.PUBLIC"):
        allow(Auth.API_KEY, platform_lookup=True)


def test_a_route_without_a_policy_cannot_be_registered() -> None:
    router = api_router()
    with pytest.raises(PolicyMissing, match="declares no access policy"):

        @router.get("/forgotten")
        async def forgotten() -> None:
            return None

    @router.get("/declared", dependencies=[allow(Auth.API_KEY)])
    async def declared() -> None:
        return None

    assert [r.path for r in router.routes] == ["/api/v1/declared"]


async def test_the_policy_walk_sees_routes_added_later(settings: Settings) -> None:
    """A plain FastAPI route slipped in beside ours is caught by the walk."""
    app = create_app(settings)

    @app.get("/sneaky")
    async def sneaky() -> dict[str, str]:
        return {"ok": "yes"}

    offenders = [r.path for r in mounted_routes(app) if r.policy is None]
    assert offenders == ["/sneaky"]


async def _disable(db: Database, client_id: int, feature: str) -> None:
    async with db.transaction(TenantScope.for_platform()) as session:
        client = await session.get(Client, client_id)
        assert client is not None
        client.enabled_features = [f for f in client.enabled_features if f != feature]


async def test_a_disabled_feature_answers_403_feature_disabled(
    phttp: httpx.AsyncClient, pdb: Database, plumbing_app: FastAPI
) -> None:
    tenant = await make_client(pdb, "Feature Studio")
    assert (await phttp.get("/_test/nutrition", headers=tenant.headers)).status_code == 200

    await _disable(pdb, tenant.id, "nutrition")
    plumbing_app.state.authenticator.invalidate()
    response = await phttp.get("/_test/nutrition", headers=tenant.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "FEATURE_DISABLED"


async def test_bearer_routes_refuse_until_sign_in_exists(
    phttp: httpx.AsyncClient, pdb: Database
) -> None:
    tenant = await make_client(pdb, "Bearer Studio")
    response = await phttp.get(
        "/_test/me", headers={**tenant.headers, "Authorization": "Bearer anything"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"
    # The API-key layer still comes first.
    assert (await phttp.get("/_test/me")).json()["code"] == "API_KEY_REQUIRED"


async def test_suspension_applies_to_every_key_route(
    phttp: httpx.AsyncClient, pdb: Database, plumbing_app: FastAPI
) -> None:
    tenant: TestClient = await make_client(pdb, "Suspended Studio")
    async with pdb.transaction(TenantScope.for_platform()) as session:
        await session.execute(
            update(Client).where(Client.id == tenant.id).values(status="suspended")
        )
    plumbing_app.state.authenticator.invalidate()
    response = await phttp.get("/_test/items", headers=tenant.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "CLIENT_SUSPENDED"
