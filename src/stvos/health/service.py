"""Health figures: uptime, database round trip, rate-limit store, memory."""

from __future__ import annotations

import asyncio
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

from stvos.config import Settings
from stvos.kit.clock import isoformat_z, utcnow
from stvos.kit.db import Database
from stvos.kit.ratelimit import RateLimiter

_PROBE_TIMEOUT_SECONDS = 2.0


def summary(settings: Settings, started_monotonic: float) -> dict[str, Any]:
    return {
        "status": "ok",
        "timestamp": isoformat_z(utcnow()),
        "uptime": round(time.monotonic() - started_monotonic, 3),
        "version": settings.version,
        "environment": settings.environment,
    }


async def _probe(check: Any, backend: str) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), _PROBE_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure means "down"; the reason is reported, not raised
        return {"status": "down", "backend": backend, "error": type(exc).__name__}
    return {
        "status": "ok",
        "backend": backend,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }


def _rss_bytes() -> int:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def detailed(
    settings: Settings, started_monotonic: float, db: Database, limiter: RateLimiter
) -> dict[str, Any]:
    database = await _probe(db.ping, db.engine.dialect.name)
    limiter_health = await _probe(limiter.storage.check, limiter.backend)
    if limiter_health["status"] == "ok" and limiter.backend == "memory":
        limiter_health.pop("latency_ms", None)
    result = summary(settings, started_monotonic)
    if database["status"] != "ok" or limiter_health["status"] != "ok":
        result["status"] = "degraded"
    max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result |= {
        "database": database,
        "rate_limiter": limiter_health,
        "memory": {"rss_bytes": _rss_bytes(), "max_rss_bytes": max_rss_kib * 1024},
        "runtime": {
            "python": sys.version.split()[0],
            "platform": platform.platform(terse=True),
            "pid": os.getpid(),
        },
    }
    return result
