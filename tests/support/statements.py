"""Counting the SQL a block of code sends: statements-per-request budgets, plans, parameters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event

from stvos.kit.db import Database


@contextmanager
def count_statements(
    source: FastAPI | Database, *, with_parameters: bool = False
) -> Iterator[list[Any]]:
    """Every statement the application's (or the database's) engine runs inside the block: its
    SQL, or ``(sql, parameters)`` with ``with_parameters``. Statements sent straight on the
    driver are not seen here (see ``stvos.kit.db.observe_driver_statements``)."""
    db: Database = source.state.db if isinstance(source, FastAPI) else source
    engine = db.engine.sync_engine
    seen: list[Any] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters) if with_parameters else statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
