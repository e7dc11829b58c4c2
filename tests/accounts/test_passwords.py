"""argon2id hashing runs off the event loop, at most one hash per core at a time."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
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


_MEMORY_PROBE = """
import asyncio
from stvos.accounts import passwords

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

async def main():
    before = rss_kib()
    for _ in range(3):
        await asyncio.gather(*(passwords.hash_password("correct horse") for _ in range(8)))
    print(rss_kib() - before)

asyncio.run(main())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_hashing_gives_its_memory_back() -> None:
    # In a fresh process: a worker's allocator state is what is measured. Each hash's 19 MiB
    # must be returned when it is done, not kept by the hashing threads' heaps.
    probe = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _MEMORY_PROBE], capture_output=True, text=True, check=True
    )
    grown_kib = int(probe.stdout.strip())
    assert grown_kib < 10 * 1024, f"the process kept {grown_kib} KiB after hashing"
