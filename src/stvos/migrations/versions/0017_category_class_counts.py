"""Each category's count of published classes, kept by the database itself.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

Discover and ``/content/categories`` answer every active category with its count of visible
classes. Counted on each request (an index-only range count per category, migration 0014) that
cost grew with the library: ~30 ms of a discover at 100,000 classes on PostgreSQL. The table
``category_class_counts`` keeps, per ``(client_id, category_id)``, how many classes are
*published* (status ``published`` with a ``published_at``, whether that instant has come or
not); the read path subtracts the few scheduled after ``now`` (a range count over the future
only), so the answer stays exact at any ``now`` and costs the same at 1,000 or 100,000 classes.

Kept by triggers on ``on_demand_classes``, not by the services: bulk loads (the benchmark's
seed, imports) and any future writer bypass the ORM, and the database is the one place they all
pass. A class counts when ``status = 'published' AND published_at IS NOT NULL AND category_id
IS NOT NULL``; a change that does not move a class in or out of a count (a play, a rename, a
new ``published_at`` of a published class, the search text) leaves the table alone.

* Increments are upserts (``INSERT ... ON CONFLICT DO UPDATE SET published_count = ... +``):
  the row appears with the category's first published class. Decrements are plain ``UPDATE`` s
  of a row that must exist; when it does not, its category (and the class with it) is being
  deleted by a cascade (a client deleted), and there is nothing left to count.
* PostgreSQL: statement-level ``AFTER INSERT`` and ``AFTER DELETE`` triggers read the
  statement's transition tables, grouped by category: a 5,000-row insert costs one upsert per
  category, in ``(client_id, category_id)`` order (two bulk writers lock the rows in the same
  order). ``UPDATE`` is a row-level trigger on ``UPDATE OF status, published_at, category_id,
  client_id`` with a ``WHEN`` that passes only a class whose counted state or category changes:
  PostgreSQL allows no column list on a trigger with transition tables, and a statement-level
  ``UPDATE`` trigger would run on every play (``play_count``, each playback start) and every
  search-text refresh of a category's classes; the app changes a class's state one row at a
  time. ``AFTER TRUNCATE`` empties the counts.
* SQLite: row-level triggers with the same conditions (``UPSERT`` inside a trigger).

Tenancy: the table is tenant-owned (``client_id`` first in its key, FORCE row-level security
with the house policy, granted to the app role). The trigger functions are not ``SECURITY
DEFINER``: they run as the writer, under the writer's declared scope. A counts row carries the
``client_id`` of the class that moved it, and that class row has itself just passed the same
policy on ``on_demand_classes`` (its ``client_id`` is the declared client, or the writer is in
the platform scope), so the trigger's writes pass the counts table's policy; no policy was
widened. Roles that bypass row security (the migration owner as superuser, the benchmark's
bulk writer) bypass it here too, as they do on the classes.

The backfill counts the existing classes in the platform scope (declared for this migration's
transaction only: a table owner is bound by FORCE row-level security too). The triggers are made
first, in the same transaction, and their ``CREATE TRIGGER`` holds writes to
``on_demand_classes`` until it commits, so no write falls between the backfill and the triggers.

Note for later migrations: a batch ("move and copy") rebuild of ``on_demand_classes`` on SQLite
drops its triggers with the old table (as migration 0006 notes for search); such a migration
must recreate them (``_create_sqlite_triggers``) and recount (``_backfill``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stvos.migrations import rls

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

TABLE = "category_class_counts"
CLASSES = "on_demand_classes"


def counted(row: str) -> str:
    """The condition under which the class ``row`` (``new``, ``old``, a table alias) counts."""
    return (
        f"{row}.status = 'published' AND {row}.published_at IS NOT NULL "
        f"AND {row}.category_id IS NOT NULL"
    )


# A class moves in or out of a count, or from one count to another (both sides counted: both
# category ids are set, so plain comparisons suffice; the counted conditions are never NULL).
_MOVES = (
    f"(({counted('old')}) <> ({counted('new')})) OR (({counted('new')}) AND "
    "(old.category_id <> new.category_id OR old.client_id <> new.client_id))"
)
_UPDATE_COLUMNS = "status, published_at, category_id, client_id"


# The increment of an upsert (the table named, not aliased: SQLite's triggers allow no alias).
_ADD_EXCLUDED = (
    "ON CONFLICT (client_id, category_id) "
    f"DO UPDATE SET published_count = {TABLE}.published_count + excluded.published_count"
)


def _add_one(row: str) -> str:
    """The upsert that adds one to the count of ``row``'s category."""
    return (
        f"INSERT INTO {TABLE} (client_id, category_id, published_count) "
        f"VALUES ({row}.client_id, {row}.category_id, 1) {_ADD_EXCLUDED}"
    )


def _subtract_one(row: str, *, only_if: str | None = None) -> str:
    """The update that takes one from the count of ``row``'s category (when ``only_if``)."""
    condition = f" AND {only_if}" if only_if else ""
    return (
        f"UPDATE {TABLE} SET published_count = published_count - 1 "
        f"WHERE client_id = {row}.client_id AND category_id = {row}.category_id{condition}"
    )


# --- PostgreSQL -------------------------------------------------------------------------------

_PG_FUNCTIONS = {
    "stvos_category_counts_inserted": f"""
        BEGIN
            INSERT INTO {TABLE} (client_id, category_id, published_count)
            SELECT client_id, category_id, count(*) FROM inserted_classes AS c
            WHERE {counted("c")}
            GROUP BY client_id, category_id
            ORDER BY client_id, category_id
            {_ADD_EXCLUDED};
            RETURN NULL;
        END
    """,
    "stvos_category_counts_deleted": f"""
        BEGIN
            UPDATE {TABLE} AS counts SET published_count = counts.published_count - gone.n
            FROM (
                SELECT client_id, category_id, count(*) AS n FROM deleted_classes AS c
                WHERE {counted("c")}
                GROUP BY client_id, category_id
            ) AS gone
            WHERE counts.client_id = gone.client_id AND counts.category_id = gone.category_id;
            RETURN NULL;
        END
    """,
    "stvos_category_counts_updated": f"""
        BEGIN
            IF {counted("OLD")} THEN
                {_subtract_one("OLD")};
            END IF;
            IF {counted("NEW")} THEN
                {_add_one("NEW")};
            END IF;
            RETURN NULL;
        END
    """,
    # Emptied with DELETE (a TRUNCATE of both tables in one command, as the test harness does,
    # leaves the counts in use). Only the owner (or a superuser) may TRUNCATE the classes, and
    # FORCE row-level security binds the owner too: the delete declares the platform scope for
    # itself and puts the transaction's declaration back.
    "stvos_category_counts_truncated": f"""
        DECLARE
            declared text := coalesce(current_setting('stvos.platform', true), '');
        BEGIN
            PERFORM set_config('stvos.platform', 'on', true);
            DELETE FROM {TABLE};
            PERFORM set_config('stvos.platform', declared, true);
            RETURN NULL;
        END
    """,
}

_PG_TRIGGERS = {
    "category_counts_after_insert": (
        f"AFTER INSERT ON {CLASSES} REFERENCING NEW TABLE AS inserted_classes "
        "FOR EACH STATEMENT EXECUTE FUNCTION stvos_category_counts_inserted()"
    ),
    "category_counts_after_delete": (
        f"AFTER DELETE ON {CLASSES} REFERENCING OLD TABLE AS deleted_classes "
        "FOR EACH STATEMENT EXECUTE FUNCTION stvos_category_counts_deleted()"
    ),
    "category_counts_after_update": (
        f"AFTER UPDATE OF {_UPDATE_COLUMNS} ON {CLASSES} FOR EACH ROW "
        f"WHEN ({_MOVES}) EXECUTE FUNCTION stvos_category_counts_updated()"
    ),
    "category_counts_after_truncate": (
        f"AFTER TRUNCATE ON {CLASSES} "
        "FOR EACH STATEMENT EXECUTE FUNCTION stvos_category_counts_truncated()"
    ),
}


def _create_pg_triggers() -> None:
    for name, body in _PG_FUNCTIONS.items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$"
        )
    for name, definition in _PG_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {definition}")


def _drop_pg_triggers() -> None:
    for name in _PG_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {CLASSES}")
    for name in _PG_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")


# --- SQLite -----------------------------------------------------------------------------------

_SQLITE_TRIGGERS = {
    "category_counts_ai": (
        f"AFTER INSERT ON {CLASSES} WHEN {counted('new')} BEGIN {_add_one('new')}; END"
    ),
    "category_counts_ad": (
        f"AFTER DELETE ON {CLASSES} WHEN {counted('old')} BEGIN {_subtract_one('old')}; END"
    ),
    # SQLite's trigger body has no IF: each side is conditional in its own WHERE (the upsert
    # selects its one row WHERE the new class counts).
    "category_counts_au": (
        f"AFTER UPDATE OF {_UPDATE_COLUMNS} ON {CLASSES} WHEN {_MOVES} BEGIN "
        f"{_subtract_one('old', only_if=counted('old'))}; "
        f"INSERT INTO {TABLE} (client_id, category_id, published_count) "
        f"SELECT new.client_id, new.category_id, 1 WHERE {counted('new')} {_ADD_EXCLUDED}; END"
    ),
}


def _create_sqlite_triggers() -> None:
    for name, definition in _SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {definition}")


def _drop_sqlite_triggers() -> None:
    for name in _SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


# --- the migration ----------------------------------------------------------------------------


def _backfill(is_postgres: bool) -> None:
    if is_postgres:  # the owner is bound by FORCE row-level security: count in platform scope
        op.execute("SELECT set_config('stvos.platform', 'on', true)")
    op.execute(
        f"INSERT INTO {TABLE} (client_id, category_id, published_count) "
        f"SELECT client_id, category_id, count(*) FROM {CLASSES} AS c WHERE {counted('c')} "
        "GROUP BY client_id, category_id"
    )
    if is_postgres:
        op.execute("SELECT set_config('stvos.platform', '', true)")


def upgrade(app_role: str | None = None) -> None:
    op.create_table(
        TABLE,
        sa.Column("category_id", BigId, nullable=False),
        sa.Column("published_count", sa.Integer(), nullable=False),
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id", "category_id"],
            ["categories.client_id", "categories.id"],
            name=op.f("fk_category_class_counts_client_id_category_id_categories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_category_class_counts_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_class_counts")),
        sa.UniqueConstraint(
            "client_id", "category_id", name=op.f("uq_category_class_counts_client_id_category_id")
        ),
    )
    rls.grant_tables(app_role, TABLE)
    rls.protect_tenant_table(TABLE)
    is_postgres = op.get_bind().dialect.name == "postgresql"
    if is_postgres:
        _create_pg_triggers()
    else:
        _create_sqlite_triggers()
    _backfill(is_postgres)


def downgrade(app_role: str | None = None) -> None:
    if op.get_bind().dialect.name == "postgresql":
        _drop_pg_triggers()
    else:
        _drop_sqlite_triggers()
    rls.unprotect(TABLE)
    op.drop_table(TABLE)
