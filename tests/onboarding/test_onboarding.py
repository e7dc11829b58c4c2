"""Anonymous onboarding sessions, merged into the account at sign-up."""

from __future__ import annotations

from datetime import timedelta

import httpx

from stvos.kit.clock import FrozenClock
from tests.support.factories import TestClient


async def _start(http: httpx.AsyncClient, client: TestClient, body: dict[str, object]) -> str:
    response = await http.post("/onboarding/sessions", json=body, headers=client.headers)
    assert response.status_code == 201, response.text
    session_id = response.json()["data"]["id"]
    assert session_id.startswith("onb_")
    assert len(session_id) > 20
    return str(session_id)


async def test_answers_are_kept_updated_and_merged_on_sign_up(
    http: httpx.AsyncClient, client_a: TestClient
) -> None:
    session_id = await _start(
        http,
        client_a,
        {"name": "Robin", "profile": {"fitnessLevel": "beginner", "goals": ["mobility"]}},
    )
    updated = await http.put(
        f"/onboarding/sessions/{session_id}",
        json={"profile": {"age": 52, "availableDays": ["tuesday"]}},
        headers=client_a.headers,
    )
    assert updated.status_code == 200
    profile = updated.json()["data"]["profile"]
    assert profile["fitnessLevel"] == "beginner"
    assert profile["age"] == 52
    got = await http.get(f"/onboarding/sessions/{session_id}", headers=client_a.headers)
    assert got.json()["data"]["name"] == "Robin"

    registered = await http.post(
        "/auth/register",
        json={
            "email": "robin@example.com",
            "password": "long-enough-pass",
            "sessionId": session_id,
            "profile": {"age": 53},
        },
        headers=client_a.headers,
    )
    assert registered.status_code == 201, registered.text
    data = registered.json()["data"]
    assert data["user"]["name"] == "Robin"
    me = await http.get(
        "/users/me", headers={**client_a.headers, "Authorization": f"Bearer {data['accessToken']}"}
    )
    profile = me.json()["data"]["user"]["profile"]
    assert profile["age"] == 53  # what was typed at sign-up wins
    assert profile["fitnessLevel"] == "beginner"
    assert profile["goals"] == ["mobility"]
    assert profile["availableDays"] == ["tuesday"]

    # Used once: the session is gone, and cannot seed a second account.
    gone = await http.get(f"/onboarding/sessions/{session_id}", headers=client_a.headers)
    assert gone.status_code == 404
    second = await http.post(
        "/auth/register",
        json={
            "email": "robin2@example.com",
            "password": "long-enough-pass",
            "sessionId": session_id,
        },
        headers=client_a.headers,
    )
    assert second.status_code == 400
    assert second.json()["details"][0]["field"] == "sessionId"


async def test_sessions_expire_after_a_day(
    http: httpx.AsyncClient, client_a: TestClient, clock: FrozenClock
) -> None:
    session_id = await _start(http, client_a, {"profile": {"age": 30}})
    clock.advance(timedelta(hours=23))
    assert (
        await http.get(f"/onboarding/sessions/{session_id}", headers=client_a.headers)
    ).status_code == 200
    clock.advance(timedelta(hours=2))
    expired = await http.get(f"/onboarding/sessions/{session_id}", headers=client_a.headers)
    assert expired.status_code == 404
    assert expired.json()["code"] == "NOT_FOUND"


async def test_another_clients_session_is_invisible(
    http: httpx.AsyncClient, client_a: TestClient, client_b: TestClient
) -> None:
    session_id = await _start(http, client_a, {"name": "Private"})
    for method in ("GET", "PUT"):
        response = await http.request(
            method,
            f"/onboarding/sessions/{session_id}",
            json={"name": "Hijack"} if method == "PUT" else None,
            headers=client_b.headers,
        )
        assert response.status_code == 404
    registered = await http.post(
        "/auth/register",
        json={"email": "x@example.com", "password": "long-enough-pass", "sessionId": session_id},
        headers=client_b.headers,
    )
    assert registered.status_code == 400


async def test_validation_and_key(http: httpx.AsyncClient, client_a: TestClient) -> None:
    bad = await http.post(
        "/onboarding/sessions", json={"profile": {"age": "old"}}, headers=client_a.headers
    )
    assert bad.status_code == 400
    unknown = await http.post(
        "/onboarding/sessions", json={"favouriteColour": "red"}, headers=client_a.headers
    )
    assert unknown.status_code == 400
    assert (await http.post("/onboarding/sessions", json={})).status_code == 401
