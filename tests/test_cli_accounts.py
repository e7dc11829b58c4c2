"""``stvos admin create-admin`` and ``stvos admin create-user``, run as a separate process.

Like tests/test_cli.py: the command runs against the test's own database (SQLite copy or the
PostgreSQL test database) and the result is checked over HTTP through the ASGI app.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stvos.config import Settings
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import PlatformAdmin, User
from tests.support.factories import TestClient

STVOS_SCRIPT = Path(sys.executable).with_name("stvos")
TIMEOUT_SECONDS = 90


@dataclass
class Cli:
    env: dict[str, str]
    cwd: Path

    def run(
        self, *args: str, expect: int = 0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [str(STVOS_SCRIPT)] if STVOS_SCRIPT.exists() else [sys.executable, "-m", "stvos"]
        result = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
            [*command, *args],
            env=self.env,
            cwd=self.cwd,
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        assert result.returncode == expect, (
            f"`stvos {' '.join(args)}` exited {result.returncode}, expected {expect}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        return result

    async def __call__(
        self, *args: str, expect: int = 0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(self.run, *args, expect=expect, stdin=stdin)

    async def json(self, *args: str) -> Any:
        result = await self(*args, "--json")
        return json.loads(result.stdout)


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(security={"api_key_cache_seconds": 0})


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    env = {name: value for name, value in os.environ.items() if not name.startswith("STVOS_")}
    env.update(STVOS_DATA_DIR=str(tmp_path / "data"), STVOS_DATABASE_URL=database_url)
    return Cli(env=env, cwd=tmp_path)


async def _admin_login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/admin/auth/login", json={"email": email, "password": password})


async def _login(
    http: httpx.AsyncClient, client: TestClient, email: str, password: str
) -> httpx.Response:
    return await http.post(
        "/auth/login", json={"email": email, "password": password}, headers=client.headers
    )


# --- create-admin -----------------------------------------------------------------------------


async def test_create_admin_with_a_password_option(
    cli: Cli, db: Database, http: httpx.AsyncClient
) -> None:
    out = await cli.json(
        "admin", "create-admin", "Root@Example.com", "--password", "admin-pass-1", "--name", "Root"
    )

    assert set(out) == {"adminId", "email"}
    assert out["email"] == "Root@example.com"
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        admin = await session.get(PlatformAdmin, out["adminId"])
    assert admin is not None
    assert (admin.name, admin.email_normalized, admin.status) == (
        "Root",
        "root@example.com",
        "active",
    )
    assert "admin-pass-1" not in admin.password_hash
    response = await _admin_login(http, "root@example.com", "admin-pass-1")
    assert response.status_code == 200, response.text
    token = response.json()["data"]["accessToken"]
    clients = await http.get("/admin/clients", headers={"Authorization": f"Bearer {token}"})
    assert clients.status_code == 200

    again = await cli("admin", "create-admin", "root@EXAMPLE.com", "--password", "x" * 10, expect=1)
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr


async def test_create_admin_prompts_twice_for_the_password(
    cli: Cli, http: httpx.AsyncClient
) -> None:
    result = await cli(
        "admin", "create-admin", "ops@example.com", stdin="prompted-pass\nprompted-pass\n"
    )
    assert "platform admin" in result.stdout
    assert "prompted-pass" not in result.stdout
    assert (await _admin_login(http, "ops@example.com", "prompted-pass")).status_code == 200

    mismatch = await cli(
        "admin", "create-admin", "two@example.com", stdin="first-pass-1\nsecond-pass\n", expect=1
    )
    assert "do not match" in mismatch.stderr + mismatch.stdout
    response = await _admin_login(http, "two@example.com", "first-pass-1")
    assert response.status_code == 401


async def test_create_admin_refuses_bad_input(cli: Cli, http: httpx.AsyncClient) -> None:
    short = await cli("admin", "create-admin", "a@example.com", "--password", "short", expect=2)
    assert "8 to 128 characters" in short.stderr
    prompted = await cli("admin", "create-admin", "a@example.com", stdin="short\nshort\n", expect=2)
    assert "8 to 128 characters" in prompted.stderr
    bad = await cli("admin", "create-admin", "not-an-email", "--password", "x" * 10, expect=2)
    assert "not a valid email" in bad.stderr
    assert (await _admin_login(http, "a@example.com", "short")).status_code == 401


# --- create-user ------------------------------------------------------------------------------


async def test_create_user_by_slug_with_a_generated_password(
    cli: Cli, db: Database, http: httpx.AsyncClient, client_a: TestClient
) -> None:
    out = await cli.json(
        "admin", "create-user", client_a.slug, "Boss@Alpha.example", "--role", "client_admin"
    )

    assert set(out) == {"userId", "clientId", "email", "role", "password"}
    assert (out["clientId"], out["email"], out["role"]) == (
        client_a.id,
        "Boss@alpha.example",
        "client_admin",
    )
    assert len(out["password"]) >= 20
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        user = await session.get(User, out["userId"])
    assert user is not None
    assert user.client_id == client_a.id
    login = await _login(http, client_a, "boss@alpha.example", out["password"])
    assert login.status_code == 200, login.text
    token = login.json()["data"]["accessToken"]
    staff_headers = {**client_a.headers, "Authorization": f"Bearer {token}"}
    assert (await http.get("/manage/users", headers=staff_headers)).status_code == 200

    plain = await cli(
        "admin", "create-user", client_a.slug, "coach@alpha.example", "--role", "trainer"
    )
    assert "password:" in plain.stdout
    assert "trainer" in plain.stdout


async def test_create_user_by_id_with_a_password(
    cli: Cli, http: httpx.AsyncClient, client_a: TestClient, client_b: TestClient
) -> None:
    args = ["admin", "create-user", str(client_b.id), "member@example.com", "--role", "user"]
    out = await cli.json(*args, "--password", "member-pass-1", "--name", "Mia")

    assert out == {
        "userId": out["userId"],
        "clientId": client_b.id,
        "email": "member@example.com",
        "role": "user",
    }
    assert (await _login(http, client_b, "member@example.com", "member-pass-1")).status_code == 200
    # Users belong to one client: A's app does not know this account.
    assert (await _login(http, client_a, "member@example.com", "member-pass-1")).status_code == 401

    taken = await cli(*args, "--password", "member-pass-2", expect=1)
    assert "already exists" in taken.stderr
    assert "Traceback" not in taken.stderr


async def test_create_user_refuses_bad_input(cli: Cli, client_a: TestClient) -> None:
    unknown = await cli(
        "admin", "create-user", "no-such", "a@example.com", "--role", "user", expect=1
    )
    assert "no-such" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    await cli("admin", "create-user", client_a.slug, "a@example.com", expect=2)  # --role needed
    await cli("admin", "create-user", client_a.slug, "a@example.com", "--role", "owner", expect=2)
    short = await cli(
        "admin",
        "create-user",
        client_a.slug,
        "a@example.com",
        "--role",
        "user",
        "--password",
        "short",
        expect=2,
    )
    assert "8 to 128 characters" in short.stderr
    await cli("admin", "create-user", client_a.slug, "nope", "--role", "user", expect=2)
