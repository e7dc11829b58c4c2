"""GET/PUT/DELETE /users/me and change-password."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import RefreshToken, User
from tests.support.factories import TestClient, TestUser, make_user


@pytest.fixture
async def member(http: httpx.AsyncClient, db: Database, client_a: TestClient) -> TestUser:
    return await make_user(http, db, client_a, "pat@example.com", name="Pat")


async def test_me_has_the_published_shape(http: httpx.AsyncClient, member: TestUser) -> None:
    user = (await http.get("/users/me", headers=member.headers)).json()["data"]["user"]
    assert {"id", "email", "name", "role", "profile", "settings", "coach"} <= set(user)
    assert user["settings"]["notifications"]["email"] is True
    assert user["profile"]["goals"] == []


async def test_put_is_partial_and_null_clears(http: httpx.AsyncClient, member: TestUser) -> None:
    first = await http.put(
        "/users/me",
        json={
            "profile": {
                "age": 34,
                "height": 178,
                "weight": 80.5,
                "fitnessLevel": "intermediate",
                "fitnessGoal": "Run a half marathon",
                "timeZone": "Europe/London",
                "units": "metric",
                "goals": ["endurance", "endurance", "strength"],
                "equipment": ["dumbbells"],
                "injuries": ["left knee"],
                "dietaryRestrictions": ["vegetarian"],
                "availableDays": ["monday", "thursday"],
            },
            "settings": {"notifications": {"marketing": True}},
        },
        headers=member.headers,
    )
    assert first.status_code == 200, first.text
    profile = first.json()["data"]["user"]["profile"]
    assert profile["goals"] == ["endurance", "strength"]
    assert profile["timeZone"] == "Europe/London"

    second = await http.put(
        "/users/me",
        json={"name": "Patricia", "profile": {"weight": 79, "injuries": None}},
        headers=member.headers,
    )
    user = second.json()["data"]["user"]
    assert user["name"] == "Patricia"
    assert user["profile"]["weight"] == 79
    assert user["profile"]["age"] == 34  # untouched
    assert user["profile"]["injuries"] == []  # cleared
    assert user["settings"]["notifications"]["marketing"] is True
    assert user["settings"]["notifications"]["push"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"role": "client_admin"},
        {"email": "new@example.com"},
        {"clientId": 2},
        {"coachId": 1},
        {"profile": {"weight": 5000}},
        {"profile": {"availableDays": ["funday"]}},
        {"profile": {"unknown": 1}},
        {"settings": {"notifications": {"sms": True}}},
    ],
)
async def test_put_refuses_what_a_member_may_not_change(
    http: httpx.AsyncClient, db: Database, member: TestUser, body: dict[str, object]
) -> None:
    response = await http.put("/users/me", json=body, headers=member.headers)
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    async with db.transaction(TenantScope.for_client(member.client.id), write=False) as session:
        user = await session.get(User, member.id)
    assert user is not None
    assert user.role == "user"
    assert user.email == "pat@example.com"


async def test_delete_erases_personal_data_and_sign_ins(
    http: httpx.AsyncClient, db: Database, member: TestUser, client_a: TestClient
) -> None:
    await http.put("/users/me", json={"profile": {"age": 40}}, headers=member.headers)
    response = await http.delete("/users/me", headers=member.headers)
    assert response.status_code == 200
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        user = await session.get(User, member.id)
        live = list(
            await session.scalars(
                select(RefreshToken.id).where(
                    RefreshToken.user_id == member.id, RefreshToken.revoked_at.is_(None)
                )
            )
        )
    assert user is not None  # the row stays, anonymous, for aggregates
    assert user.status == "deleted"
    assert user.name is None
    assert user.profile == {}
    assert "pat@example.com" not in (user.email, user.email_normalized)
    assert live == []
    login = await http.post(
        "/auth/login",
        json={"email": member.email, "password": member.password},
        headers=client_a.headers,
    )
    assert login.status_code == 401
    # The address is free again for a new account.
    again = await http.post(
        "/auth/register",
        json={"email": member.email, "password": "another-password"},
        headers=client_a.headers,
    )
    assert again.status_code == 201


async def test_change_password_ends_other_sessions(
    http: httpx.AsyncClient, db: Database, member: TestUser, client_a: TestClient
) -> None:
    other = await http.post(
        "/auth/login",
        json={"email": member.email, "password": member.password},
        headers=client_a.headers,
    )
    other_tokens = other.json()["data"]

    wrong = await http.post(
        "/auth/change-password",
        json={"currentPassword": "not-it-at-all", "newPassword": "brand-new-secret"},
        headers=member.headers,
    )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "INVALID_CREDENTIALS"

    changed = await http.post(
        "/auth/change-password",
        json={"currentPassword": member.password, "newPassword": "brand-new-secret"},
        headers=member.headers,
    )
    assert changed.status_code == 200, changed.text
    fresh = changed.json()["data"]
    # This device continues with the fresh tokens.
    headers = {**client_a.headers, "Authorization": f"Bearer {fresh['accessToken']}"}
    assert (await http.get("/users/me", headers=headers)).status_code == 200
    # Every other sign-in is over: old access tokens and refresh tokens.
    assert (await http.get("/users/me", headers=member.headers)).status_code == 401
    refresh = await http.post(
        "/auth/refresh",
        json={"refreshToken": other_tokens["refreshToken"]},
        headers=client_a.headers,
    )
    assert refresh.status_code == 401
    old_login = await http.post(
        "/auth/login",
        json={"email": member.email, "password": member.password},
        headers=client_a.headers,
    )
    assert old_login.status_code == 401
    new_login = await http.post(
        "/auth/login",
        json={"email": member.email, "password": "brand-new-secret"},
        headers=client_a.headers,
    )
    assert new_login.status_code == 200


async def test_profile_routes_need_a_signed_in_user(
    http: httpx.AsyncClient, client_a: TestClient
) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = await http.request(method, "/users/me", headers=client_a.headers, json={})
        assert response.status_code == 401, method
    assert (await http.get("/users/me")).json()["code"] == "API_KEY_REQUIRED"


async def test_erasure_removes_personal_records_and_mail(
    http: httpx.AsyncClient, db: Database, member: TestUser, client_a: TestClient
) -> None:
    from sqlalchemy import func

    from stvos.models import OutboxMail, ProgressEntry

    logged = await http.post("/progress/water", json={"ml": 500}, headers=member.headers)
    assert logged.status_code == 201, logged.text
    forgot = await http.post(
        "/auth/forgot-password", json={"email": member.email}, headers=client_a.headers
    )
    assert forgot.status_code == 200
    other = await make_user(http, db, client_a, "other@example.com")
    assert (
        await http.post("/progress/water", json={"ml": 250}, headers=other.headers)
    ).status_code == 201

    async def counts() -> tuple[int, int, int]:
        async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
            mine = await session.scalar(
                select(func.count())
                .select_from(ProgressEntry)
                .where(ProgressEntry.user_id == member.id)
            )
            others = await session.scalar(
                select(func.count())
                .select_from(ProgressEntry)
                .where(ProgressEntry.user_id == other.id)
            )
            mail = await session.scalar(
                select(func.count())
                .select_from(OutboxMail)
                .where(OutboxMail.to_address == member.email)
            )
        return mine or 0, others or 0, mail or 0

    assert await counts() == (1, 1, 1)
    assert (await http.delete("/users/me", headers=member.headers)).status_code == 200
    assert await counts() == (0, 1, 0)
