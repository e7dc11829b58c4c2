"""Shared helpers of the live classes tests: trainers with a login, and live classes written as
rows (so each test file depends only on the part it tests)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models.live import LiveClass, LiveClassStatus, LiveRegistration, RegistrationStatus
from stvos.models.trainer import Trainer
from tests.support.factories import TestClient, TestUser, make_user


@dataclass(frozen=True)
class LiveTrainer:
    """A signed-in trainer (role trainer) with a Trainer profile linked to the login."""

    user: TestUser
    trainer_id: int

    @property
    def headers(self) -> dict[str, str]:
        return self.user.headers


async def make_live_trainer(
    http: httpx.AsyncClient,
    db: Database,
    client: TestClient,
    email: str,
    *,
    name: str = "Lena Live",
    time_zone: str | None = None,
) -> LiveTrainer:
    user = await make_user(http, db, client, email, role="trainer", name=name)
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        trainer = Trainer(user_id=user.id, name=name, time_zone=time_zone, certifications=[])
        session.add(trainer)
        await session.flush()
        return LiveTrainer(user, trainer.id)


async def make_trainer_row(
    db: Database, client: TestClient, *, name: str = "No Login", time_zone: str | None = None
) -> int:
    """A trainer profile without a login (staff schedule for them)."""
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        trainer = Trainer(name=name, time_zone=time_zone, certifications=[])
        session.add(trainer)
        await session.flush()
        return trainer.id


async def make_live_class(
    db: Database,
    client: TestClient,
    trainer_id: int,
    starts_at: datetime,
    *,
    title: str = "Live HIIT",
    minutes: int = 45,
    capacity: int = 20,
    status: str = LiveClassStatus.SCHEDULED.value,
    is_premium: bool = False,
    **fields: Any,
) -> int:
    """A live class row as the scheduler writes it (an opaque, unique room name)."""
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        live = LiveClass(
            trainer_id=trainer_id,
            title=title,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes),
            duration_minutes=minutes,
            capacity=capacity,
            status=status,
            registered_count=0,
            waitlist_seq=0,
            is_premium=is_premium,
            room_name="lc_" + secrets.token_urlsafe(12),
            **fields,
        )
        session.add(live)
        await session.flush()
        return live.id


async def add_registration(
    db: Database,
    client: TestClient,
    live_class_id: int,
    user_id: int,
    at: datetime,
    *,
    waitlisted: bool = False,
) -> int:
    """A seat (or a waitlist place) as the registration service writes it, counters kept."""
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        live = await session.get_one(LiveClass, live_class_id)
        if waitlisted:
            live.waitlist_seq += 1
            seq: int | None = live.waitlist_seq
            status = RegistrationStatus.WAITLISTED.value
        else:
            live.registered_count += 1
            seq = None
            status = RegistrationStatus.REGISTERED.value
        registration = LiveRegistration(
            live_class_id=live_class_id,
            user_id=user_id,
            status=status,
            waitlist_seq=seq,
            registered_at=at,
        )
        session.add(registration)
        await session.flush()
        return registration.id


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["code"] == code, body
    return body


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]
