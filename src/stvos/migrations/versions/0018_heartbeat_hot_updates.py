"""The heartbeat's updates stay on their page: no index over a column it changes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05

Every heartbeat updates its playback session (``last_heartbeat_at``, position, credited
seconds) and its class progress (``last_watched_at``, coverage, resume position). Two indexes
covered a changed column: ``playback_sessions (status, last_heartbeat_at)`` and
``class_progress (client_id, user_id, last_watched_at)``. So PostgreSQL could never update those
rows in place (a HOT update): each heartbeat wrote a new row version *and* an entry into every
index of both tables (seven), which also bloats the indexes until vacuum catches up. Measured
on PostgreSQL 15 (bench/, one worker, 16 clients): 0 % of session updates and 0.1 % of progress
updates were HOT; WAL per heartbeat ~1,100 bytes. After this migration: ~96 % HOT, ~500 bytes.

* The idle-session sweep (``status = 'active' AND last_heartbeat_at < cutoff``) reads a partial
  index of the active sessions (``status`` never changes on a heartbeat; the active sessions are
  the ones being watched, a small set) and checks each one's last heartbeat.
* Continue watching reads a member's progress rows by the unique ``(client_id, user_id,
  class_id)`` key and sorts them (one member's rows: tens to hundreds).
* PostgreSQL: both tables keep 15 % of each page free (``fillfactor = 85``) so that the new
  row version of an update has room beside the old one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_ACTIVE = sa.text("status = 'active'")


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade(app_role: str | None = None) -> None:
    op.create_index(
        "ix_playback_sessions_active",
        "playback_sessions",
        ["id"],
        postgresql_where=_ACTIVE,
        sqlite_where=_ACTIVE,
    )
    op.drop_index("ix_playback_sessions_status_last_heartbeat_at", table_name="playback_sessions")
    op.drop_index(
        "ix_class_progress_client_id_user_id_last_watched_at", table_name="class_progress"
    )
    if _is_postgres():
        op.execute("ALTER TABLE playback_sessions SET (fillfactor = 85)")
        op.execute("ALTER TABLE class_progress SET (fillfactor = 85)")


def downgrade(app_role: str | None = None) -> None:
    if _is_postgres():
        op.execute("ALTER TABLE class_progress RESET (fillfactor)")
        op.execute("ALTER TABLE playback_sessions RESET (fillfactor)")
    op.create_index(
        "ix_class_progress_client_id_user_id_last_watched_at",
        "class_progress",
        ["client_id", "user_id", "last_watched_at"],
    )
    op.create_index(
        "ix_playback_sessions_status_last_heartbeat_at",
        "playback_sessions",
        ["status", "last_heartbeat_at"],
    )
    op.drop_index("ix_playback_sessions_active", table_name="playback_sessions")
