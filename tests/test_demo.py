"""`stvos demo`: one branded client with a working login for every role, the same every run."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from stvos.config import Settings
from stvos.demo import ensure_demo
from stvos.kit.db import Database


async def test_every_demo_login_works_and_reruns_change_nothing(
    app: FastAPI, http: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    first = await ensure_demo(db, settings)
    second = await ensure_demo(db, settings)
    assert first == second
    assert set(first["logins"]) == {"admin", "user", "trainer", "partner"}
    app.state.authenticator.invalidate()
    headers = {"X-API-Key": first["apiKey"]}

    config = (await http.get("/app/config", headers=headers)).json()["data"]
    assert config["client"]["id"] == first["clientId"]
    assert config["client"]["branding"]["colors"]["primary"] == "#FF5A1F"
    assert config["hasDefaultClient"] is True

    roles = {}
    for name in ("admin", "user", "trainer"):
        login = first["logins"][name]
        response = await http.post(
            "/auth/login",
            json={"email": login["email"], "password": login["password"]},
            headers=headers,
        )
        assert response.status_code == 200, (name, response.text)
        roles[name] = response.json()["data"]["user"]["role"]
    assert roles == {"admin": "client_admin", "user": "user", "trainer": "trainer"}

    partner = first["logins"]["partner"]
    response = await http.post(
        "/partner-auth/login", json={"email": partner["email"], "password": partner["password"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["client"]["id"] == first["clientId"]


async def test_a_lost_credentials_file_gives_new_working_secrets(
    app: FastAPI, http: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    first = await ensure_demo(db, settings)
    (settings.data_dir / "demo-credentials.json").unlink()
    second = await ensure_demo(db, settings)
    assert second["clientId"] == first["clientId"]
    assert second["apiKey"] != first["apiKey"]
    login = second["logins"]["user"]
    assert login["password"] != first["logins"]["user"]["password"]
    response = await http.post(
        "/auth/login",
        json={"email": login["email"], "password": login["password"]},
        headers={"X-API-Key": second["apiKey"]},
    )
    assert response.status_code == 200
