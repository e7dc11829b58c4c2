"""Brute-force throttles: stricter than the API-key rate limit, per account and per client."""

from __future__ import annotations

from stvos.accounts.errors import TooManyAttempts
from stvos.config import Settings
from stvos.kit.ratelimit import RateLimiter

_LOGIN_ACCOUNT_WINDOW = 15 * 60
_RECOVERY_ACCOUNT_WINDOW = 60 * 60


async def _check(limiter: RateLimiter, identity: str, limit: int, seconds: int) -> None:
    decision = await limiter.hit_window(identity, limit=limit, seconds=seconds)
    if not decision.allowed:
        wait = max(1, decision.reset_seconds)
        raise TooManyAttempts(
            f"Too many attempts; try again in {wait} s", headers={"Retry-After": str(wait)}
        )


async def sign_in(limiter: RateLimiter, settings: Settings, *, realm: str, account: str) -> None:
    """One sign-in attempt for ``account`` (an email) within ``realm`` (a client, partners)."""
    auth = settings.auth
    await _check(limiter, f"login:{realm}", auth.login_per_client, 60)
    await _check(limiter, f"login:{realm}:{account}", auth.login_per_account, _LOGIN_ACCOUNT_WINDOW)


async def recovery(limiter: RateLimiter, settings: Settings, *, realm: str, account: str) -> None:
    """One password-recovery attempt (forgot / reset / voucher checks) for ``account``."""
    auth = settings.auth
    await _check(limiter, f"recover:{realm}", auth.recovery_per_client, 60)
    await _check(
        limiter, f"recover:{realm}:{account}", auth.recovery_per_account, _RECOVERY_ACCOUNT_WINDOW
    )
