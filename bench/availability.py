"""Benchmark: a trainer's 30-day availability, against ``/health`` in the same process.

Builds a fresh database (SQLite, or a scratch PostgreSQL database with ``--database postgres``)
with the demo studio (its trainers have services and weekly hours), books a handful of sessions
so the engine has busy ranges to skip, then times ``GET /trainers/{id}/availability`` for 30
days through the real app in-process (ASGI), next to ``GET /health`` as the baseline. Machines
are noisy: read the ratio, not the milliseconds.

    .venv/bin/python bench/availability.py [--requests 200] [--database postgres] [--json out.json]

Reports p50/p95 in ms, the ratio to the baseline, the process's CPU time per availability
request (every thread: the SQLite driver's too), SQL statements per availability request (a
constant: the caller, trainer and service in one, the calendar in another) and slots per
answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import event, select

from stvos.app import create_app
from stvos.config import Settings, load_settings
from stvos.demo import ensure_demo
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.migrations import upgrade
from stvos.models import Trainer, TrainerService

WINDOW_DAYS = 30
PG_DATABASE = "stvos_bench_availability"


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _timed(http: httpx.AsyncClient, url: str, headers: dict[str, str], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        response = await http.get(url, headers=headers)
        samples.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
    return samples


def _scratch_postgres(folder: Path) -> str:
    if __package__ in (None, ""):  # run as a script: make ``bench`` importable
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.seed import fresh_database

    return fresh_database("postgres", PG_DATABASE, folder)


def _drop_scratch_postgres() -> None:
    from bench.seed import drop_database

    drop_database("postgres", PG_DATABASE)


async def run(requests: int, database: str = "sqlite") -> dict[str, Any]:
    """Measure on a fresh ``database``: ``sqlite`` (a file) or ``postgres`` (a scratch database
    on the local server, dropped afterwards)."""
    with tempfile.TemporaryDirectory() as folder:
        extra: dict[str, Any] = {}
        if database == "postgres":
            extra["database"] = {"url": _scratch_postgres(Path(folder))}
        settings = load_settings(
            data_dir=Path(folder),
            environment="test",
            log_level="WARNING",
            housekeeping_interval_minutes=0,
            rate_limit={"enabled": False},
            **extra,
        )
        try:
            result = await _measure(settings, requests)
        finally:
            if database == "postgres":
                _drop_scratch_postgres()
    return {"scenario": "availability-30-days", "database": database, **result}


async def _measure(settings: Settings, requests: int) -> dict[str, Any]:
    await asyncio.to_thread(upgrade, settings)  # Alembic runs its own event loop
    database = Database(settings)
    demo = await ensure_demo(database, settings)
    async with database.transaction(TenantScope.for_client(demo["clientId"])) as session:
        trainer_id, service_id = (
            await session.execute(
                select(Trainer.id, TrainerService.id)
                .join(TrainerService, TrainerService.trainer_id == Trainer.id)
                .where(TrainerService.is_active.is_(True))
                .order_by(Trainer.id, TrainerService.id)
                .limit(1)
            )
        ).one()
    await database.dispose()

    app = create_app(settings)
    key = {"X-API-Key": demo["apiKey"]}
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench/api/v1"
        ) as http,
    ):
        login = demo["logins"]["user"]
        signed_in = await http.post("/auth/login", json=login, headers=key)
        member = {**key, "Authorization": f"Bearer {signed_in.json()['data']['accessToken']}"}
        start = datetime.now(UTC).date() + timedelta(days=1)
        window = f"from={start}&to={start + timedelta(days=WINDOW_DAYS - 1)}"
        url = f"/trainers/{trainer_id}/availability?serviceId={service_id}&{window}"
        # A few bookings spread over the window, so there are busy ranges to step over.
        first = (await http.get(url, headers=member)).json()["data"]["slots"]
        for slot in first[:: max(1, len(first) // 8)][:8]:
            await http.post(
                f"/trainers/{trainer_id}/book",
                json={"serviceId": service_id, "slotId": slot["slotId"]},
                headers=member,
            )
        statements: list[str] = []

        def record(*args: Any) -> None:
            statements.append(str(args[2]))

        engine = app.state.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", record)
        answer = (await http.get(url, headers=member)).json()["data"]
        event.remove(engine, "before_cursor_execute", record)
        per_request = len([s for s in statements if not s.startswith(("BEGIN", "COMMIT"))])

        await _timed(http, "/health", {}, 20)  # warm both paths
        await _timed(http, url, member, 20)
        baseline = await _timed(http, "/health", {}, requests)
        cpu_began = time.process_time()  # every thread's: the SQLite driver's too
        measured = await _timed(http, url, member, requests)
        cpu_ms = (time.process_time() - cpu_began) * 1000 / requests

    p50, p95 = statistics.median(measured), _percentile(measured, 0.95)
    base50 = statistics.median(baseline)
    return {
        "requests": requests,
        "slots": len(answer["slots"]),
        "sqlStatementsPerRequest": per_request,
        "p50Ms": round(p50, 2),
        "p95Ms": round(p95, 2),
        "cpuMsPerRequest": round(cpu_ms, 2),
        "baseline": {"path": "/health", "p50Ms": round(base50, 2)},
        "ratioToBaselineP50": round(p50 / base50, 2) if base50 else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.requests, args.database))
    text = json.dumps(result, indent=2)
    sys.stdout.write(text + "\n")
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
