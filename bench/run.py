"""The benchmark harness: real ``stvos serve`` processes on SQLite and PostgreSQL, seeded at
scale, loaded over loopback with wrk (or a Python driver), next to anchors measured in the same
run: a bare ASGI app, the Hono heartbeat server (the original stack) and pgbench.

    .venv/bin/python -m bench.run [--database sqlite|postgres|both] [--scale small|full]
        [--duration 10] [--connections 32] [--workers 2] [--out bench-out] [--load auto|wrk|python]

Writes ``report.md`` and ``report.json`` into ``--out``. Read ratios, not absolute figures:
the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import event

from bench import anchors, load
from bench.seed import PASSWORD, WORDS, Scale, Seeded, drop_database, refresh_sessions, seed
from bench.servers import Server, bare_server, free_port, stvos_server
from stvos.accounts.passwords import _hasher
from stvos.app import create_app
from stvos.kit.db import observe_driver_statements

SCENARIOS = [
    "health", "heartbeat", "discover", "classes", "search", "availability", "booking", "login",
]  # fmt: skip
SCALES = {
    "small": [Scale(clients=1, classes=1_000, users=200)],
    "full": [
        Scale(clients=1, classes=1_000, users=10_000),
        Scale(clients=1, classes=10_000, users=10_000),
        Scale(clients=1, classes=100_000, users=10_000),
        Scale(clients=1_000, classes=100_000, users=10_000),
    ],
}
# Latency targets are read at one request in flight per worker (service time, not queueing
# behind 32 connections on 2 cores); throughput is read at --connections.
LATENCY_SCENARIOS = ("heartbeat", "discover", "classes", "search", "availability")
HEARTBEAT_POSITION = 123_457 % 600  # a position unlikely to equal an id in the captured SQL
VOUCHER_CALLS = 3


def _key(seeded: Seeded) -> dict[str, str]:
    return {"X-API-Key": seeded.api_key}


def _member(seeded: Seeded, token: str) -> dict[str, str]:
    return {**_key(seeded), "Authorization": f"Bearer {token}"}


def _window(days: int) -> str:
    start = datetime.now(UTC).date() + timedelta(days=1)
    return f"from={start}&to={start + timedelta(days=days - 1)}"


def specs_for(seeded: Seeded, slots: list[tuple[int, int, int]]) -> dict[str, list[Any]]:
    """The requests of every scenario (wrk replays them in order, threads striding)."""
    token_of = {uid: token for uid, _, token in seeded.users}
    members = [_member(seeded, token) for _, _, token in seeded.users[:500]]
    json_type = {"Content-Type": "application/json"}
    heartbeat = [
        {
            "method": "POST",
            "path": f"/api/v1/sessions/{sid}/progress",
            "headers": {**_member(seeded, token_of[uid]), **json_type},
            "body": json.dumps({"position": position}),
        }
        for position in (30, 60, 90, 120)
        for sid, uid in seeded.sessions
    ]
    get = "GET"
    availability = [
        {
            "method": get,
            "path": f"/api/v1/trainers/{tid}/availability?serviceId={sid}&{_window(30)}",
            "headers": members[i % len(members)],
            "body": None,
        }
        for i, (tid, sid) in enumerate(seeded.trainer_services * 4)
    ]
    booking = [
        {
            "method": "POST",
            "path": f"/api/v1/trainers/{tid}/book",
            "headers": {**members[i % len(members)], **json_type},
            "body": json.dumps({"serviceId": sid, "slotId": slot}),
        }
        for i, (tid, sid, slot) in enumerate(slots)
    ]
    return {
        "health": [{"method": get, "path": "/api/v1/health", "headers": {}, "body": None}],
        "heartbeat": heartbeat,
        "discover": [
            {"method": get, "path": "/api/v1/content/discover", "headers": m, "body": None}
            for m in members
        ],
        "classes": [
            {
                "method": get,
                "path": f"/api/v1/content/classes?category={seeded.category}&intensity={level}",
                "headers": _key(seeded),
                "body": None,
            }
            for level in ("low", "medium", "high")
        ],
        "search": [
            {
                "method": get,
                "path": f"/api/v1/content/search?q={word}",
                "headers": _key(seeded),
                "body": None,
            }
            for word in [*WORDS, "yog", "str"]
        ],
        "availability": availability,
        "booking": booking,
        "login": [
            {
                "method": "POST",
                "path": "/api/v1/auth/login",
                "headers": {**_key(seeded), **json_type},
                "body": json.dumps({"email": email, "password": PASSWORD}),
            }
            for _, email, _ in seeded.users
        ],
    }


def _voucher_body(i: int) -> str:
    expires = (datetime.now(UTC) + timedelta(days=90)).isoformat()
    return json.dumps(
        {"quantity": 500, "prefix": f"B{i}{os.getpid() % 1000}", "expiresAt": expires}
    )


async def in_process(seeded: Seeded, kind: str) -> dict[str, Any]:
    """Through the real app in-process (same database): the partner token, bookable slots,
    SQL statements per request of every scenario, and the heartbeat's SQL for pgbench."""
    app = create_app(seeded.settings)
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        statements.append((statement, params))

    out: dict[str, Any] = {"statements": {}}
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http,
    ):
        partner = await http.post("/api/v1/partner-auth/login", json=seeded.partner_login)
        out["partnerToken"] = partner.json()["data"]["accessToken"]
        member = _member(seeded, seeded.users[-1][2])
        slots: list[tuple[int, int, int]] = []
        for tid, sid in seeded.trainer_services:
            answer = await http.get(
                f"/api/v1/trainers/{tid}/availability?serviceId={sid}&{_window(60)}",
                headers=member,
            )
            slots += [(tid, sid, s["slotId"]) for s in answer.json()["data"]["slots"]]
        # Interleave trainers so concurrent bookings do not all queue on one trainer's lock.
        slots.sort(key=lambda s: (s[2], s[0]))
        reserved, slots = slots[-1:], slots[:-1]
        out["slots"] = slots
        specs = specs_for(seeded, reserved)
        specs["booking"] = specs["booking"][:1]
        specs["voucher"] = [
            {
                "method": "POST",
                "path": "/api/v1/partner/vouchers",
                "headers": {
                    "Authorization": f"Bearer {out['partnerToken']}",
                    "Content-Type": "application/json",
                },
                "body": _voucher_body(99),
            }
        ]
        heartbeat_spec = dict(specs["heartbeat"][0])
        heartbeat_spec["body"] = json.dumps({"position": HEARTBEAT_POSITION})
        specs["heartbeat"] = [heartbeat_spec]
        engine = app.state.db.engine.sync_engine
        await refresh_sessions(seeded.database_url, seeded.client_id)
        for name, spec_list in specs.items():
            spec = spec_list[0]
            if name not in ("booking", "voucher", "heartbeat"):  # one-shot: no warm-up
                await http.request(spec["method"], spec["path"], headers=spec["headers"],
                                   content=spec["body"])  # fmt: skip
            statements.clear()
            event.listen(engine, "before_cursor_execute", record)
            try:
                # PostgreSQL's hottest paths send prebuilt statements straight on the driver.
                with observe_driver_statements(lambda sql, args: statements.append((sql, args))):
                    response = await http.request(
                        spec["method"], spec["path"], headers=spec["headers"], content=spec["body"]
                    )
            finally:
                event.remove(engine, "before_cursor_execute", record)
            if response.status_code >= 400:
                raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
            # Transaction control is not counted; on PostgreSQL the BEGIN message also carries
            # the tenant declaration (see stvos.kit.db).
            counted = [
                s
                for s in statements
                if not s[0].strip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))
            ]
            out["statements"][name] = len(counted)
            if name == "heartbeat":
                out["heartbeatSql"] = list(statements)
    return out


def argon2_rate(seconds: float = 1.0) -> dict[str, Any]:
    count, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        _hasher.hash(PASSWORD)
        count += 1
    elapsed = time.perf_counter() - began
    return {
        "hashesPerSecondOneCore": round(count / elapsed, 1),
        "msPerHash": round(1000 * elapsed / count, 1),
    }


PAIRED_ROUNDS = 3


def _alternate(
    ours: Callable[[int], dict[str, Any]], theirs: Callable[[int], dict[str, Any]]
) -> dict[str, Any]:
    """``ours(i)`` and ``theirs(i)`` measured in alternating rounds; each returns a round's
    figures with ``oursRps`` and ``theirsRps``. A shared machine's load drifts, and a ratio of
    two measurements taken minutes apart drifts with it: the median of the rounds' ratios is
    the figure."""
    rounds = []
    for i in range(PAIRED_ROUNDS):
        figures = {**ours(i), **theirs(i)}
        figures["ratio"] = _ratio(figures["oursRps"], figures["theirsRps"])
        rounds.append(figures)
    ratios = sorted(r["ratio"] for r in rounds if r["ratio"] is not None)
    return {"rounds": rounds, "medianRatio": ratios[len(ratios) // 2] if ratios else None}


def paired_heartbeat(
    base: str,
    specs: list[Any],
    hono: anchors.HonoAnchor,
    server: Server,
    seeded: Seeded,
    args: argparse.Namespace,
    kw: dict[str, Any],
) -> dict[str, Any]:
    """stvos's heartbeat and the Hono anchor's, in alternating rounds of equal length. Each
    round also records the server processes' CPU time per request (PostgreSQL's excluded): how
    much work one heartbeat costs each stack, which outside load changes far less than it
    changes throughput."""

    def ours(i: int) -> dict[str, Any]:
        asyncio.run(refresh_sessions(seeded.database_url, seeded.client_id))
        cpu = server.cpu_seconds()
        result = load.drive(base, specs, duration=args.duration / 2, name=f"paired-stvos-{i}", **kw)
        spent = server.cpu_seconds() - cpu
        return {"oursRps": result["rps"], "stvosCpuMsPerRequest": _per_request_ms(spent, result)}

    def theirs(i: int) -> dict[str, Any]:
        cpu = hono.cpu_seconds()
        result = hono.heartbeat(args.duration / 2, name=f"paired-hono-{i}")
        spent = hono.cpu_seconds() - cpu
        return {"theirsRps": result["rps"], "honoCpuMsPerRequest": _per_request_ms(spent, result)}

    return _alternate(ours, theirs)


def paired_pgbench(
    base: str,
    specs: list[Any],
    script: Path,
    server: Server,
    seeded: Seeded,
    args: argparse.Namespace,
    kw: dict[str, Any],
) -> dict[str, Any]:
    """stvos's heartbeat and pgbench running stvos's own heartbeat SQL (one heartbeat per
    transaction: the database's ceiling for that work), in alternating rounds like Hono's."""

    def ours(i: int) -> dict[str, Any]:
        asyncio.run(refresh_sessions(seeded.database_url, seeded.client_id))
        result = load.drive(base, specs, duration=args.duration / 2, name=f"paired-pg-{i}", **kw)
        return {"oursRps": result["rps"]}

    def theirs(_i: int) -> dict[str, Any]:
        result = anchors.pgbench(
            anchors.pg_url(seeded.database_url), script,
            connections=args.connections, duration=args.duration / 2,
        )  # fmt: skip
        if "tps" not in result:  # reported; the round has no ratio
            return {"theirsRps": None, "error": result.get("error")}
        return {"theirsRps": result["tps"]}

    return _alternate(ours, theirs)


def paired_health(
    base: str, bare_base: str, args: argparse.Namespace, kw: dict[str, Any]
) -> dict[str, Any]:
    """stvos's ``/health`` and the bare ASGI app, in alternating rounds (see :func:`_alternate`):
    the cost of stvos's middleware, without the drift of an anchor measured at the start."""
    spec: list[dict[str, Any]] = [
        {"method": "GET", "path": "/api/v1/health", "headers": {}, "body": None}
    ]
    bare_spec: list[dict[str, Any]] = [
        {"method": "GET", "path": "/health", "headers": {}, "body": None}
    ]

    def ours(i: int) -> dict[str, Any]:
        result = load.drive(base, spec, duration=args.duration / 2, name=f"paired-health-{i}", **kw)
        return {"oursRps": result["rps"]}

    def theirs(i: int) -> dict[str, Any]:
        result = load.drive(
            bare_base, bare_spec, duration=args.duration / 2, name=f"paired-bare-{i}", **kw
        )
        return {"theirsRps": result["rps"]}

    return _alternate(ours, theirs)


def _per_request_ms(cpu_seconds: float, result: dict[str, Any]) -> float | None:
    requests = result.get("requests") or 0
    return round(cpu_seconds * 1000 / requests, 3) if requests else None


def run_dataset(
    kind: str,
    scale: Scale,
    args: argparse.Namespace,
    use_wrk: bool,
    hono: anchors.HonoAnchor | None = None,
    bare_base: str | None = None,
) -> dict[str, Any]:
    name = f"stvos_bench_{scale.label.replace('-', '_')}"
    data_dir = args.out / "data" / f"{kind}-{scale.label}"
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"== {kind} {scale.label}: seeding", flush=True)
    seeded = asyncio.run(seed(kind, scale, data_dir, name))
    try:
        print(f"   seeded in {seeded.seconds} s: {seeded.counts}", flush=True)
        inproc = asyncio.run(in_process(seeded, kind))
        specs = specs_for(seeded, inproc["slots"])
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        results: dict[str, Any] = {}
        voucher: dict[str, Any] = {}
        log = args.out / f"server-{kind}-{scale.label}.log"
        with stvos_server(server_env(seeded, args), args.workers, port, log) as server:
            for scenario in args.scenarios:
                if scenario == "heartbeat":
                    asyncio.run(refresh_sessions(seeded.database_url, seeded.client_id))
                kw = {"connections": args.connections, "workdir": args.out, "use_wrk": use_wrk}
                if use_wrk and scenario not in ("booking", "login"):
                    load.drive(base, specs[scenario], duration=1, name=f"warm-{scenario}", **kw)  # type: ignore[arg-type]
                print(f"   {scenario}", flush=True)
                result = load.drive(
                    base, specs[scenario], duration=args.duration,
                    name=f"{kind}-{scale.label}-{scenario}", **kw,  # type: ignore[arg-type]
                )  # fmt: skip
                if scenario in LATENCY_SCENARIOS:
                    if scenario == "heartbeat":
                        asyncio.run(refresh_sessions(seeded.database_url, seeded.client_id))
                    lat_kw = {**kw, "connections": args.workers}
                    # As long as the throughput pass: the p95 targets and growth ratios are read
                    # here, and a short pass leaves its p95 to a handful of slow requests.
                    result["latency"] = load.drive(
                        base, specs[scenario], duration=max(4.0, args.duration),
                        name=f"{kind}-{scale.label}-{scenario}-latency", **lat_kw,  # type: ignore[arg-type]
                    )  # fmt: skip
                if scenario == "health" and bare_base is not None:
                    result["pairedWithBare"] = paired_health(base, bare_base, args, kw)
                if scenario == "heartbeat" and hono is not None:
                    result["pairedWithHono"] = paired_heartbeat(
                        base, specs[scenario], hono, server, seeded, args, kw
                    )
                if scenario == "heartbeat" and kind == "postgres" and not args.no_external:
                    script, spread = _pgbench_script(seeded, inproc, args)
                    result["pairedWithPgbench"] = paired_pgbench(
                        base, specs[scenario], script, server, seeded, args, kw
                    )
                    result["pairedWithPgbench"] |= {"script": str(script), "sessionsSpread": spread}
                result["statementsPerRequest"] = inproc["statements"][scenario]
                result["peakRssMbPerWorker"] = server.peak_rss_mb()
                results[scenario] = result
            headers = {
                "Authorization": f"Bearer {inproc['partnerToken']}",
                "Content-Type": "application/json",
            }
            timings = []
            with httpx.Client(base_url=base, timeout=60) as http:
                for i in range(VOUCHER_CALLS):
                    began = time.perf_counter()
                    answer = http.post(
                        "/api/v1/partner/vouchers", headers=headers, content=_voucher_body(i)
                    )
                    timings.append((time.perf_counter() - began) * 1000)
                    if answer.status_code != 201:
                        raise RuntimeError(f"voucher: {answer.status_code} {answer.text[:300]}")
            voucher = {
                "calls": VOUCHER_CALLS,
                "codesPerCall": 500,
                "msPerCall": [round(t, 1) for t in timings],
                "msPerCallMean": round(sum(timings) / len(timings), 1),
                "statementsPerRequest": inproc["statements"]["voucher"],
            }
            rss_end = server.peak_rss_mb()
        return {
            "database": kind,
            "scale": scale.label,
            "counts": seeded.counts,
            "seedSeconds": seeded.seconds,
            "workers": args.workers,
            "scenarios": results,
            "voucherBulk500": voucher,
            "peakRssMbPerWorker": rss_end,
        }
    finally:
        if not args.keep:
            drop_database(kind, name)


def pool_per_worker(args: argparse.Namespace) -> int:
    """Enough pooled connections for a worker's share of the load generator's connections.

    Past its pool, SQLAlchemy opens overflow connections and closes them on return: under
    steady load that is a new PostgreSQL backend per burst, which a real deployment sizes away.
    """
    return -(-args.connections // args.workers) + 2


def server_env(seeded: Seeded, args: argparse.Namespace) -> dict[str, str]:
    return {
        **seeded.env,
        "STVOS_DATABASE_POOL_SIZE": str(pool_per_worker(args)),
        "STVOS_DATABASE_MAX_OVERFLOW": "0",
    }


def _pgbench_script(
    seeded: Seeded, inproc: dict[str, Any], args: argparse.Namespace
) -> tuple[Path, int]:
    """stvos's captured heartbeat SQL as a pgbench script, and over how many sessions it
    spreads its transactions."""
    rows = list(zip(seeded.sessions, seeded.progress, strict=True))
    contiguous = all(
        b[0][0] - a[0][0] == 1 and b[0][1] - a[0][1] == 1 and b[1] - a[1] == 1
        for a, b in itertools.pairwise(rows)
    )
    (sid, uid), pid = rows[0]
    variables = {sid: ("sid", sid), uid: ("uid", uid), pid: ("pid", pid)}
    variables[HEARTBEAT_POSITION] = ("pos", 0)
    distinct = len(variables) == 4  # a value shared by two roles cannot be told apart
    spread = len(rows) if contiguous and distinct else 1
    script = args.out / f"stvos-heartbeat-{seeded.database_url.rsplit('/', 1)[-1]}.pgbench.sql"
    anchors.heartbeat_script(
        inproc["heartbeatSql"],
        variables=variables if distinct else {},
        spread=spread,
        path=script,
    )
    return script, spread


LATENCY_NOTE = "one request in flight per worker"


def _latency_p95(result: dict[str, Any]) -> float:
    latency = result.get("latency") or result
    p95: float = latency["p95Ms"]
    return p95


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def evaluate(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured figure and pass/fail (None: not measured)."""
    targets: list[dict[str, Any]] = []

    def add(name: str, measured: float | None, target: str, ok: bool | None) -> None:
        targets.append({"target": name, "measured": measured, "goal": target, "pass": ok})

    bare = report["anchors"].get("bareAsgi", {}).get("rps")
    hono = report["anchors"].get("hono", {})
    hono_rps = hono.get("heartbeat", {}).get("rps")
    for run in report["runs"]:
        tag = f"{run['database']} {run['scale']}"
        sc = run["scenarios"]
        if "health" in sc:
            paired = sc["health"].get("pairedWithBare") or {}
            ratio = paired.get("medianRatio") or _ratio(sc["health"]["rps"], bare)
            add(f"/health vs bare ASGI, median of {PAIRED_ROUNDS} alternating rounds ({tag})",
                ratio, ">= 0.5", None if ratio is None else ratio >= 0.5)  # fmt: skip
        if "discover" in sc:
            n = sc["discover"]["statementsPerRequest"]
            add(f"discover statements ({tag})", n, "<= 6", n <= 6)
        if "heartbeat" in sc:
            n = sc["heartbeat"]["statementsPerRequest"]
            add(f"heartbeat statements ({tag})", n, "<= 2", n <= 2)
        if "availability" in sc:
            p95 = _latency_p95(sc["availability"])
            add(f"30-day availability p95 ms, {LATENCY_NOTE} ({tag})", p95, "< 20", p95 < 20)
        rss = max(run["peakRssMbPerWorker"] or [0])
        add(f"peak RSS MB per worker ({tag})", rss, "< 200", rss < 200)
        if run["database"] != "postgres":
            continue
        if "discover" in sc:
            p95 = _latency_p95(sc["discover"])
            big = run["counts"]["classesOfClient"] >= 100_000 and run["counts"]["clients"] >= 1000
            add(
                f"discover p95 ms, {LATENCY_NOTE} ({tag})", p95,
                "< 25 (at 100k classes, 1,000 clients)", (p95 < 25) if big else None,
            )  # fmt: skip
        if "heartbeat" in sc:
            paired = sc["heartbeat"].get("pairedWithHono") or {}
            ratio = paired.get("medianRatio") or _ratio(sc["heartbeat"]["rps"], hono_rps)
            add(
                f"heartbeat vs Hono, median of {PAIRED_ROUNDS} alternating rounds ({tag})",
                ratio, ">= 1.0", None if ratio is None else ratio >= 1,
            )  # fmt: skip
            ratio = (sc["heartbeat"].get("pairedWithPgbench") or {}).get("medianRatio")
            add(
                f"heartbeat vs pgbench of its own SQL, median of {PAIRED_ROUNDS} alternating "
                f"rounds ({tag})", ratio, ">= 0.5", None if ratio is None else ratio >= 0.5,
            )  # fmt: skip
    # The issue budgets discover's growth; every scenario's is in the report's growth table.
    for growth in report["growth"]:
        g = growth["scenarios"].get("discover")
        if g is not None:
            ok = None if g["p95Ratio"] is None else g["p95Ratio"] <= 1.5
            add(f"growth 1k->100k p95 discover ({growth['database']})", g["p95Ratio"], "<= 1.5", ok)
    return targets


def growth_of(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for kind in {r["database"] for r in runs}:
        same = [r for r in runs if r["database"] == kind and r["counts"]["otherClients"] == 0]
        small = next((r for r in same if r["counts"]["classesOfClient"] <= 1_500), None)
        large = next((r for r in same if r["counts"]["classesOfClient"] >= 100_000), None)
        if small is None or large is None:
            continue
        scenarios = {}
        for name in SCENARIOS:
            if name not in small["scenarios"] or name not in large["scenarios"]:
                continue
            a, b = small["scenarios"][name], large["scenarios"][name]
            scenarios[name] = {
                "p95Ratio": _ratio(_latency_p95(b), _latency_p95(a)),
                "throughputRatio": _ratio(b["rps"], a["rps"]),
            }
        out.append(
            {"database": kind, "from": small["scale"], "to": large["scale"], "scenarios": scenarios}
        )
    return out


def _lat(result: dict[str, Any], key: str) -> Any:
    return (result.get("latency") or {}).get(key, "")


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# stvos benchmark report",
        "",
        f"{report['startedAt']} on `{m['host']}` ({m['cpus']} CPUs, {m['cpuModel']}, "
        f"{m['memory']}); "
        f"load: {report['options']['load']}, {report['options']['connections']} connections, "
        f"{report['options']['duration']} s per scenario, {report['options']['workers']} workers "
        f"({report['options']['poolPerWorker']} pooled database connections each). "
        "The load generator shares the cores: compare ratios within this run only.",
        "",
        "## Anchors",
        "",
        "| anchor | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    an = report["anchors"]

    def row(label: str, r: dict[str, Any] | None) -> None:
        if r and "rps" in r:
            lines.append(f"| {label} | {r['rps']} | {r['p50Ms']} | {r['p95Ms']} | {r['p99Ms']} |")

    row("bare ASGI (uvicorn, same workers)", an.get("bareAsgi"))
    hono = an.get("hono", {})
    row("Hono hello (1 Node process)", hono.get("hello"))
    row("Hono heartbeat", hono.get("heartbeat"))
    if hono.get("error"):
        lines.append(f"\nHono anchor not measured: {hono['error']}")
    pg = hono.get("pgbenchAnchorSql")
    if pg:
        lines.append(f"\npgbench of the anchor's heartbeat SQL: {pg.get('tps')} tps ({pg})")
    lines.append(f"\nargon2id (one core, in-process): {an.get('argon2')}")
    for run in report["runs"]:
        lines += [
            "",
            f"## {run['database']} {run['scale']}",
            "",
            f"Seeded in {run['seedSeconds']} s: {run['counts']}.",
            "",
            f"Throughput at {report['options']['connections']} connections; the last three "
            f"columns: latency with {LATENCY_NOTE}.",
            "",
            "| scenario | req/s | p50 ms | p95 ms | p99 ms | statements/req | 2xx | 4xx | 5xx "
            "| peak RSS MB/worker | vs bare | vs Hono hb | 1-in-flight p50 | p95 | p99 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        for name, r in run["scenarios"].items():
            s = r["status"]
            lines.append(
                f"| {name} | {r['rps']} | {r['p50Ms']} | {r['p95Ms']} | {r['p99Ms']} | "
                f"{r['statementsPerRequest']} | {s.get('2xx')} | {s.get('4xx')} | {s.get('5xx')} "
                f"| {r['peakRssMbPerWorker']} | {r.get('ratioToBare')} | {r.get('ratioToHono')} "
                f"| {_lat(r, 'p50Ms')} | {_lat(r, 'p95Ms')} | {_lat(r, 'p99Ms')} |"
            )
        if "booking" in run["scenarios"]:
            b = run["scenarios"]["booking"]["status"]
            lines.append(
                f"\nBooking: {b.get('201')} created (201), {b.get('409')} slot taken (409)."
            )
        lines.append(f"Voucher bulk 500: {run['voucherBulk500']}.")
        paired = run["scenarios"].get("health", {}).get("pairedWithBare")
        if paired:
            lines.append(f"/health and the bare ASGI app in alternating rounds: {paired}.")
        paired = run["scenarios"].get("heartbeat", {}).get("pairedWithHono")
        if paired:
            lines.append(f"Heartbeat, stvos and Hono in alternating rounds: {paired}.")
        paired = run["scenarios"].get("heartbeat", {}).get("pairedWithPgbench")
        if paired:
            lines.append(
                "Heartbeat, stvos and pgbench of its own heartbeat SQL (one heartbeat per "
                f"transaction) in alternating rounds: {paired}."
            )
    if report["growth"]:
        lines += ["", "## Cost growth", ""]
        lines += ["| database | scenario | p95 ratio | throughput ratio |", "|---|---|---:|---:|"]
        for g in report["growth"]:
            for name, v in g["scenarios"].items():
                lines.append(f"| {g['database']} {g['from']} -> {g['to']} | {name} | "
                             f"{v['p95Ratio']} | {v['throughputRatio']} |")  # fmt: skip
    lines += ["", "## Targets", "", "| target | measured | goal | result |", "|---|---:|---|---|"]
    for t in report["targets"]:
        verdict = {True: "pass", False: "FAIL", None: "not measured at this scale"}[t["pass"]]
        lines.append(f"| {t['target']} | {t['measured']} | {t['goal']} | {verdict} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--load", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--no-external", action="store_true", help="skip the Hono and pgbench anchors"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument(
        "--scenarios",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=list(SCENARIOS),
        help=f"comma-separated subset of {','.join(SCENARIOS)} (default: all)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    use_wrk = args.load == "wrk" or (args.load == "auto" and load.have_wrk())
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    report: dict[str, Any] = {
        "startedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": anchors.machine(),
        "options": {
            "database": args.database,
            "scale": args.scale,
            "duration": args.duration,
            "connections": args.connections,
            "workers": args.workers,
            "poolPerWorker": pool_per_worker(args),
            "load": "wrk" if use_wrk else "python-httpx",
        },
        "anchors": {},
        "runs": [],
    }
    with contextlib.ExitStack() as stack:
        # The bare app stays up for the whole run: /health is measured in rounds alternating
        # with it (paired_health), besides this first anchor figure.
        print("== anchor: bare ASGI", flush=True)
        port = free_port()
        stack.enter_context(bare_server(args.workers, port, args.out / "bare.log"))
        kw = {"connections": args.connections, "workdir": args.out, "use_wrk": use_wrk}
        spec = [{"method": "GET", "path": "/health", "headers": {}, "body": None}]
        bare_base = f"http://127.0.0.1:{port}"
        if use_wrk:
            load.drive(bare_base, spec, duration=1, name="warm-bare", **kw)  # type: ignore[arg-type]
        report["anchors"]["bareAsgi"] = load.drive(
            bare_base, spec, duration=args.duration, name="bare", **kw,  # type: ignore[arg-type]
        )  # fmt: skip
        report["anchors"]["argon2"] = argon2_rate()
        hono: anchors.HonoAnchor | None = None
        if "postgres" in kinds and not args.no_external:
            print("== anchor: Hono + pgbench", flush=True)
            hono = stack.enter_context(
                anchors.HonoAnchor(connections=args.connections, workdir=args.out, use_wrk=use_wrk)
            )
            if hono.error is not None:
                report["anchors"]["hono"] = {"error": hono.error}
                hono = None
            else:
                report["anchors"]["hono"] = {
                    "hello": hono.hello(args.duration),
                    "heartbeat": hono.heartbeat(args.duration),
                    "pgbenchAnchorSql": hono.pgbench(
                        connections=args.connections, duration=args.duration
                    ),
                    "processes": 1,
                }
        for kind in kinds:
            for scale in SCALES[args.scale]:
                report["runs"].append(run_dataset(kind, scale, args, use_wrk, hono, bare_base))
        if hono is not None:
            report["anchors"]["hono"]["peakRssMb"] = hono.peak_rss_mb()
    bare_rps = report["anchors"]["bareAsgi"]["rps"]
    hono_rps = report["anchors"].get("hono", {}).get("heartbeat", {}).get("rps")
    for run in report["runs"]:
        for name, r in run["scenarios"].items():
            r["ratioToBare"] = _ratio(r["rps"], bare_rps)
            r["ratioToHono"] = _ratio(r["rps"], hono_rps) if run["database"] == "postgres" else None
            if name == "login":
                r["argon2HashesPerSecondOneCore"] = report["anchors"]["argon2"][
                    "hashesPerSecondOneCore"
                ]
    report["growth"] = growth_of(report["runs"])
    report["targets"] = evaluate(report)
    (args.out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (args.out / "report.md").write_text(markdown(report))
    print(args.out / "report.md")
    return report


if __name__ == "__main__":
    main()
