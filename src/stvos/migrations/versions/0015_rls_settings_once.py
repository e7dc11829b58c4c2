"""Row-level security reads the tenant settings once per statement, not once per row.

The policies compared each row with ``stvos_client_id()`` (and asked ``stvos_platform()``): a
function call per row, which an exact count over 100k classes pays 100k times (about 20 ms of a
discover at that size). Wrapped in a scalar sub-select, ``(SELECT stvos_client_id())``, the
value becomes an init plan computed once per statement; the rows compared and the answer are the
same (the settings cannot change inside a statement: they are declared at the transaction's
start). Every existing policy is rewritten in place; rls.py writes new ones this way.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_CALLS = ("stvos_client_id()", "stvos_platform()")


def _wrap(expression: str) -> str:
    for call in _CALLS:
        # Only bare calls: one already inside a sub-select stays as it is.
        expression = re.sub(rf"(?<!SELECT ){re.escape(call)}", f"(SELECT {call})", expression)
    return expression


def _unwrap(expression: str) -> str:
    for call in _CALLS:
        name = call.removesuffix("()")
        # PostgreSQL prints a stored sub-select as "( SELECT f() AS f)".
        expression = re.sub(rf"\(\s*SELECT {re.escape(call)}(?: AS {name})?\)", call, expression)
    return expression


def _rewrite(change: Callable[[str], str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    policies = op.get_bind().execute(
        sa.text(
            "SELECT tablename, policyname, qual, with_check FROM pg_policies "
            "WHERE schemaname = current_schema() "
            "AND (qual LIKE '%stvos_%' OR with_check LIKE '%stvos_%')"
        )
    )
    for table, policy, qual, check in policies:
        clauses = []
        if qual is not None:
            clauses.append(f"USING ({change(qual)})")
        if check is not None:
            clauses.append(f"WITH CHECK ({change(check)})")
        op.execute(f'ALTER POLICY "{policy}" ON "{table}" {" ".join(clauses)}')


def upgrade(app_role: str | None = None) -> None:
    _rewrite(_wrap)


def downgrade(app_role: str | None = None) -> None:
    _rewrite(_unwrap)
