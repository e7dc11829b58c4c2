"""argon2id hashing runs off the event loop, at most one hash per core at a time."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from stvos.accounts import passwords


async def test_a_hash_verifies_and_a_wrong_password_does_not() -> None:
    stored = await passwords.hash_password("correct-horse-battery")
    assert await passwords.verify_password(stored, "correct-horse-battery")
    assert not await passwords.verify_password(stored, "wrong-horse-battery")
    # A missing account spends the same work and never verifies.
    assert not await passwords.verify_password(None, "correct-horse-battery")


async def test_no_more_hashes_run_at_once_than_there_are_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each hash holds 19 MiB: a burst of sign-ins must queue, not multiply a worker's memory.
    lock = threading.Lock()
    running, most = 0, 0

    def slow_verify(stored_hash: str, password: str) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return True

    monkeypatch.setattr(passwords, "_verify", slow_verify)
    await asyncio.gather(*(passwords.verify_password("h", "p") for _ in range(24)))
    assert 1 <= most <= (os.cpu_count() or 2)
