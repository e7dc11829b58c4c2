"""Per-API-key rate limiting: a sustained rate per minute plus a burst allowance.

"100/minute with a burst of 20" is enforced as two moving windows from the ``limits``
library: at most ``per_minute`` requests in any 60 seconds, and at most ``burst`` requests in
any ``60 * burst / per_minute`` seconds (the time the sustained rate takes to earn a full burst
back). Counters live in process memory by default and in Redis when ``STVOS_REDIS_URL`` is set,
so several workers or hosts share one budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

_NAMESPACE = "stvos-rl"


@dataclass(frozen=True, slots=True)
class Quota:
    per_minute: int
    burst: int

    def windows(self) -> tuple[RateLimitItem, RateLimitItem]:
        burst = min(self.burst, self.per_minute)
        burst_seconds = max(1, math.ceil(60 * burst / self.per_minute))
        return (
            RateLimitItemPerSecond(self.per_minute, 60, namespace=_NAMESPACE),
            RateLimitItemPerSecond(burst, burst_seconds, namespace=_NAMESPACE),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset_seconds))
        return headers


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self.storage: Storage
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            self.storage = RedisStorage(uri, implementation="redispy")
        else:
            self.storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self.storage)

    @property
    def backend(self) -> str:
        return "redis" if isinstance(self.storage, RedisStorage) else "memory"

    async def hit(self, identity: str, quota: Quota) -> Decision:
        """Count one request against ``identity``; say whether it may proceed."""
        sustained, burst = quota.windows()
        # A refused request spends nothing, or a client retrying through its 429s would use up
        # the minute window with refusals and push its own Retry-After back (a burst refusal
        # used to spend a minute slot). So: check the minute window without spending, take a
        # burst slot (a refusal there spends nothing), then the minute slot. Only a race with
        # another worker between the check and the last hit can still waste one burst slot.
        allowed = (
            await self._limiter.test(sustained, identity)
            and await self._limiter.hit(burst, identity)
            and await self._limiter.hit(sustained, identity)
        )
        now = time.time()  # the limits library keeps its windows on the epoch clock
        sustained_stats = await self._limiter.get_window_stats(sustained, identity)
        burst_stats = await self._limiter.get_window_stats(burst, identity)
        exhausted = [s.reset_time for s in (sustained_stats, burst_stats) if s.remaining <= 0]
        reset_at = max(exhausted) if exhausted else sustained_stats.reset_time
        return Decision(
            allowed=allowed,
            limit=quota.per_minute,
            remaining=max(0, min(sustained_stats.remaining, burst_stats.remaining)),
            reset_seconds=max(0, math.ceil(reset_at - now)),
        )

    async def hit_window(self, identity: str, *, limit: int, seconds: int) -> Decision:
        """Count one attempt in a single moving window (sign-in and recovery throttles)."""
        item = RateLimitItemPerSecond(limit, seconds, namespace=_NAMESPACE)
        allowed = await self._limiter.hit(item, identity)
        stats = await self._limiter.get_window_stats(item, identity)
        return Decision(
            allowed=allowed,
            limit=limit,
            remaining=max(0, stats.remaining),
            reset_seconds=max(0, math.ceil(stats.reset_time - time.time())),
        )

    async def aclose(self) -> None:
        """Close the Redis connections (at shutdown); the memory store holds none."""
        if isinstance(self.storage, RedisStorage):
            # limits keeps the redis-py client on its bridge and offers no close of its own.
            client = getattr(self.storage.bridge, "storage", None)
            if client is not None:
                await client.aclose()

    async def reset(self) -> None:
        """Forget every counter (tests, and an operator's escape hatch)."""
        await self.storage.reset()
