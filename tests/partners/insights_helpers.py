"""Builders for the partner insights tests (members, dashboard, analytics, billing).

Memberships are written straight through the model (voucher redemption is tested elsewhere);
watching is either real playback (sessions and heartbeats) or ledger rows written directly.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select, update

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.kit.zones import quarter_hour_floor
from stvos.models import (
    ClassProgress,
    Client,
    Partner,
    PartnerMembership,
    User,
    WatchLedger,
)
from tests.support.factories import TestClient, TestUser


async def set_partner(db: Database, client: TestClient, partner_id: int, **values: Any) -> None:
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        await session.execute(update(Partner).where(Partner.id == partner_id).values(**values))


async def add_user(
    db: Database,
    client: TestClient,
    email: str,
    name: str | None = "Member",
    *,
    last_login_at: datetime | None = None,
    deleted_at: datetime | None = None,
) -> int:
    """A user row without a sign-in (no password hashing: fast for bulk members)."""
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        user = User(
            email=email,
            email_normalized=email.lower(),
            password_hash="!",
            name=name,
            last_login_at=last_login_at,
            deleted_at=deleted_at,
        )
        session.add(user)
        await session.flush()
        return user.id


async def add_member(
    db: Database,
    client: TestClient,
    partner_id: int,
    user_id: int,
    joined_at: datetime,
    access_until: datetime | None = None,
    premium: bool = False,
) -> int:
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        row = PartnerMembership(
            partner_id=partner_id,
            user_id=user_id,
            joined_at=joined_at,
            access_until=access_until,
            premium=premium,
        )
        session.add(row)
        await session.flush()
        return row.id


async def add_ledger(
    db: Database,
    client: TestClient,
    *rows: tuple[int, int, date | datetime, int, int],
) -> None:
    """Ledger rows ``(user_id, class_id, when, seconds, completions)``.

    ``when``: an instant (its quarter hour), or a date (noon UTC of that day, the same calendar
    day in every zone from UTC-12 to UTC+11).
    """
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        zone_name = await session.scalar(select(Client.time_zone).where(Client.id == client.id))
        zone = ZoneInfo(zone_name or "UTC")
        for user_id, class_id, when, s, c in rows:
            if isinstance(when, datetime):
                period = quarter_hour_floor(when)
            else:
                period = datetime(when.year, when.month, when.day, 12, tzinfo=UTC)
            session.add(
                WatchLedger(
                    user_id=user_id,
                    class_id=class_id,
                    period_start=period,
                    day=period.astimezone(zone).date(),
                    watched_seconds=s,
                    completions=c,
                )
            )


async def add_progress(
    db: Database,
    client: TestClient,
    user_id: int,
    class_id: int,
    last_watched_at: datetime,
    completed_at: datetime | None = None,
) -> None:
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        session.add(
            ClassProgress(
                user_id=user_id,
                class_id=class_id,
                covered=b"",
                covered_buckets=0,
                resume_position=0,
                last_watched_at=last_watched_at,
                completed_at=completed_at,
            )
        )


async def watch(
    http: httpx.AsyncClient, clock: FrozenClock, user: TestUser, class_id: int, seconds: int
) -> dict[str, Any]:
    """Real playback: start a session and send a heartbeat every 30 s of (frozen) time."""
    response = await http.post("/sessions/start", json={"classId": class_id}, headers=user.headers)
    assert response.status_code == 201, response.text
    session_id = response.json()["data"]["id"]
    data: dict[str, Any] = {}
    for position in range(30, seconds + 1, 30):
        clock.advance(30)
        response = await http.post(
            f"/sessions/{session_id}/progress", json={"position": position}, headers=user.headers
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
    return data


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
