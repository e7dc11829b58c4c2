from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI


async def test_health_answers_the_published_fields(http: httpx.AsyncClient) -> None:
    response = await http.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {"status", "timestamp", "uptime", "version", "environment"}
    assert data["status"] == "ok"
    assert data["timestamp"].endswith("Z")
    assert data["environment"] == "test"
    assert data["uptime"] >= 0


async def test_detailed_health_reports_database_latency(http: httpx.AsyncClient) -> None:
    response = await http.get("/health/detailed")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["database"]["status"] == "ok"
    assert data["database"]["latencyMs"] >= 0
    assert data["database"]["backend"] in {"sqlite", "postgresql"}
    assert data["rateLimiter"]["backend"] == "memory"
    assert data["memory"]["rssBytes"] > 0
    assert data["runtime"]["python"].startswith("3.")


async def test_health_opens_no_database_session(
    app: FastAPI, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Monitors poll it: it must not pay for a session and transaction it never uses.
    database = app.state.db
    opened: list[object] = []
    real = database.session

    def counting(*args: Any, **kwargs: Any) -> Any:
        opened.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(database, "session", counting)
    assert (await http.get("/health")).status_code == 200
    assert (await http.get("/openapi.json")).status_code == 200
    assert opened == []
    # The counter does see the sessions of routes that need one.
    assert (await http.get("/app/config")).status_code in (200, 401)
    assert opened
