"""argon2id password hashing (OWASP parameters), off the event loop."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
_MMAP_FROM_BYTES = 1 << 20


def _return_hash_memory_to_the_system() -> bool:
    """glibc: serve allocations of 1 MiB and more (each hash's 19 MiB) with their own mappings,
    unmapped when freed. By default glibc raises that threshold after the first such free, and
    later hashes come from each thread's heap, which keeps the memory: a worker that had served
    logins stayed ~40-90 MB larger (bench/: peak RSS 212 MB in the login scenario against 173).
    A fixed threshold also stops that adjustment. Elsewhere (musl, macOS), nothing to do."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_FROM_BYTES))
    except (OSError, AttributeError):
        return False


_return_hash_memory_to_the_system()


# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, hash_len=32, salt_len=16)
MIN_LENGTH = 8
MAX_LENGTH = 128

# Verified when an account does not exist, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("stvos-timing-equaliser")

# Each hash takes 19 MiB and a core's worth of CPU: running more at once than there are cores
# gains nothing and multiplies a worker's memory (every thread keeps its own allocator arena).
# A pool of one thread per core bounds both; the rest queue.
_HASHING = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="argon2")
T = TypeVar("T")


async def _off_loop(work: Callable[..., T], *args: str) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, work, *args)


async def hash_password(password: str) -> str:
    return await _off_loop(_hasher.hash, password)


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing account still spends the same time."""
    ok = await _off_loop(_verify, stored_hash or _DUMMY_HASH, password)
    return ok and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def unusable_hash() -> str:
    """A value no password verifies against (erased accounts)."""
    return "!erased"
