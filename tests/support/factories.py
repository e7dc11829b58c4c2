"""Creating clients and keys for tests through the real services."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.tenancy import service


@dataclass(frozen=True)
class TestClient:
    """A client made for a test, with its first API key."""

    __test__ = False  # not a pytest test class
    id: int
    slug: str
    api_key: str
    api_key_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


async def make_client(database: Database, name: str, **fields: object) -> TestClient:
    async with database.transaction(TenantScope.for_platform()) as session:
        client = await service.create_client(session, name=name, **fields)  # type: ignore[arg-type]
        key, raw = await service.issue_api_key(session, client)
        return TestClient(id=client.id, slug=client.slug, api_key=raw, api_key_id=key.id)


async def make_default(database: Database, client_id: int) -> None:
    async with database.transaction(TenantScope.for_platform()) as session:
        await service.set_default_client(session, await service.find_client(session, client_id))


async def make_universal_key(database: Database) -> str:
    async with database.transaction(TenantScope.for_platform()) as session:
        return await service.issue_universal_key(session)


@dataclass(frozen=True)
class TestUser:
    """A user made for a test, signed in: ``headers`` carry the app key and the bearer token."""

    __test__ = False

    id: int
    client: TestClient
    email: str
    password: str
    role: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {**self.client.headers, "Authorization": f"Bearer {self.access_token}"}


async def make_user(
    http: httpx.AsyncClient,
    db: Database,
    client: TestClient,
    email: str,
    *,
    role: str = "user",
    password: str = "correct-horse-battery",
    name: str | None = "Test User",
) -> TestUser:
    """Create an account with ``role`` in ``client`` and sign it in through /auth/login."""
    from stvos.accounts.service import create_user
    from stvos.models import Role

    async with db.transaction(TenantScope.for_client(client.id)) as session:
        user = await create_user(
            session, email=email, password=password, name=name, role=Role(role)
        )
        user_id = user.id
    response = await http.post(
        "/auth/login", json={"email": email, "password": password}, headers=client.headers
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return TestUser(
        id=user_id,
        client=client,
        email=email,
        password=password,
        role=role,
        access_token=data["accessToken"],
        refresh_token=data["refreshToken"],
    )
