"""The per-request database session: one session, one transaction, committed before the answer.

The session starts without a tenant scope; the route's policy guard declares it (from the
caller's credential) before the first statement runs, which is when the transaction begins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.db import Database
from stvos.kit.tenancy import NO_SCOPE

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.db
    write = request.method not in _READ_METHODS
    async with database.transaction(NO_SCOPE, write=write) as session:
        request.state.db_session = session
        yield session


DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
