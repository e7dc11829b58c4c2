"""The ``stvos`` command: serve, migrate, administer clients and keys, load the demo.

Every command reads the same settings as the server (``STVOS_DATABASE_URL`` and friends). On
the embedded SQLite database, commands bring the schema up to date themselves; on PostgreSQL
run ``stvos db upgrade`` first (deployments migrate once, not from every process).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import DBAPIError

from stvos.config import Settings, SettingsError, get_settings

T = TypeVar("T")

app = typer.Typer(
    help="stvos: multi-tenant fitness operating system",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
admin_app = typer.Typer(
    help="Platform administration: clients, keys and accounts", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object, for scripts.")]


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _ensure_schema(settings: Settings) -> None:
    """Migrate the embedded database; on PostgreSQL only check that it is migrated."""
    from stvos import migrations

    try:
        if settings.is_sqlite:
            migrations.upgrade(settings)
            return
        up_to_date = migrations.is_up_to_date(settings)
    except (OSError, DBAPIError) as exc:
        typer.echo(f"error: cannot reach the database: {_reason(exc)}", err=True)
        raise typer.Exit(1) from None
    if not up_to_date:
        typer.echo(
            "The PostgreSQL schema is not up to date: run `stvos db upgrade` first.", err=True
        )
        raise typer.Exit(1)


def _run(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(session)`` in one platform-scope transaction."""
    from stvos.kit.tenancy import TenantScope

    async def in_transaction(database: Any) -> T:
        async with database.transaction(TenantScope.for_platform()) as session:
            return await work(session)

    return _run_with_database(settings, in_transaction)


def _run_with_database(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(database)``; domain errors and an unreachable database end in one line."""
    from stvos.kit.db import Database
    from stvos.kit.errors import StvosError

    async def main() -> T:
        database = Database(settings)
        try:
            return await work(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except StvosError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except (OSError, DBAPIError) as exc:
        typer.echo(f"error: cannot reach the database: {_reason(exc)}", err=True)
        raise typer.Exit(1) from None


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return f"{type(original).__name__}: {original}".splitlines()[0][:200]


def _emit(as_json: bool, payload: dict[str, Any], lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(payload))
    else:
        typer.echo("\n".join(lines))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes")] = None,
) -> None:
    """Run the HTTP API (migrates an embedded SQLite database first)."""
    import uvicorn

    settings = _settings()
    _ensure_schema(settings)
    bind_host = host or settings.server.host
    bind_port = settings.server.port if port is None else port
    typer.echo(
        f"stvos {settings.version} on http://{bind_host}:{bind_port}/api/v1 "
        f"(docs: /api/v1/docs, database: {settings.database_url.split('://')[0]})",
        err=True,
    )
    uvicorn.run(
        "stvos.app:server_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=settings.server.workers if workers is None else workers,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from stvos import migrations

    settings = _settings()
    migrations.upgrade(settings, revision)
    typer.echo(f"database at {asyncio.run(migrations.current_revision(settings))}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and the latest one."""
    from stvos import migrations

    settings = _settings()
    current = asyncio.run(migrations.current_revision(settings))
    typer.echo(f"current: {current or '(empty)'}  latest: {migrations.head_revision(settings)}")


@db_app.command("purge")
def db_purge() -> None:
    """Delete expired rows now (servers also do it every STVOS_HOUSEKEEPING_INTERVAL_MINUTES)."""
    from stvos.housekeeping.service import purge_expired

    settings = _settings()
    _ensure_schema(settings)
    counts = _run(settings, purge_expired)
    typer.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))


@admin_app.command("create-client")
def create_client(
    name: str,
    slug: Annotated[str | None, typer.Option(help="URL-safe id; derived from NAME")] = None,
    time_zone: Annotated[str, typer.Option(help="IANA time zone")] = "UTC",
    requires_voucher: Annotated[bool, typer.Option(help="Sign-up needs a voucher")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a client and its first API key (shown once)."""
    from stvos.tenancy import service

    settings = _settings()
    _ensure_schema(settings)

    async def work(session: Any) -> dict[str, Any]:
        client = await service.create_client(
            session, name=name, slug=slug, time_zone=time_zone, requires_voucher=requires_voucher
        )
        _key, raw = await service.issue_api_key(session, client)
        return {"clientId": client.id, "slug": client.slug, "apiKey": raw}

    out = _run(settings, work)
    _emit(
        as_json,
        {"clientId": out["clientId"], "apiKey": out["apiKey"]},
        [
            f"client id: {out['clientId']} (slug {out['slug']})",
            f"API key:   {out['apiKey']}",
            "Store the key now: it is not shown again.",
        ],
    )


@admin_app.command("list-clients")
def list_clients(as_json: JsonFlag = False) -> None:
    """List clients with their status and live key count."""
    from stvos.tenancy import service

    settings = _settings()
    _ensure_schema(settings)

    async def work(session: Any) -> list[dict[str, Any]]:
        return [
            {
                "id": c.id,
                "slug": c.slug,
                "name": c.name,
                "status": c.status,
                "isDefault": c.is_default,
                "liveKeys": await service.count_live_keys(session, c),
            }
            for c in await service.list_clients(session)
        ]

    rows = _run(settings, work)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        default = " (default)" if row["isDefault"] else ""
        typer.echo(
            f"{row['id']:>5}  {row['slug']:<24} {row['status']:<10} "
            f"keys={row['liveKeys']}  {row['name']}{default}"
        )


@admin_app.command("create-api-key")
def create_api_key(
    client: Annotated[str, typer.Argument(help="Client id or slug")],
    name: Annotated[str, typer.Option(help="A label for the key")] = "default",
    as_json: JsonFlag = False,
) -> None:
    """Issue another API key for CLIENT (shown once)."""
    from stvos.tenancy import service

    settings = _settings()
    _ensure_schema(settings)

    async def work(session: Any) -> dict[str, Any]:
        found = await service.find_client(session, client)
        key, raw = await service.issue_api_key(session, found, name=name)
        return {"clientId": found.id, "keyId": key.id, "apiKey": raw}

    out = _run(settings, work)
    _emit(as_json, out, [f"key id:  {out['keyId']}", f"API key: {out['apiKey']}"])


@admin_app.command("revoke-api-key")
def revoke_api_key(key_id: Annotated[int, typer.Argument(help="The key's id")]) -> None:
    """Revoke an API key (running servers stop accepting it within the key cache time)."""
    from stvos.tenancy import service

    settings = _settings()
    _ensure_schema(settings)

    async def work(session: Any) -> int:
        key = await service.revoke_api_key(session, key_id)
        return key.client_id

    client_id = _run(settings, work)
    typer.echo(f"revoked key {key_id} of client {client_id}")


@admin_app.command("set-default-client")
def set_default_client(client: Annotated[str, typer.Argument(help="Client id or slug")]) -> None:
    """Make CLIENT the one apps without a client key fall back to."""
    from stvos.tenancy import service

    settings = _settings()
    _ensure_schema(settings)

    async def work(session: Any) -> int:
        found = await service.find_client(session, client)
        await service.set_default_client(session, found)
        return found.id

    typer.echo(f"default client is now {_run(settings, work)}")


@admin_app.command("universal-key")
def universal_key(as_json: JsonFlag = False) -> None:
    """Issue the platform's universal API key (the previous one stops working)."""
    from stvos.tenancy import service

    settings = _settings()
    _ensure_schema(settings)
    raw = _run(settings, service.issue_universal_key)
    _emit(
        as_json,
        {"universalKey": raw},
        [f"universal key: {raw}", "Store it now: it is not shown again."],
    )


class AccountRole(StrEnum):
    CLIENT_ADMIN = "client_admin"
    TRAINER = "trainer"
    USER = "user"


def _valid_email(email: str) -> str:
    from pydantic import EmailStr, TypeAdapter, ValidationError

    try:
        return str(TypeAdapter(EmailStr).validate_python(email.strip()))
    except ValidationError:
        typer.echo(f"error: {email!r} is not a valid email address", err=True)
        raise typer.Exit(2) from None


def _check_password(password: str) -> None:
    from stvos.accounts.passwords import MAX_LENGTH, MIN_LENGTH

    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        typer.echo(f"error: a password needs {MIN_LENGTH} to {MAX_LENGTH} characters", err=True)
        raise typer.Exit(2)


@admin_app.command("create-admin")
def create_admin(
    email: str,
    password: Annotated[
        str | None, typer.Option(help="Asked for (twice, hidden) when not given")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a platform admin account (signs in at POST /api/v1/admin/auth/login)."""
    from stvos.admin import service

    settings = _settings()
    address = _valid_email(email)
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    _check_password(password)
    _ensure_schema(settings)

    async def work(session: Any) -> dict[str, Any]:
        admin = await service.create_admin(session, email=address, password=password, name=name)
        return {"adminId": admin.id, "email": admin.email}

    out = _run(settings, work)
    _emit(as_json, out, [f"platform admin {out['adminId']}: {out['email']}"])


@admin_app.command("create-user")
def create_user(
    client: Annotated[str, typer.Argument(help="Client id or slug")],
    email: str,
    role: Annotated[AccountRole, typer.Option(help="The account's role in the client")],
    password: Annotated[
        str | None, typer.Option(help="Generated (and printed once) when not given")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an account in CLIENT, e.g. its first studio admin (role client_admin)."""
    import secrets

    from stvos.accounts.service import create_user as create_account
    from stvos.models import Role
    from stvos.tenancy import service

    settings = _settings()
    address = _valid_email(email)
    generated = password is None
    secret = secrets.token_urlsafe(18) if password is None else password
    _check_password(secret)
    _ensure_schema(settings)

    async def work(session: Any) -> dict[str, Any]:
        found = await service.find_client(session, client)
        user = await create_account(
            session,
            email=address,
            password=secret,
            name=name,
            role=Role(role.value),
            client_id=found.id,
        )
        return {"userId": user.id, "clientId": found.id, "email": user.email, "role": user.role}

    out = _run(settings, work)
    lines = [f"user {out['userId']} ({out['role']}) in client {out['clientId']}: {out['email']}"]
    if generated:
        out["password"] = secret
        lines.append(f"password: {secret}  (generated; store it now, it is not shown again)")
    _emit(as_json, out, lines)


@app.command()
def demo(as_json: JsonFlag = False) -> None:
    """Create (once) the demo client, its key and a login for every role; print them."""
    from stvos.demo import ensure_demo

    settings = _settings()
    _ensure_schema(settings)
    out = _run_with_database(settings, lambda database: ensure_demo(database, settings))
    base = f"http://{settings.server.host}:{settings.server.port}/api/v1"
    lines = [
        f"demo client: {out['clientId']} ({out['name']})",
        f"API key:     {out['apiKey']}",
        "logins:",
        *(
            f"  {role:<8} {login['email']:<26} {login['password']}"
            for role, login in out["logins"].items()
        ),
        f"Try: curl -H 'X-API-Key: {out['apiKey']}' {base}/app/config",
    ]
    _emit(as_json, out, lines)


def main() -> None:
    try:
        app()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        sys.exit(2)
