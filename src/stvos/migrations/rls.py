"""PostgreSQL row-level security, the last line of tenant isolation.

Each tenant table gets a policy that admits a row only when its ``client_id`` is the client the
transaction declared (``set_config('stvos.client_id', ...)``, see ``stvos.kit.db``) or when the
transaction declared the platform scope. With neither, a query sees nothing and an insert
fails. ``FORCE`` applies the policies to the table owner too; the application additionally
switches to a role that owns nothing. Every function here is a no-op on SQLite.

Table and role names come from the migration files and the validated ``app_role`` setting,
never from user input, and are checked as plain identifiers before use.
"""

from __future__ import annotations

import re

from alembic import op

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def checked_identifier(name: str) -> str:
    """``name`` when it is a plain SQL identifier (safe to splice into DDL), else ValueError."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


# Wrapped in a sub-select so that a policy computes each once per statement (an init plan), not
# once per row (see migration 0015).
CLIENT_ID_FN = "(SELECT stvos_client_id())"
PLATFORM_FN = "(SELECT stvos_platform())"


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def install_functions() -> None:
    if not _is_postgres():
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION stvos_client_id() RETURNS bigint
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $$ SELECT NULLIF(current_setting('stvos.client_id', true), '')::bigint $$
        """
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION stvos_platform() RETURNS boolean
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $$ SELECT coalesce(current_setting('stvos.platform', true), '') = 'on' $$
        """
    )


def drop_functions() -> None:
    if not _is_postgres():
        return
    op.execute("DROP FUNCTION IF EXISTS stvos_client_id()")
    op.execute("DROP FUNCTION IF EXISTS stvos_platform()")


def _protect(table: str, condition: str) -> None:
    table = checked_identifier(table)
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY {table}_isolation ON {table} USING ({condition}) WITH CHECK ({condition})"
    )


def protect_tenant_table(table: str) -> None:
    """Rows visible and writable only for their own client (or the platform scope)."""
    if _is_postgres():
        _protect(table, f"{PLATFORM_FN} OR client_id = {CLIENT_ID_FN}")


def protect_clients_table(table: str = "clients") -> None:
    """A client scope sees its own client row; the platform scope sees all."""
    if _is_postgres():
        _protect(table, f"{PLATFORM_FN} OR id = {CLIENT_ID_FN}")


def protect_platform_table(table: str) -> None:
    """Only the platform scope may read or write."""
    if _is_postgres():
        _protect(table, PLATFORM_FN)


def protect_shared_table(table: str) -> None:
    """Platform data every client reads (e.g. platform categories); only the platform writes."""
    if not _is_postgres():
        return
    table = checked_identifier(table)
    _protect(table, PLATFORM_FN)
    op.execute(f"CREATE POLICY {table}_read ON {table} FOR SELECT USING (true)")


def unprotect(table: str) -> None:
    if _is_postgres():
        op.execute(f"DROP POLICY IF EXISTS {table}_read ON {table}")
        op.execute(f"DROP POLICY IF EXISTS {table}_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def create_app_role(role: str | None) -> None:
    """The role the application runs as: owns nothing, so row-level security binds it."""
    if not role or not _is_postgres():
        return
    role = checked_identifier(role)
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE "{role}" NOLOGIN NOSUPERUSER NOBYPASSRLS;
            END IF;
        END $$
        """
    )
    # The login role must be a member to SET ROLE (superusers always may).
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
                EXECUTE format('GRANT %I TO %I', '{role}', current_user);
            END IF;
        END $$
        """
    )
    op.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{role}"'
    )
    op.execute(
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "{role}"'
    )


def grant_tables(role: str | None, *tables: str) -> None:
    """Grant the app role its rights on tables (and their id sequences)."""
    if not role or not _is_postgres():
        return
    role = checked_identifier(role)
    for table in map(checked_identifier, tables):
        op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO "{role}"')
    op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
