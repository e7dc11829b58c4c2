"""One page of an ORM query and its total, for every list endpoint."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.schemas import PageParams

M = TypeVar("M")


async def fetch_page(
    session: AsyncSession, query: Select[M], paging: PageParams, *order_by: Any
) -> tuple[list[M], int]:
    """The requested page of ``query`` in ``order_by`` order, and how many rows match in all.

    The total is counted by the database over the same filtered query (the tenant filter
    included: it reaches into the subquery), so it agrees with the rows.
    """
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    total = await session.scalar(counted) or 0
    rows = await session.scalars(
        query.order_by(*order_by).offset(paging.offset).limit(paging.limit)
    )
    return list(rows), total
