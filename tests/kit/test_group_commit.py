"""GroupCommit: concurrent work of one kind in shared transactions, never across tenants, each
item answered with its own outcome (PostgreSQL: it runs on the driver's connections)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest
from sqlalchemy import select

from stvos.kit.db import Database
from stvos.kit.group_commit import GroupCommit
from stvos.kit.tenancy import TenantScope
from stvos.models import Category
from tests.support.factories import TestClient

pytestmark = pytest.mark.usefixtures("only_postgres")


class Recorder:
    """A batch's work: notes each batch, answers each item with its value doubled and the
    tenant its transaction declared."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.started = asyncio.Event()
        self.release: asyncio.Event | None = None
        self.failures: list[BaseException] = []

    async def __call__(
        self, connection: asyncpg.Connection, items: Sequence[int]
    ) -> list[tuple[int, str]]:
        self.batches.append(list(items))
        self.started.set()
        if self.failures:
            raise self.failures.pop(0)
        if self.release is not None:
            await self.release.wait()
        declared = await connection.fetchval("SELECT current_setting('stvos.client_id')")
        return [(2 * item, declared) for item in items]


Answer = tuple[int, str]


async def _one_batch_in_flight(
    db: Database, client: TestClient
) -> tuple[Recorder, GroupCommit[int, Answer], TenantScope, asyncio.Task[Answer]]:
    """A group whose first batch (item 0) is in the database until ``work.release`` is set."""
    work = Recorder()
    work.release = asyncio.Event()
    group: GroupCommit[int, Answer] = GroupCommit("test", work)
    scope = TenantScope.for_client(client.id)
    first = asyncio.create_task(group.submit(db.engine, scope, 0))
    await work.started.wait()
    return work, group, scope, first


async def test_a_lone_item_runs_at_once_on_its_own(db: Database, client_a: TestClient) -> None:
    work = Recorder()
    group = GroupCommit("test", work)
    scope = TenantScope.for_client(client_a.id)
    assert await group.submit(db.engine, scope, 21) == (42, str(client_a.id))
    assert work.batches == [[21]]
    # The scope's drainer retired; the next item starts another.
    assert await group.submit(db.engine, scope, 1) == (2, str(client_a.id))
    assert work.batches == [[21], [1]]


async def test_items_that_arrive_together_share_batches_of_bounded_size(
    db: Database, client_a: TestClient
) -> None:
    work = Recorder()
    group = GroupCommit("test", work, max_batch=3)
    scope = TenantScope.for_client(client_a.id)
    answers = await asyncio.gather(*(group.submit(db.engine, scope, i) for i in range(7)))
    assert [doubled for doubled, _ in answers] == [2 * i for i in range(7)]
    assert work.batches == [[0, 1, 2], [3, 4, 5], [6]]


async def test_items_arriving_during_a_batch_form_the_next(
    db: Database, client_a: TestClient
) -> None:
    work, group, scope, first = await _one_batch_in_flight(db, client_a)
    later = [asyncio.create_task(group.submit(db.engine, scope, i)) for i in (1, 2, 3)]
    await asyncio.sleep(0.01)
    work.release.set()
    await asyncio.gather(first, *later)
    assert work.batches == [[0], [1, 2, 3]]


async def test_tenants_never_share_a_batch(
    db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    work = Recorder()
    group = GroupCommit("test", work)
    a, b = TenantScope.for_client(client_a.id), TenantScope.for_client(client_b.id)
    answers = await asyncio.gather(
        group.submit(db.engine, a, 1), group.submit(db.engine, b, 2), group.submit(db.engine, a, 3)
    )
    assert answers == [(2, str(client_a.id)), (4, str(client_b.id)), (6, str(client_a.id))]
    assert sorted(work.batches) == [[1, 3], [2]]


async def test_a_failed_batch_rolls_back_and_fails_each_of_its_items(
    db: Database, client_a: TestClient
) -> None:
    scope = TenantScope.for_client(client_a.id)

    async def insert_then_fail(connection: asyncpg.Connection, items: Sequence[str]) -> list[int]:
        for name in items:
            await connection.execute(
                "INSERT INTO categories (client_id, name, slug, sort_order, is_active,"
                " created_at, updated_at) VALUES ($1, $2, $2, 0, true, now(), now())",
                client_a.id,
                name,
            )
        raise ValueError("the batch broke")

    group = GroupCommit("test", insert_then_fail)
    results = await asyncio.gather(
        *(group.submit(db.engine, scope, name) for name in ("one", "two")), return_exceptions=True
    )
    assert [type(r) for r in results] == [ValueError, ValueError]
    async with db.transaction(scope, write=False) as session:
        assert not set(await session.scalars(select(Category.name))) & {"one", "two"}
    assert db.engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_batch_must_answer_every_item(db: Database, client_a: TestClient) -> None:
    async def short(connection: asyncpg.Connection, items: Sequence[int]) -> list[int]:
        return list(items)[:-1]

    group = GroupCommit("test", short)
    scope = TenantScope.for_client(client_a.id)
    results = await asyncio.gather(
        *(group.submit(db.engine, scope, i) for i in range(2)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_a_deadlocked_batch_runs_again(db: Database, client_a: TestClient) -> None:
    work = Recorder()
    work.failures = [asyncpg.DeadlockDetectedError("deadlock detected")]
    group = GroupCommit("test", work, attempts=2)
    scope = TenantScope.for_client(client_a.id)
    assert await group.submit(db.engine, scope, 5) == (10, str(client_a.id))
    assert work.batches == [[5], [5]]

    work.failures = [asyncpg.DeadlockDetectedError("deadlock detected")] * 2
    with pytest.raises(asyncpg.DeadlockDetectedError):
        await group.submit(db.engine, scope, 6)


async def test_a_caller_gone_before_its_batch_is_left_out(
    db: Database, client_a: TestClient
) -> None:
    work, group, scope, first = await _one_batch_in_flight(db, client_a)
    gone = asyncio.create_task(group.submit(db.engine, scope, 1))
    stays = asyncio.create_task(group.submit(db.engine, scope, 2))
    await asyncio.sleep(0)
    gone.cancel()
    work.release.set()
    assert await first == (0, str(client_a.id))
    assert await stays == (4, str(client_a.id))
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert work.batches == [[0], [2]]


def test_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit("test", Recorder(), max_batch=0)
