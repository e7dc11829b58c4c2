"""Group commit: concurrent small transactions of one kind, run together as one.

A heartbeat's own work is one read and one write, but as a transaction of its own it also
costs a ``BEGIN`` and a ``COMMIT``: four round trips, each a message for PostgreSQL to parse,
run and answer and for the worker to send and await, plus a commit record and a WAL flush.
Under load those dominate. :class:`GroupCommit` gathers the items that arrive while a batch
of the same kind is in the database and runs them as the next batch: one transaction, one
read and one write for all of them. An item that arrives at an idle worker is run at once, on
its own, so batching adds no wait when there is nothing to share.

Batches never mix tenant scopes: each scope (engine and :class:`TenantScope`) has its own
queue and its own drainer, and its transaction declares that scope for row-level security as
any request's does (:func:`stvos.kit.db.driver_transaction`). Per scope and process one batch
is in flight at a time, so a busy tenant holds one pooled connection per worker, not one per
request.

The batch's ``run`` answers every item with its own outcome (an answer, or the error that
item's request is to raise) and leaves out of its writes the work of items that failed, so
one member's dead sign-in or closed session never costs another's heartbeat. An error of the
batch itself (the database went away, a bug) rolls it back and reaches every item's request.
A deadlock between batches (PostgreSQL ends one of them) is retried; lock rows in a fixed
order to keep those rare.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from stvos.kit.db import driver_transaction
from stvos.kit.tenancy import TenantScope

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

# PostgreSQL ended the batch to break a lock cycle with another transaction: safe to run again.
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)

_Key = tuple[AsyncEngine, TenantScope]


@dataclass(slots=True)
class _Queue(Generic[Item, Outcome]):
    waiting: deque[tuple[Item, asyncio.Future[Outcome]]] = field(default_factory=deque)


class GroupCommit(Generic[Item, Outcome]):
    """Run items of one kind in shared transactions, one batch per tenant scope at a time.

    ``run(connection, items)`` does the batch's work inside its transaction and returns one
    outcome per item, in order. Keep one instance per kind of work, for the whole process.
    """

    def __init__(
        self,
        name: str,
        run: Callable[[asyncpg.Connection, Sequence[Item]], Awaitable[list[Outcome]]],
        *,
        max_batch: int = 64,
        attempts: int = 3,
    ) -> None:
        if max_batch < 1 or attempts < 1:
            raise ValueError("max_batch and attempts must be at least 1")
        self.name = name
        self._run = run
        self.max_batch = max_batch
        self.attempts = attempts
        self._queues: dict[_Key, _Queue[Item, Outcome]] = {}
        self._drainers: set[asyncio.Task[None]] = set()  # strong references while they run

    async def submit(self, engine: AsyncEngine, scope: TenantScope, item: Item) -> Outcome:
        """Run ``item`` in the next batch of its scope and answer its outcome.

        A caller cancelled before its batch starts is left out of it; one cancelled later does
        not stop the batch (the others' work commits)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        key = (engine, scope)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue()
            drainer = loop.create_task(self._drain(key, queue), name=f"group-commit:{self.name}")
            self._drainers.add(drainer)
            drainer.add_done_callback(self._drainers.discard)
        queue.waiting.append((item, future))
        return await future

    async def _drain(self, key: _Key, queue: _Queue[Item, Outcome]) -> None:
        """Run the scope's batches until its queue is empty, then retire (a later item starts a
        new drainer). Nothing awaits between the last emptiness check and the removal, so no
        item can be queued behind a drainer that is leaving."""
        try:
            while queue.waiting:
                batch = [
                    queue.waiting.popleft() for _ in range(min(len(queue.waiting), self.max_batch))
                ]
                batch = [(item, future) for item, future in batch if not future.done()]
                if batch:
                    await self._settle(key, batch)
        finally:
            del self._queues[key]
            for _, future in queue.waiting:  # only when the drainer itself was cancelled
                future.cancel()

    async def _settle(self, key: _Key, batch: list[tuple[Item, asyncio.Future[Outcome]]]) -> None:
        items = [item for item, _ in batch]
        try:
            outcomes = await self._attempt(key, items)
            if len(outcomes) != len(items):
                raise RuntimeError(f"{self.name}: {len(outcomes)} outcomes for {len(items)} items")
        except BaseException as exc:
            failed = isinstance(exc, Exception)
            for _, future in batch:
                if future.done():
                    continue
                if failed:
                    future.set_exception(exc)
                else:
                    future.cancel()
            if not failed:
                raise  # the drainer itself is being cancelled (the loop is closing)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _attempt(self, key: _Key, items: list[Item]) -> list[Outcome]:
        engine, scope = key
        for attempt in range(1, self.attempts + 1):
            try:
                async with driver_transaction(engine, scope) as connection:
                    return await self._run(connection, items)
            except _RETRYABLE:
                if attempt == self.attempts:
                    raise
                log.warning("%s: batch of %d retried after a deadlock", self.name, len(items))
        raise AssertionError("unreachable")
