"""Deleting what has expired: idempotency records, reset links, refresh tokens, onboarding;
and, on SQLite, keeping the query planner's statistics fresh.

Runs in the platform scope (it spans clients). Every delete is bounded by ``expires_at``, so
running it from several processes at once is harmless.

SQLite keeps no planner statistics unless told to (``ANALYZE``), and without them it misjudges
some plans by orders of magnitude (discover's continue watching at 100,000 classes: ~70 ms without
statistics, 0.06 ms with them). Each round therefore runs ``PRAGMA optimize``, SQLite's
recommended periodic refresh for long-lived connections: it re-analyses only the tables whose
statistics are missing or stale, usually none. The mask ``0x10002`` (analyse; and check every
table, not only those this connection used: SQLite 3.46 and later, older versions look at the
tables the pooled connection has served) is the one SQLite's documentation gives for
long-running connections; ``analysis_limit`` bounds each index's analysis so a round stays short
on a large library, on any SQLite version. A connection reads the statistics when it loads the
schema, so new statistics reach only the connection that made them; when a round analysed
anything it also makes a schema change (a view created and dropped), on which every other
pooled connection reloads the schema, statistics included, before its next statement (a few
milliseconds each, once per round that changed any statistics).
PostgreSQL's autovacuum analyses by itself: nothing to do there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.clock import utcnow
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import (
    IdempotencyRecord,
    OnboardingSession,
    PasswordResetToken,
    RefreshToken,
)
from stvos.models.idempotency import PlatformIdempotencyRecord
from stvos.playback.service import close_idle_sessions

log = logging.getLogger("stvos.housekeeping")

# Expired refresh tokens are kept a little while, so that presenting one still says "expired"
# in logs and support tools rather than "unknown".
REFRESH_TOKEN_GRACE = timedelta(days=7)

SQLITE_ANALYSIS_LIMIT = 1000  # rows per index an ANALYZE looks at (SQLite suggests 100-1000)
SQLITE_OPTIMIZE = "PRAGMA optimize=0x10002"
_RELOAD_VIEW = "stvos_statistics_reload"  # a schema change: every connection reloads


async def purge_expired(session: AsyncSession) -> dict[str, int]:
    """Delete expired rows; answers how many of each kind went."""
    now = utcnow()
    plan = {
        "idempotency_records": delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now),
        "platform_idempotency_records": delete(PlatformIdempotencyRecord).where(
            PlatformIdempotencyRecord.expires_at <= now
        ),
        "password_reset_tokens": delete(PasswordResetToken).where(
            PasswordResetToken.expires_at <= now
        ),
        "refresh_tokens": delete(RefreshToken).where(
            RefreshToken.expires_at <= now - REFRESH_TOKEN_GRACE
        ),
        "onboarding_sessions": delete(OnboardingSession).where(OnboardingSession.expires_at <= now),
    }
    counts: dict[str, int] = {"idle_playback_sessions_closed": await close_idle_sessions(session)}
    for name, statement in plan.items():
        result = await session.execute(statement.execution_options(synchronize_session=False))
        counts[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return counts


async def _statistics(session: AsyncSession) -> set[tuple[str, str | None, str]]:
    """SQLite's planner statistics as they stand (none before the first analysis)."""
    if not await session.scalar(
        text("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'")
    ):
        return set()
    rows = await session.execute(text("SELECT tbl, idx, stat FROM sqlite_stat1"))
    return {(tbl, idx, stat) for tbl, idx, stat in rows}


async def refresh_statistics(session: AsyncSession) -> list[str]:
    """SQLite: re-analyse the tables whose planner statistics are missing or stale, and have
    every connection reload them when they changed (see the module's notes). Answers the tables
    whose statistics changed: none when nothing was stale, and always none on PostgreSQL."""
    if session.get_bind().dialect.name != "sqlite":
        return []
    before = await _statistics(session)
    await session.execute(text(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}"))
    await session.execute(text(SQLITE_OPTIMIZE))
    changed = before ^ await _statistics(session)
    if not changed:  # (an empty table is analysed every time, and gets no statistics)
        return []
    await session.execute(text(f"CREATE VIEW {_RELOAD_VIEW} AS SELECT 1"))
    await session.execute(text(f"DROP VIEW {_RELOAD_VIEW}"))
    return sorted({table for table, _, _ in changed})


class Housekeeper:
    """Runs :func:`purge_expired` (and, on SQLite, :func:`refresh_statistics`) every
    ``interval`` in the background of a server process."""

    def __init__(self, database: Database, interval: timedelta) -> None:
        self.db = database
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> dict[str, int]:
        async with self.db.transaction(TenantScope.for_platform()) as session:
            counts = await purge_expired(session)
        if any(counts.values()):
            log.info("purged expired rows", extra={"purged": counts})
        if self.db.is_sqlite:
            async with self.db.transaction(TenantScope.for_platform()) as session:
                analysed = await refresh_statistics(session)
            if analysed:
                log.info("refreshed planner statistics", extra={"analysed": analysed})
        return counts

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="stvos-housekeeping")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval.total_seconds())
            try:
                await self.run_once()
            except Exception:
                log.exception("housekeeping failed; trying again next round")
