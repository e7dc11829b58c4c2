"""The ``stvos`` command, run as a user runs it: a separate process configured by ``STVOS_*``.

Each test points the command at the test's own database (``database_url``: a fresh SQLite copy,
or the truncated PostgreSQL test database when ``STVOS_TEST_DATABASE_URL`` is set) and at its own
data directory, then checks what was printed, the exit code, and what actually happened in the
database and over HTTP (through the ASGI app on the same database).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from stvos import migrations
from stvos.config import Settings
from stvos.demo.service import DEMO_BRANDING, DEMO_NAME, DEMO_SLUG
from stvos.kit import security
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models.client import ALL_FEATURES, ApiKey, Client, PlatformKey
from stvos.tenancy import service
from tests.support.databases import postgres_url, settings_for

STVOS_SCRIPT = Path(sys.executable).with_name("stvos")
CLIENT_KEY = re.compile(r"fytos_[A-Za-z0-9]{40}")
CLI_TIMEOUT_SECONDS = 90


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any STVOS_* variable, plus ``values``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("STVOS_")}
    env.update(values)
    return env


def stvos_command() -> list[str]:
    # The installed console script, as a user types it; ``python -m stvos`` if it is missing.
    return [str(STVOS_SCRIPT)] if STVOS_SCRIPT.exists() else [sys.executable, "-m", "stvos"]


@dataclass
class Cli:
    """Runs ``stvos ...`` in a subprocess with a clean, test-specific environment."""

    env: dict[str, str]
    cwd: Path

    def run(
        self, *args: str, expect: int = 0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
            [*stvos_command(), *args],
            env=env if env is not None else self.env,
            cwd=self.cwd,  # a directory without a .env file
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_SECONDS,
            check=False,
        )
        assert result.returncode == expect, (
            f"`stvos {' '.join(args)}` exited {result.returncode}, expected {expect}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        return result

    def run_json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        lines = result.stdout.splitlines()
        assert len(lines) == 1, f"--json should print one line, got: {result.stdout!r}"
        return json.loads(lines[0])

    async def __call__(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(self.run, *args, expect=expect)

    async def json(self, *args: str) -> Any:
        return await asyncio.to_thread(self.run_json, *args)


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    # The in-process app that checks keys must not trust a cached answer after a revocation.
    return make_settings(security={"api_key_cache_seconds": 0})


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"  # the same directory the ``settings`` fixture uses


@pytest.fixture
def cli(database_url: str, data_dir: Path, tmp_path: Path) -> Cli:
    env = clean_env(STVOS_DATA_DIR=str(data_dir), STVOS_DATABASE_URL=database_url)
    return Cli(env=env, cwd=tmp_path)


async def app_config(http: httpx.AsyncClient, key: str | None) -> httpx.Response:
    return await http.get("/app/config", headers={"X-API-Key": key} if key else {})


async def assert_key_works(http: httpx.AsyncClient, key: str, client_id: int) -> None:
    response = await app_config(http, key)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["client"]["id"] == client_id


async def assert_key_refused(http: httpx.AsyncClient, key: str) -> None:
    response = await app_config(http, key)
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "INVALID_API_KEY"


async def key_row(db: Database, raw: str) -> ApiKey | None:
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        row: ApiKey | None = await session.scalar(
            select(ApiKey).where(ApiKey.key_hash == security.hash_key(raw))
        )
        return row


async def platform_key_row(db: Database, raw: str) -> PlatformKey | None:
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        row: PlatformKey | None = await session.scalar(
            select(PlatformKey).where(PlatformKey.key_hash == security.hash_key(raw))
        )
        return row


async def lookup(db: Database, raw: str) -> service.ResolvedKey | None:
    async with db.transaction(TenantScope.for_platform()) as session:
        return await service.lookup_key(session, raw)


async def default_client_ids(db: Database) -> list[int]:
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        return list(await session.scalars(select(Client.id).where(Client.is_default.is_(True))))


# --- admin create-client ----------------------------------------------------------------------


async def test_create_client_json_prints_exactly_id_and_key(
    cli: Cli, db: Database, http: httpx.AsyncClient
) -> None:
    out = await cli.json("admin", "create-client", "Alpha Studio", "--time-zone", "Europe/London")

    assert set(out) == {"clientId", "apiKey"}
    assert type(out["clientId"]) is int
    assert out["apiKey"].startswith(security.CLIENT_KEY_PREFIX)
    assert not security.is_universal_key(out["apiKey"])
    assert security.looks_like_key(out["apiKey"])

    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        client = await service.find_client(session, out["clientId"])
        assert (client.name, client.slug, client.time_zone) == (
            "Alpha Studio",
            "alpha-studio",
            "Europe/London",
        )
        assert client.status == "active"
        assert client.is_default is False
    stored = await key_row(db, out["apiKey"])
    assert stored is not None
    assert stored.client_id == out["clientId"]
    assert stored.revoked_at is None
    assert stored.key_hash != out["apiKey"]  # only the hash is kept
    assert stored.prefix == out["apiKey"][: security.SHOWN_PREFIX_LENGTH]

    response = await app_config(http, out["apiKey"])
    assert response.status_code == 200, response.text
    client_json = response.json()["data"]["client"]
    assert client_json["id"] == out["clientId"]
    assert client_json["name"] == "Alpha Studio"
    assert client_json["enabledFeatures"] == list(ALL_FEATURES)


async def test_create_client_plain_output_shows_id_and_key(
    cli: Cli, http: httpx.AsyncClient
) -> None:
    result = await cli("admin", "create-client", "Beta Gym", "--slug", "beta")

    keys = CLIENT_KEY.findall(result.stdout)
    assert len(keys) == 1, result.stdout
    listed = await cli.json("admin", "list-clients")
    assert [(c["slug"], c["name"]) for c in listed] == [("beta", "Beta Gym")]
    client_id = listed[0]["id"]
    assert re.search(rf"\bclient id:\s*{client_id}\b", result.stdout), result.stdout
    assert "beta" in result.stdout
    assert "not shown again" in result.stdout
    await assert_key_works(http, keys[0], client_id)


async def test_create_client_with_a_taken_slug_exits_1(cli: Cli) -> None:
    await cli("admin", "create-client", "Alpha Studio")

    result = await cli("admin", "create-client", "Alpha  Studio!", expect=1)

    assert "already exists" in result.stderr
    assert "alpha-studio" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert len(await cli.json("admin", "list-clients")) == 1


async def test_create_client_with_unknown_time_zone_exits_1(cli: Cli) -> None:
    result = await cli("admin", "create-client", "Gamma", "--time-zone", "Mars/Olympus", expect=1)

    assert "Mars/Olympus" in result.stderr
    assert "Traceback" not in result.stderr
    assert await cli.json("admin", "list-clients") == []


# --- admin create-api-key / revoke-api-key --------------------------------------------------


async def test_create_api_key_by_id_and_by_slug_issues_more_working_keys(
    cli: Cli, db: Database, http: httpx.AsyncClient
) -> None:
    first = await cli.json("admin", "create-client", "Alpha Studio")
    client_id = first["clientId"]

    by_id = await cli.json("admin", "create-api-key", str(client_id), "--name", "ios")
    by_slug = await cli.json("admin", "create-api-key", "alpha-studio")
    plain = await cli("admin", "create-api-key", "alpha-studio")

    for issued in (by_id, by_slug):
        assert set(issued) == {"clientId", "keyId", "apiKey"}
        assert issued["clientId"] == client_id
        assert type(issued["keyId"]) is int
        assert security.looks_like_key(issued["apiKey"])
    plain_keys = CLIENT_KEY.findall(plain.stdout)
    assert len(plain_keys) == 1, plain.stdout
    keys = [first["apiKey"], by_id["apiKey"], by_slug["apiKey"], plain_keys[0]]
    assert len(set(keys)) == 4

    named = await key_row(db, by_id["apiKey"])
    assert named is not None
    assert (named.id, named.name, named.client_id) == (by_id["keyId"], "ios", client_id)
    for key in keys:
        await assert_key_works(http, key, client_id)
    listed = await cli.json("admin", "list-clients")
    assert listed[0]["liveKeys"] == 4


async def test_revoke_api_key_stops_that_key_only(
    cli: Cli, db: Database, http: httpx.AsyncClient
) -> None:
    first = await cli.json("admin", "create-client", "Alpha Studio")
    second = await cli.json("admin", "create-api-key", "alpha-studio")
    await assert_key_works(http, second["apiKey"], first["clientId"])

    result = await cli("admin", "revoke-api-key", str(second["keyId"]))

    assert f"revoked key {second['keyId']} of client {first['clientId']}" in result.stdout
    revoked = await key_row(db, second["apiKey"])
    assert revoked is not None
    assert revoked.revoked_at is not None
    assert await lookup(db, second["apiKey"]) is None
    await assert_key_refused(http, second["apiKey"])

    kept = await key_row(db, first["apiKey"])
    assert kept is not None
    assert kept.revoked_at is None
    resolved = await lookup(db, first["apiKey"])
    assert resolved is not None
    assert resolved.client is not None
    assert resolved.client.id == first["clientId"]
    await assert_key_works(http, first["apiKey"], first["clientId"])
    assert (await cli.json("admin", "list-clients"))[0]["liveKeys"] == 1

    # Revoking again is harmless and keeps the original revocation time.
    await cli("admin", "revoke-api-key", str(second["keyId"]))
    again = await key_row(db, second["apiKey"])
    assert again is not None
    assert again.revoked_at == revoked.revoked_at


async def test_revoke_unknown_api_key_exits_1(cli: Cli) -> None:
    result = await cli("admin", "revoke-api-key", "4242", expect=1)

    assert "4242" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


# --- admin set-default-client ---------------------------------------------------------------


async def test_set_default_client_switches_the_single_default(
    cli: Cli, db: Database, http: httpx.AsyncClient
) -> None:
    alpha = await cli.json("admin", "create-client", "Alpha Studio")
    beta = await cli.json("admin", "create-client", "Beta Gym")
    assert await default_client_ids(db) == []

    result = await cli("admin", "set-default-client", "alpha-studio")
    assert f"default client is now {alpha['clientId']}" in result.stdout
    assert await default_client_ids(db) == [alpha["clientId"]]

    await cli("admin", "set-default-client", str(beta["clientId"]))
    assert await default_client_ids(db) == [beta["clientId"]]
    listed = {c["id"]: c["isDefault"] for c in await cli.json("admin", "list-clients")}
    assert listed == {alpha["clientId"]: False, beta["clientId"]: True}

    # Setting the same default again changes nothing.
    await cli("admin", "set-default-client", "beta-gym")
    assert await default_client_ids(db) == [beta["clientId"]]

    response = await app_config(http, None)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["hasDefaultClient"] is True
    assert data["client"]["id"] == beta["clientId"]


async def test_unknown_client_exits_1_with_a_readable_message(cli: Cli) -> None:
    await cli("admin", "create-client", "Alpha Studio")

    for args in (
        ("admin", "create-api-key", "no-such-client"),
        ("admin", "set-default-client", "no-such-client"),
        ("admin", "create-api-key", "999"),
    ):
        result = await cli(*args, expect=1)
        assert result.stderr.startswith("error: "), result.stderr
        assert repr(args[-1]) in result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout == ""
    assert (await cli.json("admin", "list-clients"))[0]["liveKeys"] == 1


# --- admin universal-key --------------------------------------------------------------------


async def test_universal_key_replaces_the_previous_one(
    cli: Cli, db: Database, http: httpx.AsyncClient
) -> None:
    first = await cli.json("admin", "universal-key")
    assert set(first) == {"universalKey"}
    assert first["universalKey"].startswith(security.UNIVERSAL_KEY_PREFIX)
    assert security.looks_like_key(first["universalKey"])
    resolved = await lookup(db, first["universalKey"])
    assert resolved is not None
    assert resolved.universal is True

    second = await cli.json("admin", "universal-key")

    assert second["universalKey"] != first["universalKey"]
    old = await platform_key_row(db, first["universalKey"])
    new = await platform_key_row(db, second["universalKey"])
    assert old is not None
    assert new is not None
    assert old.revoked_at is not None
    assert new.revoked_at is None
    assert await lookup(db, first["universalKey"]) is None
    resolved = await lookup(db, second["universalKey"])
    assert resolved is not None
    assert resolved.universal is True
    assert resolved.client is None

    await assert_key_refused(http, first["universalKey"])
    response = await app_config(http, second["universalKey"])
    assert response.status_code == 200, response.text
    assert response.json()["data"]["hasDefaultClient"] is False

    plain = await cli("admin", "universal-key")
    third = re.findall(r"fytos_uni_[A-Za-z0-9]{40}", plain.stdout)
    assert len(third) == 1, plain.stdout
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        live = await session.scalar(
            select(func.count()).select_from(PlatformKey).where(PlatformKey.revoked_at.is_(None))
        )
    assert live == 1
    assert await lookup(db, second["universalKey"]) is None
    assert await lookup(db, third[0]) is not None


# --- admin list-clients ---------------------------------------------------------------------


async def test_list_clients_json(cli: Cli) -> None:
    assert await cli.json("admin", "list-clients") == []
    alpha = await cli.json("admin", "create-client", "Alpha Studio")
    beta = await cli.json("admin", "create-client", "Beta Gym", "--slug", "beta")
    await cli("admin", "create-api-key", "beta")
    await cli("admin", "set-default-client", "beta")

    listed = await cli.json("admin", "list-clients")

    assert listed == [
        {
            "id": alpha["clientId"],
            "slug": "alpha-studio",
            "name": "Alpha Studio",
            "status": "active",
            "isDefault": False,
            "liveKeys": 1,
        },
        {
            "id": beta["clientId"],
            "slug": "beta",
            "name": "Beta Gym",
            "status": "active",
            "isDefault": True,
            "liveKeys": 2,
        },
    ]
    table = (await cli("admin", "list-clients")).stdout.splitlines()
    assert len(table) == 2
    assert "alpha-studio" in table[0]
    assert "keys=1" in table[0]
    assert "(default)" not in table[0]
    assert "beta" in table[1]
    assert "keys=2" in table[1]
    assert table[1].endswith("Beta Gym (default)")


# --- demo -----------------------------------------------------------------------------------


async def test_demo_json_is_idempotent(
    cli: Cli, db: Database, http: httpx.AsyncClient, data_dir: Path
) -> None:
    first = await cli.json("demo")
    second = await cli.json("demo")

    assert first["clientId"] == second["clientId"]
    assert first["apiKey"] == second["apiKey"]
    assert first == second
    assert type(first["clientId"]) is int
    assert security.looks_like_key(first["apiKey"])
    assert (first["name"], first["slug"]) == (DEMO_NAME, DEMO_SLUG)

    listed = await cli.json("admin", "list-clients")
    demos = [c for c in listed if c["slug"] == DEMO_SLUG]
    assert len(listed) == 1
    assert len(demos) == 1
    assert demos[0]["id"] == first["clientId"]
    assert demos[0]["liveKeys"] == 1  # the second run reprinted the key, it did not add one
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Client)) == 1

    credentials = data_dir / "demo-credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert json.loads(credentials.read_text())["apiKey"] == first["apiKey"]

    response = await app_config(http, first["apiKey"])
    assert response.status_code == 200, response.text
    client = response.json()["data"]["client"]
    assert client["id"] == first["clientId"]
    assert client["name"] == DEMO_NAME
    assert client["branding"]["colors"] == DEMO_BRANDING
    assert client["timeZone"] == "Europe/London"


async def test_demo_plain_output_shows_the_key(cli: Cli) -> None:
    first = await cli.json("demo")

    result = await cli("demo")

    assert f"demo client: {first['clientId']} ({DEMO_NAME})" in result.stdout
    assert first["apiKey"] in result.stdout
    assert "/api/v1/app/config" in result.stdout


async def test_demo_becomes_default_when_there_is_none(cli: Cli, db: Database) -> None:
    await cli.json("admin", "create-client", "Alpha Studio")

    demo = await cli.json("demo")

    assert await default_client_ids(db) == [demo["clientId"]]
    listed = {c["slug"]: c["isDefault"] for c in await cli.json("admin", "list-clients")}
    assert listed == {"alpha-studio": False, DEMO_SLUG: True}


async def test_demo_keeps_an_existing_default(cli: Cli, db: Database) -> None:
    alpha = await cli.json("admin", "create-client", "Alpha Studio")
    await cli("admin", "set-default-client", "alpha-studio")

    await cli.json("demo")
    await cli.json("demo")

    assert await default_client_ids(db) == [alpha["clientId"]]


async def test_demo_issues_a_new_key_after_its_key_is_revoked(
    cli: Cli, db: Database, http: httpx.AsyncClient
) -> None:
    first = await cli.json("demo")
    row = await key_row(db, first["apiKey"])
    assert row is not None
    await cli("admin", "revoke-api-key", str(row.id))

    second = await cli.json("demo")

    assert second["clientId"] == first["clientId"]
    assert second["apiKey"] != first["apiKey"]
    await assert_key_refused(http, first["apiKey"])
    await assert_key_works(http, second["apiKey"], first["clientId"])
    assert await cli.json("demo") == second


# --- configuration errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("admin", "list-clients"),
        ("admin", "create-client", "Alpha"),
        ("demo", "--json"),
        ("db", "current"),
        ("db", "upgrade"),
    ],
)
def test_invalid_database_url_exits_2_naming_the_variable(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    cli = Cli(
        env=clean_env(
            STVOS_DATA_DIR=str(tmp_path / "data"),
            STVOS_DATABASE_URL="mysql://admin:hunter2secret@db.example/stvos",
        ),
        cwd=tmp_path,
    )

    result = cli.run(*args, expect=2)

    assert "STVOS_DATABASE_URL" in result.stderr
    assert "invalid configuration" in result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2secret" not in result.stderr  # the URL may carry a password
    assert result.stdout == ""
    assert not (tmp_path / "data").exists()  # nothing was created


def test_invalid_setting_names_each_bad_variable(tmp_path: Path) -> None:
    cli = Cli(
        env=clean_env(
            STVOS_DATA_DIR=str(tmp_path / "data"),
            STVOS_SERVER_PORT="not-a-port",
            STVOS_RATE_LIMIT_PER_MINUTE="0",
        ),
        cwd=tmp_path,
    )

    result = cli.run("admin", "list-clients", expect=2)

    assert "STVOS_SERVER_PORT" in result.stderr
    assert "STVOS_RATE_LIMIT_PER_MINUTE" in result.stderr
    assert "Traceback" not in result.stderr


# --- db upgrade / db current ----------------------------------------------------------------


def test_db_upgrade_and_current_on_a_fresh_sqlite_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    cli = Cli(env=clean_env(STVOS_DATA_DIR=str(data_dir)), cwd=tmp_path)
    head = migrations.head_revision(settings_for("sqlite+aiosqlite:///unused.db", tmp_path))
    assert head

    before = cli.run("db", "current")
    assert before.stdout.strip() == f"current: (empty)  latest: {head}"

    upgraded = cli.run("db", "upgrade")
    assert upgraded.stdout.strip() == f"database at {head}"
    assert (data_dir / "stvos.db").is_file()

    after = cli.run("db", "current")
    assert after.stdout.strip() == f"current: {head}  latest: {head}"

    # Upgrading an up-to-date database is a no-op, and the schema is usable.
    assert cli.run("db", "upgrade").stdout.strip() == f"database at {head}"
    created = cli.run_json("admin", "create-client", "Alpha Studio")
    assert cli.run_json("admin", "list-clients")[0]["id"] == created["clientId"]


def test_admin_commands_migrate_a_fresh_sqlite_data_dir_themselves(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    cli = Cli(env=clean_env(STVOS_DATA_DIR=str(data_dir)), cwd=tmp_path)

    demo = cli.run_json("demo")

    assert (data_dir / "stvos.db").is_file()
    head = migrations.head_revision(settings_for("sqlite+aiosqlite:///unused.db", tmp_path))
    assert cli.run("db", "current").stdout.strip() == f"current: {head}  latest: {head}"
    assert cli.run_json("demo") == demo


async def test_an_unmigrated_database_is_migrated_on_sqlite_and_refused_on_postgresql(
    is_postgres: bool, tmp_path: Path
) -> None:
    head = migrations.head_revision(settings_for("sqlite+aiosqlite:///unused.db", tmp_path))
    if not is_postgres:
        # The embedded database: any command brings the schema up to date itself.
        target = tmp_path / "elsewhere" / "nested" / "stvos-test.db"
        cli = Cli(
            env=clean_env(
                STVOS_DATA_DIR=str(tmp_path / "data"),
                STVOS_DATABASE_URL=f"sqlite+aiosqlite:///{target}",
            ),
            cwd=tmp_path,
        )
        assert await cli.json("admin", "list-clients") == []
        assert target.is_file()
        assert (await cli("db", "current")).stdout.strip() == f"current: {head}  latest: {head}"
        return

    # PostgreSQL: commands refuse an unmigrated schema until `stvos db upgrade` has run.
    admin_url = postgres_url()
    assert admin_url is not None
    name = f"stvos_cli_{uuid.uuid4().hex[:10]}"
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    admin_dsn = make_url(admin_url).set(drivername="postgresql")
    conn = await asyncpg.connect(admin_dsn.render_as_string(hide_password=False))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        cli = Cli(
            env=clean_env(STVOS_DATA_DIR=str(tmp_path / "data"), STVOS_DATABASE_URL=url),
            cwd=tmp_path,
        )
        refused = await cli("admin", "list-clients", expect=1)
        assert "stvos db upgrade" in refused.stderr
        assert "Traceback" not in refused.stderr
        await cli("demo", expect=1)
        current = await cli("db", "current")
        assert current.stdout.strip() == f"current: (empty)  latest: {head}"

        assert (await cli("db", "upgrade")).stdout.strip() == f"database at {head}"

        assert (await cli("db", "current")).stdout.strip() == f"current: {head}  latest: {head}"
        assert await cli.json("admin", "list-clients") == []
        demo = await cli.json("demo")
        assert [c["id"] for c in await cli.json("admin", "list-clients")] == [demo["clientId"]]
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def test_python_dash_m_stvos_runs_the_same_cli(cli: Cli) -> None:
    created = cli.run_json("admin", "create-client", "Alpha Studio")

    result = subprocess.run(
        [sys.executable, "-m", "stvos", "admin", "list-clients", "--json"],
        env=cli.env,
        cwd=cli.cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert [c["id"] for c in json.loads(result.stdout)] == [created["clientId"]]
