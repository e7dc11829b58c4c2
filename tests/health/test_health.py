from __future__ import annotations

import httpx


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
