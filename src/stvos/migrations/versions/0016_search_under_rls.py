"""Content search uses its GIN index under row-level security: a SECURITY DEFINER function.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

PostgreSQL only. For the application role, ``@@`` (``ts_match_vq``, not leakproof) may not run
before the tenant policy, so the planner cannot use the GIN index on ``search_vector`` and
filters every published class of the client instead (0.1 s at 100,000 classes, even for a word
that matches nothing). Marking ``ts_match_vq`` leakproof would need a superuser and would change
it for every table; turning row security off for the table is out of the question.

``stvos_search_classes(query, as_of, skip, take)`` runs the search as a role that row security
does not bind, so the index delivers the matches. It applies the tenant rule itself: only the
classes of the client the transaction declared (``stvos_client_id()``; it takes no client
argument, so a caller cannot ask for another one, and with no client declared it returns
nothing), published at ``as_of``, matching ``query``. It returns one page, best first (rank,
then newest, then highest id; ranked by ``ts_rank_cd`` with the weights of
``stvos.content.search``), each row with the number of matches; a page past the end returns one
row with no class, only that number. The application joins the rows back to
``on_demand_classes`` under row security and its tenant filter, so even a wrong answer of this
function cannot show another client's class (see ``stvos.content.search``).

The body is dynamic SQL with the values as parameters (``EXECUTE ... USING``): each call is
planned for its client and its query, so a small client of a large table starts from its
``client_id`` index and a large one from the GIN index. ``search_path`` is fixed and every name
qualified, as a SECURITY DEFINER function must.

Who owns it (the role whose rights it runs with):

* migrating as a superuser: a dedicated role ``stvos_search`` (NOLOGIN, BYPASSRLS) that may do
  nothing but read ``on_demand_classes``; created here when missing (roles are per cluster);
* migrating as a non-superuser with BYPASSRLS: that role;
* otherwise (e.g. a managed service's owner role without BYPASSRLS): the migrating role. Row
  security then binds the function as well, which is still correct, and the application,
  which checks the owner, keeps using the plain query (``stvos.content.search``). A superuser
  can enable the index later with ``ALTER FUNCTION stvos_search_classes(tsquery, timestamptz,
  integer, integer) OWNER TO`` a role with BYPASSRLS and SELECT on ``on_demand_classes``.

Only the application role (or, without one, the migrating role) may execute it.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from stvos.migrations import rls

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

FUNCTION = "stvos_search_classes"
ARGUMENTS = "tsquery, timestamptz, integer, integer"
OWNER_ROLE = "stvos_search"
TABLE = "on_demand_classes"

# $1 client, $2 query, $3 as_of, $4 skip, $5 take. The ranking weights and the order are those
# of stvos.content.search (the filtered query it falls back to must give the same answer).
_SEARCH_SQL = """
        WITH hits AS MATERIALIZED (
            SELECT c.id, c.published_at,
                   pg_catalog.ts_rank_cd('{{0.1, 0.1, 0.5, 1.0}}'::float4[], c.search_vector, $2)
                       AS rank
            FROM {schema}.on_demand_classes AS c
            WHERE c.client_id = $1
              AND c.status = 'published'
              AND c.published_at IS NOT NULL
              AND c.published_at <= $3
              AND c.search_vector @@ $2
        )
        SELECT page.id, page.rank, counted.total
        FROM (SELECT count(*) AS total FROM hits) AS counted
        LEFT JOIN LATERAL (
            SELECT h.id, h.rank FROM hits AS h
            ORDER BY h.rank DESC, h.published_at DESC, h.id DESC
            OFFSET $4 LIMIT $5
        ) AS page ON true
"""

_CREATE = """
CREATE OR REPLACE FUNCTION {schema}.{function}(
    query tsquery, as_of timestamptz, skip integer, take integer
)
RETURNS TABLE (class_id bigint, rank real, total bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
ROWS 100
AS $fn$
DECLARE
    client bigint := {schema}.stvos_client_id();
BEGIN
    IF client IS NULL OR query IS NULL OR as_of IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $sql${search}$sql$
        USING client, query, as_of, greatest(skip, 0), greatest(take, 0);
END
$fn$
"""


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _schema() -> str:
    return rls.checked_identifier(str(op.get_bind().scalar(sa.text("SELECT current_schema()"))))


def _signature(schema: str) -> str:
    return f"{schema}.{FUNCTION}({ARGUMENTS})"


def upgrade(app_role: str | None = None) -> None:
    if not _is_postgres():
        return
    bind = op.get_bind()
    schema = _schema()
    signature = _signature(schema)
    op.execute(
        _CREATE.format(schema=schema, function=FUNCTION, search=_SEARCH_SQL.format(schema=schema))
    )
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    me, is_superuser, bypasses_rls = bind.execute(
        sa.text(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_catalog.pg_roles "
            "WHERE rolname = current_user"
        )
    ).one()
    caller = f'"{rls.checked_identifier(app_role)}"' if app_role else "CURRENT_USER"
    op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {caller}")
    if is_superuser:
        op.execute(
            f"""
            DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '{OWNER_ROLE}')
                THEN
                    CREATE ROLE "{OWNER_ROLE}" NOLOGIN NOINHERIT BYPASSRLS;
                END IF;
            END $$
            """
        )
        op.execute(f'ALTER ROLE "{OWNER_ROLE}" NOLOGIN NOSUPERUSER BYPASSRLS')
        op.execute(f'GRANT USAGE ON SCHEMA {schema} TO "{OWNER_ROLE}"')
        op.execute(f'GRANT SELECT ON {schema}.{TABLE} TO "{OWNER_ROLE}"')
        op.execute(f'ALTER FUNCTION {signature} OWNER TO "{OWNER_ROLE}"')
    elif not bypasses_rls:
        log.warning(
            "%s is owned by %s, which row-level security binds: content search will not use "
            "its index until a superuser makes a role with BYPASSRLS (and SELECT on %s) its "
            "owner",
            signature,
            me,
            TABLE,
        )


def downgrade(app_role: str | None = None) -> None:
    if not _is_postgres():
        return
    schema = _schema()
    op.execute(f"DROP FUNCTION IF EXISTS {_signature(schema)}")
    # The role stays (it is per cluster, as the application role is); its rights here go.
    op.execute(
        f"""
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
                REVOKE ALL ON {schema}.{TABLE} FROM "{OWNER_ROLE}";
                REVOKE ALL ON SCHEMA {schema} FROM "{OWNER_ROLE}";
            END IF;
        END $$
        """
    )
