"""Routes marked hot_path: well-formed requests skip FastAPI's dependency solving, malformed ones
get FastAPI's own answer, and a route that does not fit is refused when it is built."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import Query, Request, Response

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.deps import DbSession
from stvos.kit.logging import JsonFormatter
from stvos.kit.policy import Auth, allow
from stvos.kit.routing import NotHot, api_router, hot_path
from stvos.kit.schemas import ObjectId
from stvos.playback.schemas import HeartbeatIn
from tests.content import add_class
from tests.support.factories import TestClient, TestUser, make_user


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests that reached FastAPI's router."""
    seen: list[str] = []
    real = fastapi.routing.APIRouter.__call__

    async def counting(self: Any, scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await real(self, scope, receive, send)

    monkeypatch.setattr(fastapi.routing.APIRouter, "__call__", counting)
    return seen


@pytest.fixture
def solved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests FastAPI solved dependencies for."""
    seen: list[str] = []
    real = fastapi.routing.solve_dependencies

    async def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["request"].url.path)
        return await real(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    return seen


async def _session_of(
    http: httpx.AsyncClient, db: Database, client: TestClient, clock: FrozenClock
) -> tuple[TestUser, int]:
    member = await make_user(http, db, client, "hot@example.com")
    class_id = await add_class(db, client, "Hot", clock.now() - timedelta(days=1))
    started = await http.post("/sessions/start", json={"classId": class_id}, headers=member.headers)
    assert started.status_code == 201, started.text
    return member, started.json()["data"]["id"]


async def test_a_well_formed_heartbeat_skips_dependency_solving(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    clock: FrozenClock,
    solved: list[str],
    routed: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    member, session_id = await _session_of(http, db, client_a, clock)
    solved.clear()
    routed.clear()
    clock.advance(timedelta(seconds=30))
    with caplog.at_level(logging.INFO, logger="stvos.access"):
        beat = await http.post(
            f"/sessions/{session_id}/progress", json={"position": 30}, headers=member.headers
        )
    assert beat.status_code == 200, beat.text
    assert beat.json()["data"]["position"] == 30
    assert beat.headers["x-request-id"]  # the middleware around it still runs
    assert solved == routed == []  # answered in front of the router
    (logged,) = [r for r in caplog.records if r.name == "stvos.access"]
    entry = json.loads(JsonFormatter().format(logged))
    assert entry["route"] == "/api/v1/sessions/{session_id}/progress"
    assert entry["clientId"] == client_a.id
    # Other routes, and other methods on the same path, still go through FastAPI.
    assert (await http.get(f"/sessions/{session_id}", headers=member.headers)).status_code == 200
    assert solved == routed == [f"/api/v1/sessions/{session_id}"]
    wrong_method = await http.get(f"/sessions/{session_id}/progress", headers=member.headers)
    assert wrong_method.status_code == 405
    assert routed[-1] == f"/api/v1/sessions/{session_id}/progress"


async def test_a_hot_routes_errors_get_the_applications_handlers(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    clock: FrozenClock,
    routed: list[str],
) -> None:
    member, session_id = await _session_of(http, db, client_a, clock)
    routed.clear()
    missing = await http.post(
        f"/sessions/{session_id + 1000}/progress", json={"position": 5}, headers=member.headers
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"
    assert missing.headers["x-request-id"] == missing.json()["requestId"]
    not_json = await http.post(
        f"/sessions/{session_id}/progress",
        content=b"position=5",
        headers={**member.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert not_json.status_code == 415
    assert not_json.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    no_key = await http.post(f"/sessions/{session_id}/progress", json={"position": 5})
    assert no_key.status_code == 401
    assert routed == []


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/sessions/{id}/progress", b'{"position": -1}', "position"),
        ("/sessions/{id}/progress", b'{"position": 5, "speed": 2}', "speed"),
        ("/sessions/{id}/progress", b"", "body"),
        ("/sessions/0/progress", b'{"position": 5}', "session_id"),
        ("/sessions/abc/progress", b'{"position": 5}', "session_id"),
    ],
)
async def test_a_malformed_heartbeat_gets_fastapis_answer(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    clock: FrozenClock,
    solved: list[str],
    path: str,
    body: bytes,
    field: str,
) -> None:
    member, session_id = await _session_of(http, db, client_a, clock)
    solved.clear()
    url = path.replace("{id}", str(session_id))
    headers = {**member.headers, "Content-Type": "application/json"}
    response = await http.post(url, content=body, headers=headers)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in answer["details"]] == [field]
    assert solved, "FastAPI's own handler answered"


async def test_a_heartbeat_that_is_not_json_gets_fastapis_answer(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member, session_id = await _session_of(http, db, client_a, clock)
    headers = {**member.headers, "Content-Type": "application/json"}
    response = await http.post(f"/sessions/{session_id}/progress", content=b"{", headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_a_malformed_heartbeat_with_a_bad_key_is_still_told_401(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    # FastAPI runs the guard before it reports invalid fields: the fallback keeps that order.
    member, session_id = await _session_of(http, db, client_a, clock)
    headers = {**member.headers, "X-API-Key": "not-a-key"}
    response = await http.post(
        f"/sessions/{session_id}/progress", json={"position": -1}, headers=headers
    )
    assert response.status_code == 401


def test_a_route_that_does_not_fit_is_refused_when_built() -> None:
    router = api_router()

    with pytest.raises(NotHot, match="parameter 'speed'"):

        @router.post("/hot-query/{item_id}", dependencies=[allow(Auth.USER)])
        @hot_path
        async def with_query(
            item_id: ObjectId, body: HeartbeatIn, speed: int = Query(1)
        ) -> Response:
            return Response()

    with pytest.raises(NotHot, match="must return a Response"):

        @router.post("/hot-model/{item_id}", dependencies=[allow(Auth.USER)])
        @hot_path
        async def returns_a_model(item_id: ObjectId, session: DbSession) -> dict[str, int]:
            return {}

    @router.post("/hot-fits/{item_id}", dependencies=[allow(Auth.USER)])
    @hot_path
    async def fits(
        request: Request, item_id: ObjectId, body: HeartbeatIn, session: DbSession
    ) -> Response:
        return Response()
