"""The per-request database session: one session, one transaction, committed before the answer.

The session starts without a tenant scope; the route's policy guard declares it (from the
caller's credential) before the first statement runs, which is when the transaction begins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.db import Database
from stvos.kit.tenancy import NO_SCOPE

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@asynccontextmanager
async def request_transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session and transaction (read-only for GET, HEAD and OPTIONS)."""
    database: Database = request.app.state.db
    write = request.method not in _READ_METHODS
    async with database.transaction(NO_SCOPE, write=write) as session:
        request.state.db_session = session
        yield session


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request_transaction(request) as session:
        yield session


def is_db_session(annotation: object) -> bool:
    """Whether a parameter's annotation is :data:`DbSession`."""
    metadata = getattr(annotation, "__metadata__", ())
    return any(getattr(item, "dependency", None) is _request_session for item in metadata)


DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
