"""argon2id password hashing (OWASP parameters), off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, hash_len=32, salt_len=16)
MIN_LENGTH = 8
MAX_LENGTH = 128

# Verified when an account does not exist, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("stvos-timing-equaliser")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing account still spends the same time."""
    ok = await asyncio.to_thread(_verify, stored_hash or _DUMMY_HASH, password)
    return ok and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def unusable_hash() -> str:
    """A value no password verifies against (erased accounts)."""
    return "!erased"
