"""The three isolation layers: ORM filter, composite same-client references, PostgreSQL RLS."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from stvos.kit.clock import utcnow
from stvos.kit.db import Database
from stvos.kit.errors import TenancyViolation
from stvos.kit.tenancy import TenantScope
from stvos.models import ApiKey, Client, IdempotencyRecord
from tests.support.factories import TestClient


async def _keys_seen(db: Database, scope: TenantScope) -> set[int]:
    async with db.transaction(scope, write=False) as session:
        return set(await session.scalars(select(ApiKey.client_id)))


async def test_orm_queries_of_tenant_models_see_only_the_current_client(
    db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    assert await _keys_seen(db, TenantScope.for_client(client_a.id)) == {client_a.id}
    assert await _keys_seen(db, TenantScope.for_client(client_b.id)) == {client_b.id}
    assert await _keys_seen(db, TenantScope.for_platform()) == {client_a.id, client_b.id}


async def test_filter_covers_get_count_update_and_delete(
    db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        assert await session.get(ApiKey, client_b.api_key_id) is None
        assert await session.get(ApiKey, client_a.api_key_id) is not None
        assert await session.scalar(select(func.count()).select_from(ApiKey)) == 1
        # An explicit filter on the other client's id cannot widen the scope.
        assert (await session.scalar(select(ApiKey).where(ApiKey.client_id == client_b.id))) is None
        renamed = await session.execute(update(ApiKey).values(name="renamed"))
        assert renamed.rowcount == 1  # type: ignore[attr-defined]
        deleted = await session.execute(delete(ApiKey).where(ApiKey.id == client_b.api_key_id))
        assert deleted.rowcount == 0  # type: ignore[attr-defined]

    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        names = dict((await session.execute(select(ApiKey.client_id, ApiKey.name))).all())
    assert names == {client_a.id: "renamed", client_b.id: "default"}


async def test_new_rows_get_the_current_client_and_a_foreign_client_is_refused(
    db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        key = ApiKey(name="stamped", prefix="fytos_x", key_hash="a" * 64)
        session.add(key)
        await session.flush()
        assert key.client_id == client_a.id

    with pytest.raises(TenancyViolation):
        async with db.transaction(TenantScope.for_client(client_a.id)) as session:
            session.add(
                ApiKey(client_id=client_b.id, name="smuggled", prefix="fytos_y", key_hash="b" * 64)
            )
            await session.flush()

    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        smuggled = await session.scalar(select(ApiKey).where(ApiKey.name == "smuggled"))
    assert smuggled is None


async def test_tenant_data_without_a_scope_is_a_programming_error(
    db: Database, client_a: TestClient
) -> None:
    with pytest.raises(TenancyViolation):
        async with db.transaction(TenantScope(), write=False) as session:
            await session.scalars(select(ApiKey))
    with pytest.raises(TenancyViolation):
        async with db.transaction(TenantScope()) as session:
            session.add(ApiKey(client_id=client_a.id, prefix="p", key_hash="c" * 64))
            await session.flush()
    with pytest.raises(TenancyViolation):
        async with db.transaction(TenantScope.for_platform()) as session:
            session.add(ApiKey(prefix="p", key_hash="d" * 64))  # platform rows name a client
            await session.flush()


async def test_a_row_cannot_reference_another_clients_row(
    db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    now = utcnow()

    def record(api_key_id: int) -> IdempotencyRecord:
        return IdempotencyRecord(
            client_id=client_a.id,
            scope="client",
            key=f"k-{api_key_id}",
            api_key_id=api_key_id,
            method="POST",
            route="/x",
            fingerprint="f" * 64,
            response_headers={},
            created_at=now,
            expires_at=now + timedelta(hours=1),
        )

    # Same client: accepted.
    async with db.transaction(TenantScope.for_platform()) as session:
        session.add(record(client_a.api_key_id))

    # Client A's row pointing at client B's key: the database itself refuses it, even in the
    # platform scope where the ORM layer does not interfere.
    with pytest.raises(IntegrityError):
        async with db.transaction(TenantScope.for_platform()) as session:
            session.add(record(client_b.api_key_id))
            await session.flush()


async def test_the_clients_table_shows_a_client_scope_only_itself(
    db: Database, client_a: TestClient, client_b: TestClient, is_postgres: bool
) -> None:
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        ids = set(await session.scalars(select(Client.id)))
    # Clients are not ORM-filtered (a client is the tenant itself); on PostgreSQL row-level
    # security still narrows them to the current one.
    assert ids == ({client_a.id} if is_postgres else {client_a.id, client_b.id})


@pytest.mark.postgres
async def test_postgres_raw_sql_without_the_setting_sees_nothing_and_cannot_insert(
    db: Database, client_a: TestClient, client_b: TestClient, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("row-level security is PostgreSQL's; this suite run is on SQLite")
    # A bare connection of the application's engine: the app role, no tenant setting.
    async with db.engine.connect() as conn:
        assert await conn.scalar(text("SELECT current_user")) == "stvos_app"
        assert await conn.scalar(text("SELECT count(*) FROM api_keys")) == 0
        assert await conn.scalar(text("SELECT count(*) FROM clients")) == 0
        assert await conn.scalar(text("SELECT count(*) FROM platform_keys")) == 0
        with pytest.raises(DBAPIError, match="row-level security"):
            await conn.execute(
                text(
                    "INSERT INTO api_keys (client_id, name, prefix, key_hash, created_at, "
                    "updated_at) VALUES (:c, 'raw', 'p', :h, now(), now())"
                ),
                {"c": client_a.id, "h": "e" * 64},
            )
        await conn.rollback()

        # With the setting, raw SQL sees exactly that client, and cannot write for another.
        await conn.execute(
            text("SELECT set_config('stvos.client_id', :c, true)"), {"c": str(client_a.id)}
        )
        seen = set(await conn.scalars(text("SELECT client_id FROM api_keys")))
        assert seen == {client_a.id}
        with pytest.raises(DBAPIError, match="row-level security"):
            await conn.execute(
                text(
                    "INSERT INTO api_keys (client_id, name, prefix, key_hash, created_at, "
                    "updated_at) VALUES (:c, 'raw', 'p', :h, now(), now())"
                ),
                {"c": client_b.id, "h": "f" * 64},
            )
        await conn.rollback()


@pytest.mark.postgres
async def test_postgres_every_tenant_table_forces_row_level_security(
    db: Database, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("row-level security is PostgreSQL's; this suite run is on SQLite")
    from stvos.kit.orm import Base, TenantOwned

    tenant_tables = {
        mapper.local_table.name
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantOwned)
    }
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        rows = (
            await session.execute(
                text(
                    "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                    "WHERE relname = ANY(:names)"
                ),
                {"names": [*tenant_tables, "clients", "platform_keys"]},
            )
        ).all()
    flags = {name: (enabled, forced) for name, enabled, forced in rows}
    assert set(flags) == {*tenant_tables, "clients", "platform_keys"}
    assert all(enabled and forced for enabled, forced in flags.values()), flags


async def test_page_totals_count_only_the_current_client(
    db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    from stvos.kit.paging import fetch_page
    from stvos.kit.schemas import PageParams

    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        rows, total = await fetch_page(
            session, select(ApiKey), PageParams(page=1, limit=10), ApiKey.id
        )
    assert total == 1
    assert [row.client_id for row in rows] == [client_a.id]


async def test_policies_read_the_tenant_settings_once_per_statement(
    db: Database, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("row-level security is PostgreSQL's")
    async with db.engine.connect() as conn:
        policies = (
            await conn.execute(
                text(
                    "SELECT tablename, coalesce(qual, '') || ' ' || coalesce(with_check, '') "
                    "FROM pg_policies WHERE schemaname = current_schema()"
                )
            )
        ).all()
    assert len(policies) > 30
    for table, expressions in policies:
        # Every call sits in a sub-select (an init plan, once per statement), none bare (per row).
        bare = re.sub(r"SELECT stvos_(client_id|platform)\(\)", "", expressions)
        assert "stvos_client_id()" not in bare, (table, expressions)
        assert "stvos_platform()" not in bare, (table, expressions)
