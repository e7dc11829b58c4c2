"""Shared set-up of the partner tests: a partner of a client with a signed-in staff member."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from stvos.kit.db import Database
from tests.support.factories import TestClient, TestUser, make_user

PASSWORD = "partner-horse-battery"


@dataclass
class SignedInPartner:
    """A partner of ``client``, the studio staff member who made it, and one partner login."""

    client: TestClient
    studio: TestUser
    partner: dict[str, Any]
    access_token: str

    @property
    def id(self) -> int:
        partner_id: int = self.partner["id"]
        return partner_id

    @property
    def headers(self) -> dict[str, str]:
        """Partner staff call ``/partner/*`` with their bearer token and no API key."""
        return {"Authorization": f"Bearer {self.access_token}"}


async def signed_in_partner(
    http: httpx.AsyncClient,
    db: Database,
    client: TestClient,
    *,
    name: str = "Iron Gym",
    email: str | None = None,
    studio: TestUser | None = None,
    **fields: Any,
) -> SignedInPartner:
    """Create a partner through ``/manage/partners`` (extra ``fields`` go in the body), add a
    staff login and sign it in. Pass ``studio`` to reuse a studio staff user of the client."""
    if studio is None:
        studio = await make_user(
            http, db, client, f"studio-{client.slug}@example.com", role="client_admin"
        )
    response = await http.post(
        "/manage/partners", json={"name": name, **fields}, headers=studio.headers
    )
    assert response.status_code == 201, response.text
    partner: dict[str, Any] = response.json()["data"]
    email = email or f"staff-{partner['id']}-{client.slug}@example.com"
    response = await http.post(
        f"/manage/partners/{partner['id']}/staff",
        json={"email": email, "password": PASSWORD, "name": "Pat"},
        headers=studio.headers,
    )
    assert response.status_code == 201, response.text
    response = await http.post("/partner-auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return SignedInPartner(client, studio, partner, response.json()["data"]["accessToken"])


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert an error envelope with ``status`` and ``code``; answer the body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False, body
    assert body["code"] == code, body
    return body
