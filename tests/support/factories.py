"""Creating clients and keys for tests through the real services."""

from __future__ import annotations

from dataclasses import dataclass

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
