"""The heartbeat's row updates can stay on their page (PostgreSQL HOT updates, migration 0018):
no index of the tables it updates covers a column whose value it changes. One such index makes
every heartbeat write an entry into every index of the table, and bloats them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Index, PrimaryKeyConstraint, Table, UniqueConstraint
from sqlalchemy.sql.dml import Update

from stvos.models import ClassProgress, PlaybackSession
from stvos.playback.heartbeat import _PROGRESS_UPDATE, _SESSION_UPDATE

# Written by every heartbeat, but with the value it read: PostgreSQL compares the values of
# indexed columns, so an unchanged one does not prevent an in-place update.
UNCHANGED_ON_A_HEARTBEAT = {"status"}


def _covered(table: Table, index: Index | UniqueConstraint | PrimaryKeyConstraint) -> set[str]:
    """The columns an index depends on: its own, and those its partial predicate names."""
    covered = {column.name for column in index.columns}
    where = index.dialect_options["postgresql"]["where"] if isinstance(index, Index) else None
    if where is not None:
        words = set(re.findall(r"\w+", str(where)))
        covered |= {column.name for column in table.columns if column.name in words}
    return covered


@pytest.mark.parametrize(
    ("model", "statement"),
    [(PlaybackSession, _SESSION_UPDATE), (ClassProgress, _PROGRESS_UPDATE)],
)
def test_no_index_covers_a_column_the_heartbeat_changes(model: Any, statement: Update) -> None:
    table: Table = model.__table__
    written = {getattr(key, "key", key) for key in statement._values or {}}
    changed = written - UNCHANGED_ON_A_HEARTBEAT
    assert {"last_heartbeat_at", "last_watched_at"} & changed
    keys = [c for c in table.constraints if isinstance(c, UniqueConstraint | PrimaryKeyConstraint)]
    for index in [*table.indexes, *keys]:
        covered = _covered(table, index) & changed
        assert not covered, f"{index.name} covers {sorted(covered)}, changed by every heartbeat"


def test_the_idle_sweep_index_is_partial_on_status() -> None:
    table: Table = PlaybackSession.__table__  # type: ignore[assignment]
    (active,) = [i for i in table.indexes if i.name == "ix_playback_sessions_active"]
    assert _covered(table, active) == {"id", "status"}
