"""External anchors: the Hono heartbeat server (the original stack) and pgbench (the
database's ceiling) on the same box, driven with the same connections and duration."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bench import load
from bench.seed import psql
from bench.servers import Server, free_port

HONO = Path("/work/shared/anchors/hono-heartbeat")
HONO_DB = "bench_hono_anchor"


def pgbench(db_url: str, script: Path, *, connections: int, duration: float) -> dict[str, Any]:
    out = subprocess.run(
        [
            "pgbench",
            "-n",
            "-M",
            "prepared",
            "-c",
            str(connections),
            "-j",
            str(min(2, connections)),
            "-T",
            str(max(1, round(duration))),
            "-f",
            str(script),
            db_url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 120,
    )
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout)[-600:]}
    tps = re.search(r"tps = ([\d.]+)", out.stdout)
    lat = re.search(r"latency average = ([\d.]+) ms", out.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    return {
        "tps": float(tps.group(1)) if tps else 0.0,
        "latencyAvgMs": float(lat.group(1)) if lat else None,
        "failed": int(failed.group(1)) if failed else 0,
        "protocol": "prepared",
    }


class HonoAnchor:
    """The Hono heartbeat server (the original stack) on its own database, kept up for the whole
    run so that stvos's heartbeat can be measured in alternating rounds with it."""

    def __init__(self, *, connections: int, workdir: Path, use_wrk: bool) -> None:
        self.kw: dict[str, Any] = {
            "connections": connections, "workdir": workdir, "use_wrk": use_wrk,
        }  # fmt: skip
        self.workdir = workdir
        self.error: str | None = None
        self.base = ""
        self.specs: list[dict[str, Any]] = []
        self._work: Path | None = None
        self._server: Server | None = None
        self.db_url = f"postgresql://postgres@localhost:5432/{HONO_DB}"

    def __enter__(self) -> HonoAnchor:
        if not HONO.is_dir() or shutil.which("node") is None or shutil.which("npm") is None:
            self.error = "hono anchor, node or npm missing"
            return self
        work = self._work = Path(tempfile.mkdtemp(prefix="bench-hono-"))
        for item in [*HONO.glob("*.mjs"), HONO / "package.json", HONO / "schema.sql"]:
            shutil.copy(item, work)
        installed = subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund"],
            cwd=work, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if installed.returncode != 0:
            self.error = f"npm install failed (offline?): {installed.stderr[-400:]}"
            return self
        psql(f'DROP DATABASE IF EXISTS "{HONO_DB}" WITH (FORCE)', f'CREATE DATABASE "{HONO_DB}"')
        subprocess.run(
            ["psql", self.db_url, "-q", "-f", "schema.sql"], cwd=work, check=True,
            capture_output=True,
        )  # fmt: skip
        subprocess.run(["node", "tokens.mjs", "heartbeat.lua"], cwd=work, check=True)
        tokens = re.findall(r'"(eyJ[^"]+)"', (work / "heartbeat.lua").read_text())
        self.specs = [
            {
                "method": "POST",
                "path": f"/api/v1/sessions/{i}/progress",
                "headers": {
                    "X-API-Key": "fytos_anchor_key",
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                },
                "body": f'{{"position":{(i * 37) % 2700}}}',
            }
            for i, token in enumerate(tokens, start=1)
        ]
        port = free_port()
        env = {"PORT": str(port), "PG_URL": self.db_url.replace("localhost", "127.0.0.1")}
        self._server = Server(
            ["node", str(work / "server.mjs")], env, f"http://127.0.0.1:{port}/api/v1/health",
            self.workdir / "hono.log",
        )  # fmt: skip
        self._server.__enter__()
        self.base = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.__exit__()
        if self._work is not None:
            psql(f'DROP DATABASE IF EXISTS "{HONO_DB}" WITH (FORCE)')
            shutil.rmtree(self._work, ignore_errors=True)

    def hello(self, duration: float) -> dict[str, Any]:
        spec = [{"method": "GET", "path": "/api/v1/health", "headers": {}, "body": None}]
        load.drive(self.base, spec, duration=1, name="hono-warm", **self.kw)
        return load.drive(self.base, spec, duration=duration, name="hono-hello", **self.kw)

    def heartbeat(self, duration: float, name: str = "hono-heartbeat") -> dict[str, Any]:
        return load.drive(self.base, self.specs, duration=duration, name=name, **self.kw)

    def peak_rss_mb(self) -> list[float]:
        return self._server.peak_rss_mb() if self._server is not None else []

    def cpu_seconds(self) -> float:
        return self._server.cpu_seconds() if self._server is not None else 0.0

    def pgbench(self, *, connections: int, duration: float) -> dict[str, Any]:
        return pgbench(
            self.db_url, HONO / "pgbench.sql", connections=connections, duration=duration
        )


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, bytes):
        return f"'\\x{value.hex()}'::bytea"
    if isinstance(value, datetime | date):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def heartbeat_script(
    statements: list[tuple[str, Any]],
    *,
    variables: dict[int, tuple[str, int]],
    spread: int,
    path: Path,
) -> str:
    """stvos's own heartbeat SQL (captured from one request) as a pgbench script.

    ``variables`` maps a captured value (the session's id, its user's, its progress row's, the
    position) to a pgbench variable and its first value; with ``spread`` > 1, each transaction
    picks one of ``spread`` consecutive sessions (their ids, users and progress rows advance
    together), so clients do not queue on one row. Everything else stays as captured. The
    tenant declaration that stvos sends inside its BEGIN message is its own statement here:
    pgbench cannot send two statements in one prepared message.
    """

    def render(sql: str, params: Any) -> str:
        values = list(params) if isinstance(params, list | tuple) else []

        def value_of(value: Any) -> str:
            if isinstance(value, list):  # an array parameter (a batch of one): its elements
                return f"ARRAY[{', '.join(map(value_of, value))}]" if value else "'{}'"
            if isinstance(value, int) and not isinstance(value, bool) and value in variables:
                return ":" + variables[value][0]
            return _literal(value)

        def one(match: re.Match[str]) -> str:
            return value_of(values[int(match.group(1)) - 1])

        return re.sub(r"\$(\d+)", one, sql).replace("\n", " ")

    lines = [f"\\set k random(0, {max(0, spread - 1)})"]
    for name, first in variables.values():
        if name == "pos":
            lines.append("\\set pos random(0, 600)")
        else:
            lines.append(f"\\set {name} {first} + :k")
    lines.append("BEGIN;")
    for sql, params in statements:
        head, _, rest = sql.partition(";")
        if head.strip().upper().startswith(("COMMIT", "ROLLBACK")):
            continue
        if head.strip().upper().startswith("BEGIN"):
            if rest.strip():
                lines.append(rest.strip().rstrip(";") + ";")
            continue
        lines.append(render(sql, params).rstrip(";") + ";")
    lines.append("COMMIT;")
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


def pg_url(database_url: str) -> str:
    return database_url.replace("+asyncpg", "")


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    with contextlib.suppress(OSError):
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    return {
        "host": os.uname().nodename,
        "kernel": os.uname().release,
        "cpus": os.cpu_count(),
        "cpuModel": model,
        "memory": mem,
        "wrk": shutil.which("wrk") is not None,
    }
