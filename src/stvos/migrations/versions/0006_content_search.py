"""Content search: full-text index over on-demand classes (PostgreSQL GIN, SQLite FTS5).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

PostgreSQL: a STORED generated column ``search_vector``, the weighted ``tsvector`` (name A,
trainer and category names B, description C), with a GIN index. A stored column rather than an
index on the expression because of row-level security: ``@@`` is not leakproof, so for the app
role (bound by the tenant policy) the planner may not use the GIN index and filters the
client's published rows (found through the ``client_id``-led btree) instead; a stored vector
makes that filter cheap, where an expression would re-parse every row's text. The GIN index
serves roles that row security does not bind (and the app role too, should ``ts_match_vq`` ever
be marked leakproof by a superuser). The column exists only on PostgreSQL, so the models do not
declare it (the migration test allowlists it) and the database keeps it in step by itself.
The 'simple' configuration (no stemming, no stop words: the library is multilingual), given as
a ``regconfig`` literal, makes ``to_tsvector`` immutable, as a generated column requires;
prefix matching (``term:*``) does the rest. No extra table, so no extra grants or policies.

SQLite: an FTS5 *external-content* table over ``on_demand_classes`` (it stores only the index,
the text stays in the class rows) kept in step by triggers, with prefix indexes for 2-4
characters. It holds no client: search always joins it back to ``on_demand_classes``, whose
tenant filter decides what a caller sees.

Note for later migrations: a batch ("move and copy") rebuild of ``on_demand_classes`` on SQLite
drops its triggers with the old table; such a migration must recreate them
(``_create_sqlite_triggers``) and rebuild the index.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PG_COLUMN = "search_vector"
PG_INDEX = "ix_on_demand_classes_search_vector"
PG_VECTOR_SQL = (
    "setweight(to_tsvector('simple'::regconfig, name), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(search_people, '')), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(description, '')), 'C')"
)

FTS = "on_demand_classes_fts"
_COLUMNS = "name, search_people, description"
_NEW = "new.id, new.name, new.search_people, new.description"
_OLD = "old.id, old.name, old.search_people, old.description"


def _create_sqlite_triggers() -> None:
    op.execute(
        f"CREATE TRIGGER {FTS}_ai AFTER INSERT ON on_demand_classes BEGIN "
        f"INSERT INTO {FTS}(rowid, {_COLUMNS}) VALUES ({_NEW}); END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_ad AFTER DELETE ON on_demand_classes BEGIN "
        f"INSERT INTO {FTS}({FTS}, rowid, {_COLUMNS}) VALUES ('delete', {_OLD}); END"
    )
    # Only the searched columns: play counts and other hot updates leave the index alone.
    op.execute(
        f"CREATE TRIGGER {FTS}_au AFTER UPDATE OF {_COLUMNS} ON on_demand_classes BEGIN "
        f"INSERT INTO {FTS}({FTS}, rowid, {_COLUMNS}) VALUES ('delete', {_OLD}); "
        f"INSERT INTO {FTS}(rowid, {_COLUMNS}) VALUES ({_NEW}); END"
    )


def upgrade(app_role: str | None = None) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            f"ALTER TABLE on_demand_classes ADD COLUMN {PG_COLUMN} tsvector "
            f"GENERATED ALWAYS AS ({PG_VECTOR_SQL}) STORED"
        )
        op.execute(f"CREATE INDEX {PG_INDEX} ON on_demand_classes USING gin ({PG_COLUMN})")
    elif dialect == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS} USING fts5({_COLUMNS}, "
            "content='on_demand_classes', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 2', prefix='2 3 4')"
        )
        _create_sqlite_triggers()
        op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")


def downgrade(app_role: str | None = None) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        op.execute(f"ALTER TABLE on_demand_classes DROP COLUMN IF EXISTS {PG_COLUMN}")
    elif dialect == "sqlite":
        for suffix in ("au", "ad", "ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
