"""Load generation over loopback: wrk with bench/lua/requests.lua when installed, else a small
asyncio httpx driver with the same report fields (the smoke test uses that one).

A request spec is ``{"method", "path", "headers", "body"}`` (body a JSON string or None).
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

LUA = Path(__file__).resolve().parent / "lua" / "requests.lua"
Spec = dict[str, Any]


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(value: str) -> str:
    return json.dumps(value)  # ASCII only: a valid Lua string literal too


def write_lua_data(specs: list[Spec], path: Path) -> None:
    lines = ["return {"]
    for spec in specs:
        headers = ", ".join(
            f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in spec.get("headers", {}).items()
        )
        body = _lua_string(spec["body"]) if spec.get("body") is not None else "nil"
        lines.append(
            f"  {{method = {_lua_string(spec['method'])}, path = {_lua_string(spec['path'])}, "
            f"headers = {{{headers}}}, body = {body}}},"
        )
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def _result(
    driver: str,
    requests: int,
    seconds: float,
    latencies_ms: dict[str, float],
    status: dict[str, int],
    errors: int,
) -> dict[str, Any]:
    return {
        "driver": driver,
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        **{k: round(v, 2) for k, v in latencies_ms.items()},
        "status": status,
        "errors": errors,
    }


def run_wrk(
    base_url: str, specs: list[Spec], *, connections: int, duration: float, workdir: Path, name: str
) -> dict[str, Any]:
    data = workdir / f"{name}.requests.lua"
    write_lua_data(specs, data)
    threads = max(1, min(2, connections))
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, math.ceil(duration))}s",
        "--latency", "-s", str(LUA), base_url, "--", str(data), str(threads),
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration + 60)
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    raw = json.loads(line.removeprefix("BENCHJSON "))
    latency = {
        "p50Ms": raw["p50Us"] / 1000,
        "p90Ms": raw["p90Us"] / 1000,
        "p95Ms": raw["p95Us"] / 1000,
        "p99Ms": raw["p99Us"] / 1000,
        "maxMs": raw["maxUs"] / 1000,
    }
    return _result(
        "wrk", raw["requests"], raw["durationUs"] / 1e6, latency, raw["status"], raw["socketErrors"]
    )


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run_python(
    base_url: str, specs: list[Spec], *, connections: int, duration: float
) -> dict[str, Any]:
    latencies: list[float] = []
    status = {"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, "201": 0, "409": 0}
    errors = 0
    counter = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
        began = time.perf_counter()
        deadline = began + duration

        async def worker() -> None:
            nonlocal counter, errors
            while time.perf_counter() < deadline:
                spec = specs[counter % len(specs)]
                counter += 1
                sent = time.perf_counter()
                try:
                    response = await http.request(
                        spec["method"], spec["path"], headers=spec.get("headers"),
                        content=spec.get("body"),
                    )  # fmt: skip
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - sent) * 1000)
                code = response.status_code
                status[f"{code // 100}xx"] = status.get(f"{code // 100}xx", 0) + 1
                if code in (201, 409):
                    status[str(code)] += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
        seconds = time.perf_counter() - began
    ordered = sorted(latencies)
    latency = {
        "p50Ms": _percentile(ordered, 0.50),
        "p90Ms": _percentile(ordered, 0.90),
        "p95Ms": _percentile(ordered, 0.95),
        "p99Ms": _percentile(ordered, 0.99),
        "maxMs": ordered[-1] if ordered else 0.0,
    }
    return _result("python-httpx", len(latencies), seconds, latency, status, errors)


def drive(
    base_url: str,
    specs: list[Spec],
    *,
    connections: int,
    duration: float,
    workdir: Path,
    name: str,
    use_wrk: bool,
) -> dict[str, Any]:
    """Load ``base_url`` with ``specs`` for ``duration`` seconds; throughput and percentiles."""
    if not specs:
        raise ValueError(f"{name}: no requests to send")
    if use_wrk:
        return run_wrk(
            base_url, specs, connections=connections, duration=duration, workdir=workdir, name=name
        )
    return asyncio.run(run_python(base_url, specs, connections=connections, duration=duration))
