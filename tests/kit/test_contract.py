"""The contract's plumbing: envelopes, validation, size and type checks, errors, request ids."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from sqlalchemy import func, select

from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import ApiKey
from tests.support.factories import TestClient, make_client, make_user


@pytest.fixture
async def tenant(pdb: Database) -> TestClient:
    return await make_client(pdb, "Plumbing Studio")


async def _key_count(db: Database) -> int:
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        return await session.scalar(select(func.count()).select_from(ApiKey)) or 0


def _assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["code"] == code
    assert isinstance(body["error"], str)
    assert body["error"]
    assert body["requestId"] == response.headers["x-request-id"]
    return body


async def test_success_envelope_and_201(phttp: httpx.AsyncClient, tenant: TestClient) -> None:
    response = await phttp.post(
        "/_test/echo", json={"name": "Ada", "count": 3}, headers=tenant.headers
    )
    assert response.status_code == 201
    assert response.json() == {"success": True, "data": {"name": "Ada", "count": 3, "tags": []}}


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"count": 1}, "name", "Field required"),
        ({"name": "Ada", "count": "many"}, "count", "valid integer"),
        ({"name": "Ada", "count": -1}, "count", "greater than or equal to 0"),
        ({"name": "Ada", "count": 1, "role": "admin"}, "role", "Unknown field"),
        ({"name": "Ada", "count": 1, "tags": [1]}, "tags.0", "valid string"),
    ],
)
async def test_validation_errors_are_400_with_field_details(
    phttp: httpx.AsyncClient,
    tenant: TestClient,
    payload: dict[str, object],
    field: str,
    message: str,
) -> None:
    response = await phttp.post("/_test/echo", json=payload, headers=tenant.headers)
    body = _assert_error(response, 400, "VALIDATION_ERROR")
    details = body["details"]
    assert isinstance(details, list)
    matching = [d for d in details if d["field"] == field]
    assert matching, details
    assert message in matching[0]["message"]


async def test_malformed_json_is_a_validation_error(
    phttp: httpx.AsyncClient, tenant: TestClient
) -> None:
    response = await phttp.post(
        "/_test/echo",
        content=b'{"name": "Ada", "count": ',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    body = _assert_error(response, 400, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "body"  # type: ignore[index]
    assert "Malformed JSON" in body["details"][0]["message"]  # type: ignore[index]


async def test_non_json_body_is_415(phttp: httpx.AsyncClient, tenant: TestClient) -> None:
    response = await phttp.post(
        "/_test/echo",
        content=b"name=Ada&count=1",
        headers={**tenant.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    _assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    response = await phttp.post(
        "/_test/echo", content=b'{"name":"Ada","count":1}', headers=tenant.headers
    )
    _assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_vendor_json_media_types_are_accepted(
    phttp: httpx.AsyncClient, tenant: TestClient
) -> None:
    response = await phttp.post(
        "/_test/echo",
        content=b'{"name":"Ada","count":1}',
        headers={**tenant.headers, "Content-Type": "application/vnd.api+json; charset=utf-8"},
    )
    assert response.status_code == 201


async def test_oversized_bodies_are_413_whether_declared_or_streamed(
    phttp: httpx.AsyncClient, tenant: TestClient, pdb: Database
) -> None:
    limit = 1_048_576
    big = json.dumps({"name": "x" * (limit + 10), "count": 1}).encode()
    response = await phttp.post(
        "/_test/keys",
        content=big,
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    _assert_error(response, 413, "PAYLOAD_TOO_LARGE")

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 65_536

    before = await _key_count(pdb)
    response = await phttp.post(
        "/_test/keys",
        content=chunks(),
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    _assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert await _key_count(pdb) == before


async def test_unknown_routes_and_wrong_methods_use_the_envelope(
    phttp: httpx.AsyncClient,
) -> None:
    _assert_error(await phttp.get("/no/such/thing"), 404, "NOT_FOUND")
    response = await phttp.delete("/health")
    _assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "GET"


async def test_page_size_is_capped_at_100(phttp: httpx.AsyncClient, tenant: TestClient) -> None:
    response = await phttp.get("/_test/items?limit=500&page=2", headers=tenant.headers)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["pagination"] == {"page": 2, "limit": 100, "total": 250, "totalPages": 3}
    assert [item["n"] for item in data["items"]][:2] == [100, 101]
    assert len(data["items"]) == 100

    default = (await phttp.get("/_test/items", headers=tenant.headers)).json()["data"]
    assert default["pagination"]["limit"] == 20
    _assert_error(
        await phttp.get("/_test/items?page=0", headers=tenant.headers), 400, "VALIDATION_ERROR"
    )
    _assert_error(
        await phttp.get("/_test/items?limit=abc", headers=tenant.headers), 400, "VALIDATION_ERROR"
    )


async def test_unexpected_errors_are_500_without_internals_and_roll_back(
    phttp: httpx.AsyncClient, tenant: TestClient, pdb: Database, caplog: pytest.LogCaptureFixture
) -> None:
    before = await _key_count(pdb)
    with caplog.at_level(logging.ERROR, logger="stvos.errors"):
        response = await phttp.post("/_test/write-then-crash", headers=tenant.headers)
    body = _assert_error(response, 500, "INTERNAL_ERROR")
    assert "hunter2" not in response.text
    assert "/srv/secret" not in response.text
    assert body["requestId"] in str(body["error"])
    assert await _key_count(pdb) == before
    # The traceback is logged, tied to the request id.
    assert any("hunter2" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_a_domain_error_rolls_back_the_whole_request(
    phttp: httpx.AsyncClient, tenant: TestClient, pdb: Database
) -> None:
    before = await _key_count(pdb)
    _assert_error(
        await phttp.post("/_test/write-then-conflict", headers=tenant.headers), 409, "CONFLICT"
    )
    assert await _key_count(pdb) == before


async def test_successful_writes_are_committed_before_the_answer(
    phttp: httpx.AsyncClient, tenant: TestClient, pdb: Database
) -> None:
    before = await _key_count(pdb)
    response = await phttp.post("/_test/keys", json={"name": "kept"}, headers=tenant.headers)
    assert response.status_code == 201
    assert await _key_count(pdb) == before + 1


async def test_request_ids_are_generated_or_kept(phttp: httpx.AsyncClient) -> None:
    generated = (await phttp.get("/health")).headers["x-request-id"]
    assert len(generated) == 32
    kept = await phttp.get("/health", headers={"X-Request-ID": "trace-abc-12345"})
    assert kept.headers["x-request-id"] == "trace-abc-12345"
    unsafe = await phttp.get("/health", headers={"X-Request-ID": "bad id\nwith newline"})
    assert unsafe.headers["x-request-id"] != "bad id\nwith newline"


async def test_one_structured_access_log_line_per_request(
    phttp: httpx.AsyncClient, tenant: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    from stvos.kit.logging import JsonFormatter

    with caplog.at_level(logging.INFO, logger="stvos.access"):
        response = await phttp.get(
            "/_test/items", headers={**tenant.headers, "X-Request-ID": "req-log-check-1"}
        )
    lines = [r for r in caplog.records if r.name == "stvos.access"]
    assert len(lines) == 1
    entry = json.loads(JsonFormatter().format(lines[0]))
    assert entry["requestId"] == "req-log-check-1" == response.headers["x-request-id"]
    assert entry["clientId"] == tenant.id
    assert entry["route"] == "/api/v1/_test/items"
    assert entry["status"] == 200
    assert entry["latencyMs"] >= 0


async def test_out_of_range_ids_in_paths_are_400_not_500(
    phttp: httpx.AsyncClient, pdb: Database, tenant: TestClient
) -> None:
    staff = await make_user(phttp, pdb, tenant, "boss@example.com", role="client_admin")
    for path in ("/manage/users/99999999999999999999", "/manage/users/0", "/manage/users/x"):
        response = await phttp.get(path, headers=staff.headers)
        _assert_error(response, 400, "VALIDATION_ERROR")


def test_a_ready_json_answer_is_the_envelope_fastapi_would_send() -> None:
    # ok_json skips FastAPI's second validation and double encoding; the bytes must not differ.
    from datetime import UTC, datetime

    from stvos.kit.schemas import Envelope, ok_json
    from stvos.playback.schemas import SessionOut

    answer = SessionOut.model_validate(
        {
            "id": 7,
            "class_id": 3,
            "device_id": "tv-1",
            "status": "active",
            "position": 61,
            "duration": 45,
            "watched_seconds": 30,
            "percent_complete": 1.1,
            "completed": False,
            "completion_threshold": 90,
            "started_at": datetime(2026, 12, 5, 9, 30, tzinfo=UTC),
            "last_heartbeat_at": datetime(2026, 12, 5, 9, 31, tzinfo=UTC),
            "ended_at": None,
            "credited_seconds": 30,
        }
    )
    response = ok_json(answer)
    assert response.media_type == "application/json"
    expected = Envelope[SessionOut](data=answer).model_dump(mode="json", by_alias=True)
    assert json.loads(bytes(response.body)) == expected
    assert expected["data"]["endedAt"] is None
    assert "watchedSeconds" in expected["data"]
