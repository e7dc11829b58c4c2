"""Real servers for the harness: ``stvos serve`` and the bare ASGI anchor under uvicorn, each in
its own process group; peak RSS of their worker processes from /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
STVOS = Path(sys.executable).with_name("stvos")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    def __init__(self, command: list[str], env: dict[str, str], health: str, log: Path) -> None:
        self.command = command
        self.env = {**os.environ, **env}
        self.health = health
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            self.command, env=self.env, cwd=ROOT, stdout=handle, stderr=handle,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command[0]} exited: see {self.log}")
            try:
                if httpx.get(self.health, timeout=2).status_code == 200:
                    time.sleep(0.5)  # let the other workers finish starting
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"{self.health} did not answer in 90 s: see {self.log}")

    def __exit__(self, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def worker_pids(self) -> list[int]:
        """The worker processes: children of the server (itself when it has none)."""
        assert self.process is not None
        parent = self.process.pid
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes() if ppid == parent else b""
            # uvicorn's spawn children; not multiprocessing's resource tracker.
            if ppid == parent and b"resource_tracker" not in cmdline:
                children.append(int(entry.name))
        return sorted(children) or [parent]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the worker processes have used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return total / ticks

    def peak_rss_mb(self) -> list[float]:
        """VmHWM (peak resident set) of each worker, in MB."""
        peaks = []
        for pid in self.worker_pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(round(int(line.split()[1]) / 1024, 1))
            except OSError:
                continue
        return peaks


def stvos_server(env: dict[str, str], workers: int, port: int, log: Path) -> Server:
    command = [str(STVOS), "serve", "--workers", str(workers), "--port", str(port)]
    return Server(command, env, f"http://127.0.0.1:{port}/api/v1/health", log)


def bare_server(workers: int, port: int, log: Path) -> Server:
    command = [
        sys.executable, "-m", "uvicorn", "bench.bare_asgi:app", "--workers", str(workers),
        "--port", str(port), "--no-access-log", "--no-server-header", "--proxy-headers",
        "--log-level", "warning",
    ]  # fmt: skip
    return Server(command, {}, f"http://127.0.0.1:{port}/health", log)
