"""Expired rows are purged; live ones stay."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from stvos.housekeeping.service import REFRESH_TOKEN_GRACE
from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import IdempotencyRecord, OnboardingSession, RefreshToken
from tests.support.factories import TestClient


async def _count(db: Database, model: type) -> int:
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_expired_rows_go_and_live_rows_stay(
    app: FastAPI, http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    registered = await http.post(
        "/auth/register",
        json={"email": "old@example.com", "password": "long-enough-pass"},
        headers=client_a.headers,
    )
    assert registered.status_code == 201
    onboarding = await http.post(
        "/onboarding/sessions",
        json={},
        headers={**client_a.headers, "Idempotency-Key": "onboarding-1"},
    )
    assert onboarding.status_code == 201
    assert await _count(db, IdempotencyRecord) == 1

    housekeeper = app.state.housekeeper
    assert await housekeeper.run_once() == {
        "idle_playback_sessions_closed": 0,
        "idempotency_records": 0,
        "platform_idempotency_records": 0,
        "password_reset_tokens": 0,
        "refresh_tokens": 0,
        "onboarding_sessions": 0,
    }

    clock.advance(timedelta(days=2))  # past the onboarding day and the idempotency window
    counts = await housekeeper.run_once()
    assert counts["onboarding_sessions"] == 1
    assert counts["idempotency_records"] == 1
    assert await _count(db, OnboardingSession) == 0
    assert await _count(db, IdempotencyRecord) == 0
    assert await _count(db, RefreshToken) == 1  # refresh tokens live 30 days

    clock.advance(timedelta(days=30) + REFRESH_TOKEN_GRACE)
    counts = await housekeeper.run_once()
    assert counts["refresh_tokens"] == 1
    assert await _count(db, RefreshToken) == 0
