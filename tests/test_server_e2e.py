"""End to end: the real ``stvos serve`` process on a fresh SQLite data directory, over loopback.

Each server is started the way an operator starts one (``stvos demo`` for a key, then
``stvos serve``), in its own process group, and always stopped with SIGTERM (SIGKILL to the
group only if it does not stop in time).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from stvos import __version__
from stvos.demo.service import DEMO_BRANDING, DEMO_NAME
from stvos.kit import security
from stvos.models.client import ALL_FEATURES

STVOS_SCRIPT = Path(sys.executable).with_name("stvos")
START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 15.0
# After a graceful shutdown uvicorn re-raises the signal it caught, so a single-process server
# ends "killed by SIGTERM"; the multi-worker supervisor exits 0. Both are a clean stop.
CLEAN_EXIT = {0, -signal.SIGTERM}


def clean_env(**values: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("STVOS_")}
    env.update(values)
    return env


def stvos_command() -> list[str]:
    return [str(STVOS_SCRIPT)] if STVOS_SCRIPT.exists() else [sys.executable, "-m", "stvos"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    demo: dict[str, Any]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        last_error = "no attempt"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"stvos serve exited with {self.process.returncode} before answering:\n"
                    + self.log()
                )
            try:
                response = httpx.get(f"{self.base_url}/health", timeout=1.0)
                if response.status_code == 200:
                    return
                last_error = f"status {response.status_code}"
            except httpx.TransportError as exc:
                last_error = repr(exc)
            time.sleep(0.1)
        pytest.fail(
            f"stvos serve did not answer /health within {START_TIMEOUT_SECONDS} s "
            f"({last_error}):\n{self.log()}"
        )

    def stop(self) -> int:
        """SIGTERM, wait; SIGKILL the server's own process group if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the group we created at start
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        return self.process.returncode


def start_server(root: Path, *, workers: int | None = None) -> Server:
    """``stvos demo --json`` then ``stvos serve`` on a fresh data directory under ``root``."""
    env = clean_env(STVOS_DATA_DIR=str(root / "data"), STVOS_ENVIRONMENT="test")
    demo_run = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
        [*stvos_command(), "demo", "--json"],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert demo_run.returncode == 0, demo_run.stderr
    demo = json.loads(demo_run.stdout)

    port = free_port()
    args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers is not None:
        args += ["--workers", str(workers)]
    log_path = root / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own console script, fixed arguments
            [*stvos_command(), *args],
            env=env,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a hung server can be killed
        )
    server = Server(process, f"http://127.0.0.1:{port}/api/v1", log_path, demo)
    try:
        server.wait_until_healthy()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("e2e"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
        yield client


def assert_request_id(response: httpx.Response) -> str:
    request_id = response.headers.get("X-Request-ID")
    assert request_id, f"no X-Request-ID on {response.request.url}: {dict(response.headers)}"
    return request_id


def assert_rate_limit_headers(response: httpx.Response) -> tuple[int, int, int]:
    values = []
    for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
        raw = response.headers.get(name)
        assert raw is not None, f"no {name} on {response.request.url}: {dict(response.headers)}"
        assert raw.isdigit(), f"{name}: {raw!r}"
        values.append(int(raw))
    limit, remaining, reset = values
    assert 0 <= remaining <= limit
    return limit, remaining, reset


def test_health_answers_the_published_fields(server: Server, http: httpx.Client) -> None:
    response = http.get("/health")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {"status", "timestamp", "uptime", "version", "environment"}
    assert data["status"] == "ok"
    assert data["timestamp"].endswith("Z")
    datetime.fromisoformat(data["timestamp"].removesuffix("Z") + "+00:00")
    assert isinstance(data["uptime"], int | float)
    assert data["uptime"] >= 0
    assert data["version"] == __version__
    assert data["environment"] == "test"  # STVOS_ENVIRONMENT reached the server process
    assert len(assert_request_id(response)) >= 8
    assert "server" not in response.headers  # serve runs with server_header=False


def test_request_id_is_echoed_and_otherwise_generated(http: httpx.Client) -> None:
    echoed = http.get("/health", headers={"X-Request-ID": "e2e-trace-0001"})
    first = http.get("/health")
    second = http.get("/health")

    assert echoed.headers["X-Request-ID"] == "e2e-trace-0001"
    assert assert_request_id(first) != assert_request_id(second)


def test_app_config_with_the_demo_key(server: Server, http: httpx.Client) -> None:
    response = http.get("/app/config", headers={"X-API-Key": server.demo["apiKey"]})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert data["hasDefaultClient"] is True
    assert data["requiresVoucher"] is False
    client = data["client"]
    assert client["id"] == server.demo["clientId"]
    assert client["name"] == DEMO_NAME
    assert client["branding"]["colors"] == DEMO_BRANDING
    assert client["enabledFeatures"] == list(ALL_FEATURES)
    assert client["logo"]
    assert client["splashScreen"]
    assert_request_id(response)
    limit, remaining, reset = assert_rate_limit_headers(response)
    assert limit == 100  # the published default: 100 requests/minute per key
    assert remaining < limit
    assert reset >= 0
    assert "Retry-After" not in response.headers

    later = http.get("/app/config", headers={"X-API-Key": server.demo["apiKey"]})
    assert later.status_code == 200
    assert assert_rate_limit_headers(later)[1] < remaining


def test_app_config_without_a_key_uses_the_default_demo_client(
    server: Server, http: httpx.Client
) -> None:
    response = http.get("/app/config")

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["hasDefaultClient"] is True
    assert data["requiresVoucher"] is False
    assert data["client"]["id"] == server.demo["clientId"]
    assert data["client"]["name"] == DEMO_NAME
    assert data["client"]["branding"]["colors"] == DEMO_BRANDING
    assert_request_id(response)


@pytest.mark.parametrize(
    "bad_key",
    [security.new_client_key(), security.new_universal_key(), "not-a-key", "fytos_short"],
    ids=["unknown-client-key", "unknown-universal-key", "junk", "malformed"],
)
def test_app_config_with_a_bad_key_is_401(http: httpx.Client, bad_key: str) -> None:
    response = http.get("/app/config", headers={"X-API-Key": bad_key})

    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "INVALID_API_KEY"
    assert isinstance(body["error"], str)
    assert body["error"]
    assert "data" not in body
    assert_request_id(response)


def test_unknown_path_is_a_404_envelope(http: httpx.Client) -> None:
    response = http.get("/no/such/route")

    assert response.status_code == 404
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "NOT_FOUND"
    assert_request_id(response)


def _parent_pid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise AssertionError(f"no PPid for process {pid}")


def _process_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


async def test_serve_with_two_workers_answers_and_stops_cleanly(tmp_path: Path) -> None:
    server = await asyncio.to_thread(start_server, tmp_path, workers=2)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
            health = await asyncio.gather(*(http.get("/health") for _ in range(12)))
            assert [r.status_code for r in health] == [200] * 12
            assert all(r.json()["data"]["status"] == "ok" for r in health)

            config = await http.get("/app/config", headers={"X-API-Key": server.demo["apiKey"]})
            assert config.status_code == 200, config.text
            assert config.json()["data"]["client"]["id"] == server.demo["clientId"]
            assert_rate_limit_headers(config)
            assert_request_id(config)

            detailed = await http.get("/health/detailed")
            assert detailed.status_code == 200, detailed.text
            assert detailed.json()["data"]["database"]["status"] == "ok"
            worker_pid = detailed.json()["data"]["runtime"]["pid"]
        # Requests are served by worker processes that the supervisor started.
        assert worker_pid != server.process.pid
        assert _parent_pid(worker_pid) == server.process.pid
    finally:
        returncode = await asyncio.to_thread(server.stop)

    assert returncode in CLEAN_EXIT, server.log()
    assert server.log().count("Application shutdown complete") == 2  # one per worker
    assert _process_gone(worker_pid, timeout=5.0), f"worker {worker_pid} outlived the server"


async def test_sigterm_stops_a_single_worker_server_cleanly(tmp_path: Path) -> None:
    server = await asyncio.to_thread(start_server, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
            assert (await http.get("/health")).status_code == 200
    finally:
        returncode = await asyncio.to_thread(server.stop)

    assert returncode in CLEAN_EXIT, server.log()
    assert "Application shutdown complete" in server.log()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=1.0) as http:
        with pytest.raises(httpx.TransportError):
            await http.get("/health")
