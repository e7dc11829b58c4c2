"""Brute-force throttles: stricter than the API-key rate limit, per account and per client."""

from __future__ import annotations

from stvos.accounts.errors import TooManyAttempts
from stvos.config import Settings
from stvos.kit.ratelimit import RateLimiter

_LOGIN_ACCOUNT_WINDOW = 15 * 60
_RECOVERY_ACCOUNT_WINDOW = 60 * 60
_VOUCHER_ADDRESS_WINDOW = 15 * 60


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
    """One password-recovery attempt (forgot / reset) for ``account``."""
    auth = settings.auth
    await _check(limiter, f"recover:{realm}", auth.recovery_per_client, 60)
    await _check(
        limiter, f"recover:{realm}:{account}", auth.recovery_per_account, _RECOVERY_ACCOUNT_WINDOW
    )


async def voucher_check(
    limiter: RateLimiter, settings: Settings, *, address: str, client_id: int | None = None
) -> None:
    """One look-up of a voucher code (validate, join page): an oracle for guessing codes.

    Per address over 15 minutes, loose enough for a whole office signing up from one network
    and tight enough to make guessing among ~10^9 codes per prefix hopeless; per client per
    minute as well when the client is known (the public join page has none).
    """
    auth = settings.auth
    if client_id is not None:
        await _check(limiter, f"voucher:c{client_id}", auth.voucher_checks_per_client, 60)
    await _check(
        limiter, f"voucher:{address}", auth.voucher_checks_per_address, _VOUCHER_ADDRESS_WINDOW
    )
