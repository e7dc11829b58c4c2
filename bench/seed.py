"""Seeding at scale, fast: the demo studio (trainers with services and weekly hours, a partner
with staff, categories) made by ``stvos.demo.ensure_demo``, then bulk rows written with
SQLAlchemy Core executemany: classes, users (one argon2id hash reused), live sign-ins (refresh
families), playback sessions with their class progress, and other clients with their keys,
categories and classes. On PostgreSQL the bulk writer connects as the login role (the
migration owner), outside the app's row-level security; every row carries its ``client_id``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from stvos.accounts.passwords import _hasher
from stvos.accounts.tokens import AccessClaims, Audience, TokenSigner
from stvos.config import Settings, load_settings
from stvos.demo import ensure_demo
from stvos.kit import security
from stvos.kit.db import Database
from stvos.migrations import upgrade
from stvos.models import (
    ApiKey,
    Category,
    ClassProgress,
    Client,
    OnDemandClass,
    PlaybackSession,
    RefreshToken,
    Trainer,
    TrainerService,
    User,
)

JWT_SECRET = "bench-jwt-secret-" + "x" * 32
PASSWORD = "bench-password-123"  # noqa: S105 - the seeded users' password
TOKEN_TTL = 86_400
CHUNK = 5_000
WORDS = [
    "yoga", "pilates", "core", "hiit", "stretch", "strength", "cardio", "barre", "boxing",
    "mobility", "flow", "power", "tabata", "spin", "dance", "balance", "recovery", "sculpt",
]  # fmt: skip
INTENSITIES = ["low", "medium", "high"]
PG_ADMIN = "postgresql://postgres@localhost:5432/postgres"


@dataclass(frozen=True)
class Scale:
    clients: int
    classes: int
    users: int
    sessions: int = 2_000

    @property
    def label(self) -> str:
        return f"{self.clients}c-{self.classes // 1000}k-{self.users}u"


@dataclass
class Seeded:
    settings: Settings
    database_url: str
    client_id: int
    api_key: str
    users: list[tuple[int, str, str]]  # (id, email, access token)
    sessions: list[tuple[int, int]]  # (session id, user id)
    progress: list[int]  # the class progress row of each session (same order)
    trainer_services: list[tuple[int, int]]  # (trainer id, service id)
    category: str
    partner_login: dict[str, str]
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    env: dict[str, str] = field(default_factory=dict)


def bench_settings(database_url: str, data_dir: Path) -> tuple[Settings, dict[str, str]]:
    """Settings for seeding and in-process counting, and the same as environment variables
    for ``stvos serve`` (the JWT secret must match: tokens are minted here)."""
    env = {
        "STVOS_ENVIRONMENT": "test",
        "STVOS_DATA_DIR": str(data_dir),
        "STVOS_DATABASE_URL": database_url,
        "STVOS_RATE_LIMIT_ENABLED": "false",
        "STVOS_LOG_LEVEL": "WARNING",
        "STVOS_HOUSEKEEPING_INTERVAL_MINUTES": "0",
        "STVOS_AUTH_JWT_SECRET": JWT_SECRET,
        "STVOS_AUTH_ACCESS_TOKEN_TTL_SECONDS": str(TOKEN_TTL),
        "STVOS_AUTH_LOGIN_PER_ACCOUNT": "1000000",
        "STVOS_AUTH_LOGIN_PER_CLIENT": "1000000",
    }
    settings = load_settings(
        environment="test",
        data_dir=data_dir,
        database={"url": database_url},
        rate_limit={"enabled": False},
        log_level="WARNING",
        housekeeping_interval_minutes=0,
        auth={
            "jwt_secret": JWT_SECRET,
            "access_token_ttl_seconds": TOKEN_TTL,
            "login_per_account": 1_000_000,
            "login_per_client": 1_000_000,
        },
    )
    return settings, env


def fresh_database(kind: str, name: str, data_dir: Path) -> str:
    """A new empty database: a SQLite file, or a scratch PostgreSQL database."""
    if kind == "sqlite":
        path = data_dir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite+aiosqlite:///{path}"
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return f"postgresql+asyncpg://postgres@localhost:5432/{name}"


def drop_database(kind: str, name: str) -> None:
    if kind == "postgres":
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def psql(*commands: str, url: str = PG_ADMIN) -> None:
    args = ["psql", url, "-q", "-v", "ON_ERROR_STOP=1"]
    for command in commands:
        args += ["-c", command]
    subprocess.run(args, check=True, capture_output=True, text=True)


async def _bulk(conn: AsyncConnection, table: Any, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name == "postgresql" and table.name == OnDemandClass.__tablename__:
        await _copy(conn, table, rows)
        return
    for start in range(0, len(rows), CHUNK):
        await conn.execute(table.insert(), rows[start : start + CHUNK])


async def _copy(conn: AsyncConnection, table: Any, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: the rows with COPY, one statement per chunk, in the open transaction.

    An executemany is one statement per row to PostgreSQL, and ``on_demand_classes`` has
    statement-level triggers (the categories' class counts, migration 0017): per row, they
    would update the same few counts rows 100,000 times in one transaction (the 1,000-client
    100k seed: 36 -> 160 s); per COPY they update each category's row once per chunk.
    """
    if not rows:
        return
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    columns = list(rows[0])
    as_json = {c.name for c in table.columns if isinstance(c.type, JSON)}
    for start in range(0, len(rows), CHUNK):
        records = [
            tuple(json.dumps(row[c]) if c in as_json else row[c] for c in columns)
            for row in rows[start : start + CHUNK]
        ]
        await driver.copy_records_to_table(table.name, records=records, columns=columns)


async def seed(kind: str, scale: Scale, data_dir: Path, name: str) -> Seeded:
    began = datetime.now(UTC)
    database_url = fresh_database(kind, name, data_dir)
    settings, env = bench_settings(database_url, data_dir)
    await asyncio.to_thread(upgrade, settings)  # Alembic runs its own event loop
    database = Database(settings)
    try:
        demo = await ensure_demo(database, settings)
    finally:
        await database.dispose()
    client_id: int = demo["clientId"]
    password_hash = _hasher.hash(PASSWORD)
    now = datetime.now(UTC)
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            trainers = [
                (t_id, t_name)
                for t_id, t_name in await conn.execute(
                    select(Trainer.id, Trainer.name)
                    .where(Trainer.client_id == client_id)
                    .order_by(Trainer.id)
                )
            ]
            categories = [
                (c_id, c_name)
                for c_id, c_name in await conn.execute(
                    select(Category.id, Category.name)
                    .where(Category.client_id == client_id)
                    .order_by(Category.id)
                )
            ]
            existing = await conn.scalar(
                select(func.count()).where(OnDemandClass.client_id == client_id)
            )
            classes = [
                _class_row(client_id, i, trainers, categories, now)
                for i in range(max(0, scale.classes - int(existing or 0)))
            ]
            await _bulk(conn, OnDemandClass.__table__, classes)
            users = [
                {
                    "client_id": client_id,
                    "email": f"bench-user-{i}@example.com",
                    "email_normalized": f"bench-user-{i}@example.com",
                    "password_hash": password_hash,
                    "name": f"Bench User {i}",
                    "role": "user",
                    "status": "active",
                    "profile": {},
                    "settings": {},
                    "token_version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(scale.users)
            ]
            await _bulk(conn, User.__table__, users)
            user_rows = (
                await conn.execute(
                    select(User.id, User.email)
                    .where(User.client_id == client_id, User.email.like("bench-user-%"))
                    .order_by(User.id)
                )
            ).all()
            families = {uid: uuid.uuid4().hex for uid, _ in user_rows}
            await _bulk(
                conn,
                RefreshToken.__table__,
                [
                    {
                        "client_id": client_id,
                        "user_id": uid,
                        "family": families[uid],
                        "token_hash": hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
                        "created_at": now,
                        "expires_at": now + timedelta(days=30),
                    }
                    for uid, _ in user_rows
                ],
            )
            class_ids = list(
                await conn.scalars(
                    select(OnDemandClass.id)
                    .where(OnDemandClass.client_id == client_id)
                    .order_by(OnDemandClass.id)
                )
            )
            watchers = user_rows[: scale.sessions]
            await _bulk(
                conn,
                PlaybackSession.__table__,
                [
                    {
                        "client_id": client_id,
                        "user_id": uid,
                        "class_id": class_ids[i % len(class_ids)],
                        "device_id": "bench",
                        "status": "active",
                        "started_at": now,
                        "last_heartbeat_at": now,
                        "position_seconds": 0,
                        "credited_seconds": 0,
                    }
                    for i, (uid, _) in enumerate(watchers)
                ],
            )
            sessions = (
                await conn.execute(
                    select(PlaybackSession.id, PlaybackSession.user_id, PlaybackSession.class_id)
                    .where(
                        PlaybackSession.client_id == client_id,
                        PlaybackSession.device_id == "bench",
                    )
                    .order_by(PlaybackSession.id)
                )
            ).all()
            await _bulk(
                conn,
                ClassProgress.__table__,
                [
                    {
                        "client_id": client_id,
                        "user_id": uid,
                        "class_id": cid,
                        "covered": b"",
                        "covered_buckets": 0,
                        "resume_position": 0,
                        "resume_session_id": sid,
                        "last_watched_at": now,
                    }
                    for sid, uid, cid in sessions
                ],
            )
            progress_of = {
                sid: pid
                for sid, pid in await conn.execute(
                    select(ClassProgress.resume_session_id, ClassProgress.id).where(
                        ClassProgress.client_id == client_id
                    )
                )
            }
            others = await _other_clients(conn, scale, now)
            trainer_services = [
                (t_id, s_id)
                for t_id, s_id in await conn.execute(
                    select(TrainerService.trainer_id, TrainerService.id)
                    .where(
                        TrainerService.client_id == client_id,
                        TrainerService.is_active.is_(True),
                    )
                    .order_by(TrainerService.trainer_id, TrainerService.id)
                )
            ]
            total_classes = await conn.scalar(select(func.count()).select_from(OnDemandClass))
            total_clients = await conn.scalar(select(func.count()).select_from(Client))
        # After a bulk load, as autovacuum would do soon after one: planner statistics, and (on
        # PostgreSQL) the visibility map that lets index-only scans skip the table's rows.
        if kind == "postgres":
            async with engine.connect() as conn:
                await conn.execute(select(func.now()))  # connection works
            psql("VACUUM ANALYZE", url=database_url.replace("+asyncpg", ""))
        else:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()

    signer = TokenSigner(settings)
    users_out = []
    for uid, email in user_rows:
        claims = AccessClaims(
            audience=Audience.USER,
            subject_id=uid,
            token_version=1,
            client_id=client_id,
            role="user",
            family=families[uid],
        )
        users_out.append((uid, email, signer.issue(claims).token))
    return Seeded(
        settings=settings,
        database_url=database_url,
        client_id=client_id,
        api_key=demo["apiKey"],
        users=users_out,
        sessions=[(sid, uid) for sid, uid, _ in sessions],
        progress=[progress_of[sid] for sid, _, _ in sessions],
        trainer_services=trainer_services,
        category=categories[0][1],
        partner_login=demo["logins"]["partner"],
        counts={
            "clients": int(total_clients or 0),
            "otherClients": others,
            "classesOfClient": len(class_ids),
            "classesAll": int(total_classes or 0),
            "users": len(user_rows),
            "sessions": len(sessions),
            "trainerServices": len(trainer_services),
        },
        seconds=round((datetime.now(UTC) - began).total_seconds(), 1),
        env=env,
    )


def _class_row(
    client_id: int,
    i: int,
    trainers: list[tuple[int, str]],
    categories: list[tuple[int, str]],
    now: datetime,
) -> dict[str, Any]:
    trainer_id, trainer_name = trainers[i % len(trainers)] if trainers else (None, "")
    category_id, category_name = categories[i % len(categories)] if categories else (None, "")
    a, b = WORDS[i % len(WORDS)], WORDS[(i * 7 + 3) % len(WORDS)]
    return {
        "client_id": client_id,
        "name": f"{a.title()} {b} {i}",
        "description": f"A {a} class with {b} blocks, number {i}.",
        "video_url": f"https://cdn.example.com/v/{i}.m3u8",
        "video_provider": "hls",
        "duration_minutes": 10 + (i % 6) * 10,
        # Every category gets every intensity (i % 3 alone would give each category one, when
        # the number of categories is a multiple of 3, and the filtered list scenario nothing).
        "intensity": INTENSITIES[(i // max(1, len(categories))) % 3],
        "is_premium": i % 5 == 0,
        "equipment": [],
        "tags": [a, b],
        "trainer_id": trainer_id,
        "category_id": category_id,
        "status": "published",
        "published_at": now - timedelta(minutes=i + 1),
        "is_featured": i < 5,
        "featured_order": i,
        "play_count": i % 97,
        "search_people": f"{trainer_name} {category_name}".strip(),
        "created_at": now,
        "updated_at": now,
    }


async def _other_clients(conn: AsyncConnection, scale: Scale, now: datetime) -> int:
    """The other tenants of a multi-client run: each a key, a category and 20 classes."""
    count = scale.clients - 1
    if count <= 0:
        return 0
    await _bulk(
        conn,
        Client.__table__,
        [
            {
                "name": f"Bench Client {i}",
                "slug": f"bench-client-{i}",
                "status": "active",
                "is_default": False,
                "requires_voucher": False,
                "time_zone": "UTC",
                "colors": {},
                "enabled_features": ["classes", "coach_connect"],
                "settings": {},
                "created_at": now,
                "updated_at": now,
            }
            for i in range(count)
        ],
    )
    ids = list(
        await conn.scalars(
            select(Client.id).where(Client.slug.like("bench-client-%")).order_by(Client.id)
        )
    )
    keys = []
    for cid in ids:
        raw = security.new_client_key()
        keys.append(
            {
                "client_id": cid,
                "name": "default",
                "prefix": security.shown_prefix(raw),
                "key_hash": security.hash_key(raw),
                "created_at": now,
                "updated_at": now,
            }
        )
    await _bulk(conn, ApiKey.__table__, keys)
    await _bulk(
        conn,
        Category.__table__,
        [
            {
                "client_id": cid,
                "name": "General",
                "slug": "general",
                "sort_order": 0,
                "is_active": True,
                "created_at": now,
                "updated_at": now,
            }
            for cid in ids
        ],
    )
    category_of = dict(
        (
            await conn.execute(
                select(Category.client_id, Category.id).where(Category.client_id.in_(ids))
            )
        ).all()
    )
    rows = []
    for cid in ids:
        for j in range(20):
            row = _class_row(cid, j, [], [], now)
            row["category_id"] = category_of[cid]
            rows.append(row)
    await _bulk(conn, OnDemandClass.__table__, rows)
    return len(ids)


async def refresh_sessions(database_url: str, client_id: int) -> None:
    """Keep the seeded sessions alive (a session silent for 5 minutes is closed)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(PlaybackSession)
                .where(PlaybackSession.client_id == client_id, PlaybackSession.device_id == "bench")
                .values(status="active", ended_at=None, last_heartbeat_at=datetime.now(UTC))
            )
    finally:
        await engine.dispose()
