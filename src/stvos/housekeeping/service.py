"""Deleting what has expired: idempotency records, reset links, refresh tokens, onboarding.

Runs in the platform scope (it spans clients). Every delete is bounded by ``expires_at``, so
running it from several processes at once is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy import delete
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


class Housekeeper:
    """Runs :func:`purge_expired` every ``interval`` in the background of a server process."""

    def __init__(self, database: Database, interval: timedelta) -> None:
        self.db = database
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> dict[str, int]:
        async with self.db.transaction(TenantScope.for_platform()) as session:
            counts = await purge_expired(session)
        if any(counts.values()):
            log.info("purged expired rows", extra={"purged": counts})
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
