from __future__ import annotations

import json
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


# --- the liveness probe in front of the router --------------------------------------------------


async def test_liveness_is_answered_before_the_router(
    app: FastAPI, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The route only declares it (policy, docs): a poll never reaches FastAPI's routing.
    from stvos.health import router as health_router

    def unreachable(*args: Any) -> bytes:
        raise AssertionError("the liveness route ran")

    monkeypatch.setattr(health_router, "liveness_json", unreachable)
    response = await http.get("/health", headers={"X-Request-ID": "probe-request-1"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == "probe-request-1"
    assert response.json()["data"]["status"] == "ok"


async def test_liveness_route_and_probe_answer_alike(app: FastAPI, http: httpx.AsyncClient) -> None:
    from starlette.requests import Request

    from stvos.health import router as health_router

    # The declared route's endpoint, as the router would call it.
    request = Request({"type": "http", "app": app, "method": "GET", "headers": []})
    declared = await health_router.health(request)
    probed = await http.get("/health")
    assert probed.headers["content-type"] == declared.media_type
    first, second = json.loads(bytes(declared.body)), probed.json()
    assert set(first) == set(second) == {"success", "data"}
    assert set(first["data"]) == set(second["data"])
    for key in ("status", "version", "environment"):
        assert first["data"][key] == second["data"][key]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/health", 405),  # the router's answer, in the error envelope
        ("GET", "/health/detailed", 200),
        ("GET", "/healthz", 404),
    ],
)
async def test_other_requests_pass_the_probe(
    http: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await http.request(method, path)
    assert response.status_code == status
    if status >= 400:
        assert response.json()["success"] is False


async def test_liveness_probe_carries_cors_headers(make_settings: Any) -> None:
    from stvos.app import create_app

    app = create_app(make_settings(server={"cors_origins": ["https://app.example"]}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as client:
        response = await client.get("/health", headers={"Origin": "https://app.example"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example"


async def test_liveness_probe_matches_behind_a_root_path() -> None:
    from stvos.health.probe import LivenessProbe

    passed: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        passed.append(scope.get("path"))

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    probe = LivenessProbe(inner, path="/api/v1/health", body=lambda: b"{}")
    base = {"type": "http", "method": "GET", "headers": []}
    await probe({**base, "path": "/edge/api/v1/health", "root_path": "/edge"}, None, send)
    await probe({**base, "path": "/api/v1/health/detailed", "root_path": ""}, None, send)
    await probe({"type": "lifespan"}, None, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert passed == ["/api/v1/health/detailed", None]
