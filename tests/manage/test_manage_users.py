"""Studio staff manage their app's users: list, look up, disable and enable accounts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import RefreshToken, User
from tests.admin.test_admin_api import admin_login
from tests.support.factories import TestClient, TestUser, make_user


@pytest.fixture
async def staff(http: httpx.AsyncClient, db: Database, client_a: TestClient) -> TestUser:
    return await make_user(http, db, client_a, "boss@alpha.example", role="client_admin")


@pytest.fixture
async def member(http: httpx.AsyncClient, db: Database, client_a: TestClient) -> TestUser:
    return await make_user(http, db, client_a, "member@alpha.example", name="Mia Member")


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["code"] == code


async def _ids(http: httpx.AsyncClient, staff: TestUser, query: str = "") -> list[int]:
    response = await http.get(f"/manage/users{query}", headers=staff.headers)
    assert response.status_code == 200, response.text
    return [u["id"] for u in response.json()["data"]["items"]]


async def _disable(http: httpx.AsyncClient, staff: TestUser, user_id: int) -> httpx.Response:
    return await http.post(f"/manage/users/{user_id}/disable", headers=staff.headers)


async def _enable(http: httpx.AsyncClient, staff: TestUser, user_id: int) -> httpx.Response:
    return await http.post(f"/manage/users/{user_id}/enable", headers=staff.headers)


async def test_list_users_newest_first_with_search_and_filters(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, staff: TestUser
) -> None:
    ann = await make_user(http, db, client_a, "ann@alpha.example", name="Ann Archer")
    bob = await make_user(http, db, client_a, "bob@alpha.example", name="Bob 50% Off")
    coach = await make_user(
        http, db, client_a, "coach@alpha.example", name="Cora Coach", role="trainer"
    )
    gone = await make_user(http, db, client_a, "gone@alpha.example", name="Gone")
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await session.execute(update(User).where(User.id == gone.id).values(status="deleted"))

    response = await http.get("/manage/users", headers=staff.headers)

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [u["id"] for u in data["items"]] == [coach.id, bob.id, ann.id, staff.id]
    assert data["pagination"] == {"page": 1, "limit": 20, "total": 4, "totalPages": 1}
    first = data["items"][0]
    assert set(first) == {
        "id",
        "email",
        "name",
        "role",
        "status",
        "coachId",
        "premiumUntil",
        "createdAt",
        "lastLoginAt",
    }
    assert (first["email"], first["name"], first["role"], first["status"]) == (
        "coach@alpha.example",
        "Cora Coach",
        "trainer",
        "active",
    )
    assert "passwordHash" not in response.text

    page2 = await http.get("/manage/users?limit=3&page=2", headers=staff.headers)
    assert [u["id"] for u in page2.json()["data"]["items"]] == [staff.id]
    assert page2.json()["data"]["pagination"]["totalPages"] == 2
    assert await _ids(http, staff, "?search=ARCHER") == [ann.id]  # name, any case
    assert await _ids(http, staff, "?search=bob@alpha") == [bob.id]  # email
    assert await _ids(http, staff, "?search=50%25") == [bob.id]  # % is literal
    assert await _ids(http, staff, "?search=nobody") == []
    assert await _ids(http, staff, "?role=trainer") == [coach.id]
    assert await _ids(http, staff, "?role=client_admin") == [staff.id]
    assert await _ids(http, staff, "?status=deleted") == [gone.id]
    assert await _ids(http, staff, "?status=disabled") == []
    assert (await _disable(http, staff, ann.id)).status_code == 200
    assert await _ids(http, staff, "?status=disabled") == [ann.id]
    assert await _ids(http, staff, "?status=active&role=user") == [bob.id]

    for query, field in (("?role=owner", "role"), ("?status=gone", "status"), ("?page=0", "page")):
        bad = await http.get(f"/manage/users{query}", headers=staff.headers)
        _error(bad, 400, "VALIDATION_ERROR")
        assert [d["field"] for d in bad.json()["details"]] == [field]


async def test_get_one_user(http: httpx.AsyncClient, staff: TestUser, member: TestUser) -> None:
    response = await http.get(f"/manage/users/{member.id}", headers=staff.headers)
    assert response.status_code == 200, response.text
    user = response.json()["data"]["user"]
    assert (user["id"], user["email"], user["name"]) == (
        member.id,
        "member@alpha.example",
        "Mia Member",
    )
    assert user["lastLoginAt"] is not None
    _error(await http.get("/manage/users/4242", headers=staff.headers), 404, "NOT_FOUND")
    _error(await http.get("/manage/users/abc", headers=staff.headers), 400, "VALIDATION_ERROR")


async def test_disable_ends_every_sign_in_at_once_and_blocks_login(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    staff: TestUser,
    member: TestUser,
) -> None:
    assert (await http.get("/auth/me", headers=member.headers)).status_code == 200

    response = await _disable(http, staff, member.id)

    assert response.status_code == 200, response.text
    assert response.json()["data"]["user"]["status"] == "disabled"
    # The access token dies at once, the refresh token renews nothing, sign-in is refused.
    _error(await http.get("/auth/me", headers=member.headers), 401, "UNAUTHORIZED")
    refreshed = await http.post(
        "/auth/refresh", json={"refreshToken": member.refresh_token}, headers=client_a.headers
    )
    _error(refreshed, 401, "UNAUTHORIZED")
    credentials = {"email": member.email, "password": member.password}
    login = await http.post("/auth/login", json=credentials, headers=client_a.headers)
    _error(login, 403, "ACCOUNT_DISABLED")
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        tokens = list(
            await session.scalars(select(RefreshToken).where(RefreshToken.user_id == member.id))
        )
    assert tokens
    assert all(t.revoked_at is not None for t in tokens)

    # Disabling again changes nothing.
    again = await _disable(http, staff, member.id)
    assert again.status_code == 200
    assert again.json()["data"]["user"]["status"] == "disabled"

    enabled = await _enable(http, staff, member.id)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["data"]["user"]["status"] == "active"
    login = await http.post("/auth/login", json=credentials, headers=client_a.headers)
    assert login.status_code == 200, login.text
    _error(await http.get("/auth/me", headers=member.headers), 401, "UNAUTHORIZED")  # old stays
    fresh = {**client_a.headers, "Authorization": f"Bearer {login.json()['data']['accessToken']}"}
    assert (await http.get("/auth/me", headers=fresh)).status_code == 200
    assert (await _enable(http, staff, member.id)).status_code == 200  # already active: fine


async def test_staff_can_disable_other_staff_but_not_themselves(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, staff: TestUser
) -> None:
    _error(await _disable(http, staff, staff.id), 409, "CANNOT_DISABLE_SELF")
    assert (await http.get("/manage/users", headers=staff.headers)).status_code == 200

    other = await make_user(http, db, client_a, "second@alpha.example", role="client_admin")
    assert (await _disable(http, staff, other.id)).status_code == 200
    _error(await http.get("/manage/users", headers=other.headers), 401, "UNAUTHORIZED")


async def test_erased_accounts_cannot_be_disabled_or_enabled(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, staff: TestUser, member: TestUser
) -> None:
    assert (await http.delete("/users/me", headers=member.headers)).status_code == 200
    _error(await _disable(http, staff, member.id), 409, "INVALID_STATE_TRANSITION")
    _error(await _enable(http, staff, member.id), 409, "INVALID_STATE_TRANSITION")
    user = (await http.get(f"/manage/users/{member.id}", headers=staff.headers)).json()
    assert user["data"]["user"]["status"] == "deleted"


async def test_only_the_clients_staff_get_in(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    staff: TestUser,
    member: TestUser,
) -> None:
    trainer = await make_user(http, db, client_a, "trainer@alpha.example", role="trainer")
    admin = await admin_login(http, db)
    paths: list[tuple[str, str]] = [
        ("GET", "/manage/users"),
        ("GET", f"/manage/users/{member.id}"),
        ("POST", f"/manage/users/{member.id}/disable"),
        ("POST", f"/manage/users/{member.id}/enable"),
    ]
    cases: list[tuple[dict[str, str], int, str]] = [
        ({}, 401, "API_KEY_REQUIRED"),
        ({"Authorization": staff.headers["Authorization"]}, 401, "API_KEY_REQUIRED"),
        (client_a.headers, 401, "UNAUTHORIZED"),  # no token
        ({**client_a.headers, **admin.headers}, 401, "UNAUTHORIZED"),  # a platform admin's
        (member.headers, 403, "FORBIDDEN"),
        (trainer.headers, 403, "FORBIDDEN"),
    ]
    for method, path in paths:
        for headers, status, code in cases:
            _error(await http.request(method, path, headers=headers), status, code)
    assert (await http.get(f"/manage/users/{member.id}", headers=staff.headers)).status_code == 200


async def test_another_clients_users_are_not_found(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    staff: TestUser,
    member: TestUser,
) -> None:
    staff_b = await make_user(http, db, client_b, "boss@beta.example", role="client_admin")
    member_b = await make_user(http, db, client_b, "member@beta.example")

    # B's staff see only B's users; A's ids are not found, and nothing changes.
    assert await _ids(http, staff_b) == [member_b.id, staff_b.id]
    for method, path in (
        ("GET", f"/manage/users/{member.id}"),
        ("POST", f"/manage/users/{member.id}/disable"),
        ("POST", f"/manage/users/{staff.id}/disable"),
        ("POST", f"/manage/users/{member.id}/enable"),
    ):
        _error(await http.request(method, path, headers=staff_b.headers), 404, "NOT_FOUND")
    assert (await http.get("/auth/me", headers=member.headers)).status_code == 200
    assert member.id not in await _ids(http, staff_b, "?search=member")

    # A's staff token with B's key is refused outright.
    crossed: dict[str, Any] = {**client_b.headers, "Authorization": staff.headers["Authorization"]}
    _error(await http.get("/manage/users", headers=crossed), 401, "UNAUTHORIZED")
    _error(await http.get(f"/manage/users/{member_b.id}", headers=crossed), 401, "UNAUTHORIZED")
