"""The request transaction: conditions checked at commit, and (PostgreSQL) the tenant
declaration sent in the BEGIN message rather than as a statement of its own."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text

from stvos.config import Settings
from stvos.kit.db import (
    CommitRefused,
    Database,
    DeclaringConnection,
    driver_transaction,
    require_before_commit,
)
from stvos.kit.errors import StvosError
from stvos.kit.policy import Auth, PendingSignIn, Policy
from stvos.kit.tenancy import TenantScope
from stvos.models import ApiKey, Category
from tests.support.factories import TestClient
from tests.support.statements import count_statements


async def _categories(db: Database, client: TestClient) -> int:
    async with db.transaction(TenantScope.for_client(client.id), write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(Category)) or 0)


async def test_an_unconfirmed_condition_refuses_the_commit(
    db: Database, client_a: TestClient
) -> None:
    before = await _categories(db, client_a)
    pending = PendingSignIn(user_id=1, token_version=1, family="f")
    with pytest.raises(CommitRefused, match="never confirmed"):
        async with db.transaction(TenantScope.for_client(client_a.id)) as session:
            require_before_commit(session, pending)
            session.add(Category(name="Written?", slug="written"))
            await session.flush()
    assert await _categories(db, client_a) == before
    # Confirmed, the same work commits.
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        require_before_commit(session, pending)
        session.add(Category(name="Written", slug="written"))
        await session.flush()
        pending.confirmed = True
    assert await _categories(db, client_a) == before + 1


async def test_an_error_that_keeps_changes_still_rolls_back_with_a_condition_unmet(
    db: Database, client_a: TestClient
) -> None:
    class Kept(StvosError):
        status = 409
        code = "KEPT"
        keeps_changes = True

    before = await _categories(db, client_a)
    with pytest.raises(Kept):
        async with db.transaction(TenantScope.for_client(client_a.id)) as session:
            require_before_commit(session, PendingSignIn(user_id=1, token_version=1, family=None))
            session.add(Category(name="Kept?", slug="kept"))
            await session.flush()
            raise Kept()
    assert await _categories(db, client_a) == before


def test_only_user_routes_may_check_the_sign_in_themselves() -> None:
    assert Policy(Auth.USER, sign_in_checked_by_route=True).sign_in_checked_by_route
    for layer in (Auth.API_KEY, Auth.TRAINER, Auth.STAFF, Auth.PARTNER, Auth.PUBLIC):
        with pytest.raises(ValueError, match=r"only for Auth\.USER"):
            Policy(layer, sign_in_checked_by_route=True)


async def test_the_tenant_declaration_rides_in_the_begin_message(
    db: Database, client_a: TestClient, client_b: TestClient, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("row-level security and its declaration are PostgreSQL's")
    with count_statements(db) as seen:
        async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
            setting = await session.scalar(text("SELECT current_setting('stvos.client_id')"))
            keys = set(await session.scalars(select(ApiKey.client_id)))
    assert setting == str(client_a.id)
    assert keys == {client_a.id}
    assert not [s for s in seen if "set_config" in s], seen
    # The platform scope is declared the same way.
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        platform = await session.scalar(text("SELECT current_setting('stvos.platform')"))
    assert platform == "on"
    # A transaction begun outside a session declares nothing: row-level security sees no client.
    async with db.engine.connect() as conn:
        bare = await conn.scalar(text("SELECT current_setting('stvos.client_id', true)"))
        rows = await conn.scalar(text("SELECT count(*) FROM api_keys"))
    assert bare in (None, "")
    assert rows == 0


async def test_an_unused_declaration_does_not_outlive_its_checkout(
    db: Database, client_a: TestClient, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("row-level security and its declaration are PostgreSQL's")
    async with db.session(TenantScope.for_client(client_a.id)) as session:
        conn = await session.connection()  # begins: the declaration waits for a statement
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, DeclaringConnection)
        assert driver.pending_declaration is not None
    assert driver.pending_declaration is None  # dropped when the connection went back


# --- driver_transaction: the pooled asyncpg connection of the hottest paths --------------------


async def _category_names(db: Database, client: TestClient) -> set[str]:
    async with db.transaction(TenantScope.for_client(client.id), write=False) as session:
        return set(await session.scalars(select(Category.name)))


_INSERT_CATEGORY = (
    "INSERT INTO categories (client_id, name, slug, sort_order, is_active, created_at, updated_at)"
    " VALUES ($1, $2, $3, 0, true, now(), now())"
)


async def test_a_driver_transaction_commits_and_returns_its_connection(
    db: Database, client_a: TestClient, only_postgres: None
) -> None:
    pool = db.engine.sync_engine.pool
    async with driver_transaction(db.engine, TenantScope.for_client(client_a.id)) as driver:
        # The declaration rode in the BEGIN: row-level security lets the insert through.
        await driver.execute(_INSERT_CATEGORY, client_a.id, "Driven", "driven")
        assert pool.checkedout() == 1  # type: ignore[attr-defined]
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    assert driver.pending_declaration is None  # type: ignore[attr-defined]
    assert not driver.is_in_transaction()
    assert "Driven" in await _category_names(db, client_a)


async def test_a_new_connection_serves_driver_transactions_and_stays_pooled(
    settings: Settings, client_a: TestClient, only_postgres: None, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection first used by a driver transaction (the heartbeat's) is handed out idle,
    returns cleanly and is used again: the same backend serves the next one."""
    fresh = Database(settings)  # an empty pool: its first connection is made here
    try:
        backends = []
        for _ in range(2):
            async with driver_transaction(
                fresh.engine, TenantScope.for_client(client_a.id)
            ) as driver:
                backends.append(await driver.fetchval("SELECT pg_backend_pid()"))
                assert await driver.fetchval("SELECT current_setting('stvos.client_id')") == str(
                    client_a.id
                )
        assert backends[0] == backends[1]
        assert fresh.engine.sync_engine.pool.checkedin() == 1  # type: ignore[attr-defined]
        assert "Exception during reset" not in caplog.text
    finally:
        await fresh.dispose()


async def test_a_failed_driver_transaction_rolls_back(
    db: Database, client_a: TestClient, only_postgres: None
) -> None:
    pool = db.engine.sync_engine.pool
    with pytest.raises(StvosError):
        async with driver_transaction(db.engine, TenantScope.for_client(client_a.id)) as driver:
            await driver.execute(_INSERT_CATEGORY, client_a.id, "Undone", "undone")
            raise StvosError("refused")
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    assert "Undone" not in await _category_names(db, client_a)
    # The connection went back clean: the next transaction on it works.
    assert await _categories(db, client_a) >= 0


async def test_a_cancelled_driver_transaction_rolls_back_before_its_connection_returns(
    db: Database, client_a: TestClient, only_postgres: None
) -> None:
    pool = db.engine.sync_engine.pool
    entered = asyncio.Event()
    held: list[Any] = []

    async def interrupted() -> None:
        async with driver_transaction(db.engine, TenantScope.for_client(client_a.id)) as driver:
            held.append(driver)
            await driver.execute(_INSERT_CATEGORY, client_a.id, "Halfway", "halfway")
            entered.set()
            await driver.execute("SELECT pg_sleep(5)")

    task = asyncio.create_task(interrupted())
    await entered.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    assert not held[0].is_in_transaction()  # rolled back before it went back
    assert "Halfway" not in await _category_names(db, client_a)


async def test_a_broken_driver_connection_is_thrown_away(
    db: Database, client_a: TestClient, only_postgres: None
) -> None:
    pool = db.engine.sync_engine.pool
    held: list[Any] = []
    with pytest.raises(asyncpg.InterfaceError):
        async with driver_transaction(db.engine, TenantScope.for_client(client_a.id)) as driver:
            held.append(driver)
            await driver.execute(_INSERT_CATEGORY, client_a.id, "Lost", "lost")
            driver.terminate()  # the server or the network went away mid-transaction
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    # Not back in the pool: the next transactions get working connections.
    for _ in range(pool.size() + 1):  # type: ignore[attr-defined]
        assert "Lost" not in await _category_names(db, client_a)
