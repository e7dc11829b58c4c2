"""Partners and partner staff: /manage/partners*, and /partner-auth/* sign-in without an API key."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from stvos.accounts import passwords
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Client, Partner, PartnerStaff, RefreshToken
from tests.support.factories import TestClient, TestUser, make_user

PASSWORD = "partner-horse-battery"


async def _staff(http: httpx.AsyncClient, db: Database, client: TestClient) -> TestUser:
    return await make_user(
        http, db, client, f"staff-{client.slug}@example.com", role="client_admin"
    )


async def _partner(
    http: httpx.AsyncClient, staff: TestUser, name: str = "Iron Gym", type_: str = "gym"
) -> dict[str, Any]:
    response = await http.post(
        "/manage/partners", json={"name": name, "type": type_}, headers=staff.headers
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _partner_staff(
    http: httpx.AsyncClient, staff: TestUser, partner_id: int, email: str, name: str = "Pat"
) -> httpx.Response:
    return await http.post(
        f"/manage/partners/{partner_id}/staff",
        json={"email": email, "password": PASSWORD, "name": name},
        headers=staff.headers,
    )


async def _login(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post("/partner-auth/login", json={"email": email, "password": password})


async def _signed_in_partner(
    http: httpx.AsyncClient, db: Database, client: TestClient, email: str = "pat@irongym.com"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A partner of ``client`` with one staff login, signed in: (partner, login answer)."""
    staff = await _staff(http, db, client)
    partner = await _partner(http, staff)
    assert (await _partner_staff(http, staff, partner["id"], email)).status_code == 201
    response = await _login(http, email)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return partner, data


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["code"] == code
    return body


def _bearer(token: str, client: TestClient | None = None) -> dict[str, str]:
    return {**(client.headers if client else {}), "Authorization": f"Bearer {token}"}


# --- studio back office -----------------------------------------------------------------------


async def test_staff_create_list_and_get_partners(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    gym = await _partner(http, staff, "Iron Gym")
    assert gym["type"] == "gym"
    assert gym["status"] == "active"
    assert gym["name"] == "Iron Gym"
    assert gym["createdAt"].endswith("Z")
    corp = await _partner(http, staff, "Acme Corp", "corporate")
    await _partner(http, staff, "Resell Ltd", "reseller")
    default = await http.post("/manage/partners", json={"name": "Plain"}, headers=staff.headers)
    assert default.json()["data"]["type"] == "gym"

    page = (await http.get("/manage/partners?limit=3", headers=staff.headers)).json()["data"]
    assert [p["name"] for p in page["items"]] == ["Acme Corp", "Iron Gym", "Plain"]
    assert page["pagination"] == {"page": 1, "limit": 3, "total": 4, "totalPages": 2}
    one = await http.get(f"/manage/partners/{corp['id']}", headers=staff.headers)
    assert one.json()["data"] == corp
    _error(await http.get("/manage/partners/999999", headers=staff.headers), 404, "NOT_FOUND")
    _error(await http.get("/manage/partners/0", headers=staff.headers), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "X", "type": "spa"}, "type"),
        ({"name": "X", "status": "active"}, "status"),
        ({"name": "x" * 121}, "name"),
    ],
)
async def test_partner_validation(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    body: dict[str, Any],
    field: str,
) -> None:
    staff = await _staff(http, db, client_a)
    response = await http.post("/manage/partners", json=body, headers=staff.headers)
    details = _error(response, 400, "VALIDATION_ERROR")["details"]
    assert field in [d["field"] for d in details]


async def test_partner_staff_logins_are_created_and_listed(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    partner = await _partner(http, staff)
    other = await _partner(http, staff, "Other Gym")
    created = await _partner_staff(http, staff, partner["id"], "Pat@IronGym.com", "Pat")
    assert created.status_code == 201, created.text
    pat = created.json()["data"]
    assert pat["partnerId"] == partner["id"]
    assert pat["email"] == "Pat@irongym.com"
    assert pat["name"] == "Pat"
    assert pat["status"] == "active"
    assert pat["lastLoginAt"] is None
    assert "password" not in created.text.lower()
    assert (
        await _partner_staff(http, staff, partner["id"], "amy@irongym.com", "Amy")
    ).status_code == 201
    assert (await _partner_staff(http, staff, other["id"], "zed@other.com")).status_code == 201

    listed = await http.get(f"/manage/partners/{partner['id']}/staff", headers=staff.headers)
    assert [s["email"] for s in listed.json()["data"]["items"]] == [
        "amy@irongym.com",
        "Pat@irongym.com",
    ]
    assert listed.json()["data"]["pagination"]["total"] == 2
    _error(await http.get("/manage/partners/999999/staff", headers=staff.headers), 404, "NOT_FOUND")
    _error(await _partner_staff(http, staff, 999999, "ghost@example.com"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "a@example.com", "password": PASSWORD, "role": "admin"}, "role"),
    ],
)
async def test_partner_staff_validation(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    body: dict[str, Any],
    field: str,
) -> None:
    staff = await _staff(http, db, client_a)
    partner = await _partner(http, staff)
    response = await http.post(
        f"/manage/partners/{partner['id']}/staff", json=body, headers=staff.headers
    )
    details = _error(response, 400, "VALIDATION_ERROR")["details"]
    assert field in [d["field"] for d in details]


async def test_partner_staff_emails_are_unique_across_the_platform(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    staff_a = await _staff(http, db, client_a)
    staff_b = await _staff(http, db, client_b)
    partner_a = await _partner(http, staff_a)
    partner_a2 = await _partner(http, staff_a, "Second Gym")
    partner_b = await _partner(http, staff_b)
    assert (await _partner_staff(http, staff_a, partner_a["id"], "pat@gym.com")).status_code == 201
    _error(await _partner_staff(http, staff_a, partner_a["id"], "PAT@gym.com"), 409, "USER_EXISTS")
    _error(await _partner_staff(http, staff_a, partner_a2["id"], "pat@gym.com"), 409, "USER_EXISTS")
    _error(await _partner_staff(http, staff_b, partner_b["id"], "Pat@Gym.com"), 409, "USER_EXISTS")
    # A member account with the same email is another realm: no conflict.
    await make_user(http, db, client_a, "member@gym.com")
    assert (
        await _partner_staff(http, staff_a, partner_a["id"], "member@gym.com")
    ).status_code == 201


async def test_concurrent_staff_creations_of_one_email_give_one_login(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    staff_a = await _staff(http, db, client_a)
    staff_b = await _staff(http, db, client_b)
    partner_a = await _partner(http, staff_a)
    partner_b = await _partner(http, staff_b)
    responses = await asyncio.gather(
        *(
            _partner_staff(http, staff, partner["id"], "race@gym.com")
            for staff, partner in [(staff_a, partner_a), (staff_b, partner_b)] * 2
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        rows = list(await session.scalars(select(PartnerStaff)))
    assert len(rows) == 1


async def test_only_studio_staff_manage_partners(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    for method, path in [
        ("POST", "/manage/partners"),
        ("GET", "/manage/partners"),
        ("GET", "/manage/partners/1"),
        ("POST", "/manage/partners/1/staff"),
        ("GET", "/manage/partners/1/staff"),
    ]:
        body = {"name": "X"} if method == "POST" else None
        _error(
            await http.request(method, path, json=body, headers=member.headers), 403, "FORBIDDEN"
        )
    _error(await http.get("/manage/partners", headers=client_a.headers), 401, "UNAUTHORIZED")


async def test_another_clients_staff_get_404_on_partners_and_their_staff(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    staff_a = await _staff(http, db, client_a)
    staff_b = await _staff(http, db, client_b)
    partner = await _partner(http, staff_a)
    assert (await _partner_staff(http, staff_a, partner["id"], "pat@gym.com")).status_code == 201
    for method, path in [
        ("GET", f"/manage/partners/{partner['id']}"),
        ("GET", f"/manage/partners/{partner['id']}/staff"),
    ]:
        _error(await http.request(method, path, headers=staff_b.headers), 404, "NOT_FOUND")
    _error(await _partner_staff(http, staff_b, partner["id"], "sneaky@gym.com"), 404, "NOT_FOUND")
    listed = (await http.get("/manage/partners", headers=staff_b.headers)).json()["data"]
    assert listed["items"] == []
    assert listed["pagination"]["total"] == 0


# --- partner staff sign-in --------------------------------------------------------------------


async def test_login_without_an_api_key_and_me(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    partner, data = await _signed_in_partner(http, db, client_a, "Pat@IronGym.com")
    assert data["partner"] == {"id": partner["id"], "name": "Iron Gym", "type": "gym"}
    assert data["staff"]["email"] == "Pat@irongym.com"
    assert data["staff"]["name"] == "Pat"
    assert data["client"]["id"] == client_a.id
    assert data["client"]["name"] == "Alpha Studio"
    assert data["accessToken"] == data["tokens"]["accessToken"]
    assert data["refreshToken"] == data["tokens"]["refreshToken"]
    assert data["tokens"]["expiresIn"] == 900

    me = await http.get("/partner-auth/me", headers=_bearer(data["accessToken"]))
    assert me.status_code == 200, me.text
    body = me.json()["data"]
    assert body["staff"]["id"] == data["staff"]["id"]
    assert body["staff"]["lastLoginAt"] is not None
    assert body["partner"]["id"] == partner["id"]
    assert body["partner"]["status"] == "active"
    assert body["client"]["id"] == client_a.id
    # Emails match case-insensitively at sign-in.
    assert (await _login(http, "PAT@irongym.COM")).status_code == 200
    _error(await http.get("/partner-auth/me"), 401, "UNAUTHORIZED")
    _error(await http.get("/partner-auth/me", headers=_bearer("garbage")), 401, "UNAUTHORIZED")


async def test_wrong_password_and_unknown_email_look_the_same(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _signed_in_partner(http, db, client_a)
    verified: list[str | None] = []
    real_verify = passwords.verify_password

    async def spy(stored_hash: str | None, password: str) -> bool:
        verified.append(stored_hash)
        return await real_verify(stored_hash, password)

    monkeypatch.setattr(passwords, "verify_password", spy)
    wrong = _error(
        await _login(http, "pat@irongym.com", "not-the-password"), 401, "INVALID_CREDENTIALS"
    )
    unknown = _error(await _login(http, "nobody@irongym.com"), 401, "INVALID_CREDENTIALS")
    assert wrong["error"] == unknown["error"]
    # Both paths spend one argon2 verification (the unknown one against a dummy hash).
    assert len(verified) == 2
    assert verified[0] is not None
    assert verified[1] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "pat@irongym.com"}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": "pat@irongym.com", "password": PASSWORD, "clientId": 1}, "clientId"),
    ],
)
async def test_login_validation(http: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    response = await http.post("/partner-auth/login", json=body)
    details = _error(response, 400, "VALIDATION_ERROR")["details"]
    assert field in [d["field"] for d in details]


async def _set(db: Database, model: Any, row_id: int, **values: Any) -> None:
    async with db.transaction(TenantScope.for_platform()) as session:
        await session.execute(update(model).where(model.id == row_id).values(**values))


async def test_disabled_staff_inactive_partner_or_suspended_client_get_403(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    partner, data = await _signed_in_partner(http, db, client_a)
    staff_id = data["staff"]["id"]

    await _set(db, PartnerStaff, staff_id, status="disabled")
    _error(await _login(http, "pat@irongym.com"), 403, "ACCOUNT_DISABLED")
    # Without the right password nothing about the account's state is revealed.
    _error(await _login(http, "pat@irongym.com", "wrong-password"), 401, "INVALID_CREDENTIALS")
    # The bearer layer refuses the disabled login's token at once.
    _error(
        await http.get("/partner-auth/me", headers=_bearer(data["accessToken"])),
        401,
        "UNAUTHORIZED",
    )
    await _set(db, PartnerStaff, staff_id, status="active")

    await _set(db, Partner, partner["id"], status="inactive")
    _error(await _login(http, "pat@irongym.com"), 403, "PARTNER_INACTIVE")
    refresh = await http.post("/partner-auth/refresh", json={"refreshToken": data["refreshToken"]})
    _error(refresh, 403, "PARTNER_INACTIVE")
    # Access tokens already issued stop working at once too.
    _error(
        await http.get("/partner-auth/me", headers=_bearer(data["accessToken"])),
        401,
        "UNAUTHORIZED",
    )
    await _set(db, Partner, partner["id"], status="active")

    await _set(db, Client, client_a.id, status="suspended")
    _error(await _login(http, "pat@irongym.com"), 403, "CLIENT_SUSPENDED")
    _error(
        await http.get("/partner-auth/me", headers=_bearer(data["accessToken"])),
        403,
        "CLIENT_SUSPENDED",
    )
    await _set(db, Client, client_a.id, status="active")
    # Refused refreshes changed nothing: the token still rotates once everything is active.
    again = await http.post("/partner-auth/refresh", json={"refreshToken": data["refreshToken"]})
    assert again.status_code == 200, again.text


async def test_sign_in_attempts_are_throttled_per_account(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    await _signed_in_partner(http, db, client_a)  # one successful attempt
    for _ in range(9):  # STVOS_AUTH_LOGIN_PER_ACCOUNT = 10 per 15 minutes
        _error(await _login(http, "pat@irongym.com", "wrong-password"), 401, "INVALID_CREDENTIALS")
    limited = _error(await _login(http, "pat@irongym.com"), 429, "RATE_LIMITED")
    assert limited["error"].startswith("Too many attempts")
    # Other accounts are not locked out by one account's attempts.
    _error(await _login(http, "other@irongym.com", "wrong-password"), 401, "INVALID_CREDENTIALS")


# --- refresh ----------------------------------------------------------------------------------


async def _refresh(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/partner-auth/refresh", json={"refreshToken": token})


async def test_refresh_rotates_and_reuse_ends_the_sign_in(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    partner, first = await _signed_in_partner(http, db, client_a)
    second_response = await _refresh(http, first["refreshToken"])
    assert second_response.status_code == 200, second_response.text
    second = second_response.json()["data"]
    assert second["refreshToken"] != first["refreshToken"]
    assert second["accessToken"] != first["accessToken"]
    assert second["partner"]["id"] == partner["id"]
    assert second["staff"] == first["staff"]
    assert second["client"] == first["client"]
    me = await http.get("/partner-auth/me", headers=_bearer(second["accessToken"]))
    assert me.status_code == 200

    third = (await _refresh(http, second["refreshToken"])).json()["data"]
    # The first token again: reuse. The whole family ends, the newest token too.
    _error(await _refresh(http, first["refreshToken"]), 401, "REFRESH_TOKEN_REUSED")
    _error(await _refresh(http, third["refreshToken"]), 401, "UNAUTHORIZED")
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        tokens = list(await session.scalars(select(RefreshToken)))
    partner_tokens = [t for t in tokens if t.partner_staff_id is not None]
    assert len(partner_tokens) == 3
    assert all(t.revoked_at is not None for t in partner_tokens)
    assert all(t.user_id is None for t in partner_tokens)
    # A new sign-in starts a new family.
    assert (await _login(http, "pat@irongym.com")).status_code == 200


async def test_concurrent_refreshes_of_one_token_have_one_winner(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    _, data = await _signed_in_partner(http, db, client_a)
    responses = await asyncio.gather(*(_refresh(http, data["refreshToken"]) for _ in range(3)))
    assert sorted(r.status_code for r in responses) == [200, 401, 401]
    codes = sorted(r.json()["code"] for r in responses if r.status_code == 401)
    # The first loser reveals the reuse (and ends the family); a later one finds it ended.
    assert codes[0] == "REFRESH_TOKEN_REUSED"
    assert set(codes) <= {"REFRESH_TOKEN_REUSED", "UNAUTHORIZED"}


async def test_refresh_validation_and_garbage(http: httpx.AsyncClient) -> None:
    _error(await _refresh(http, "rt_not-a-real-token"), 401, "UNAUTHORIZED")
    _error(await http.post("/partner-auth/refresh", json={}), 400, "VALIDATION_ERROR")
    _error(await _refresh(http, "x" * 201), 400, "VALIDATION_ERROR")


# --- the two token kinds never cross ----------------------------------------------------------


async def test_partner_tokens_never_work_on_user_or_staff_routes(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    _, data = await _signed_in_partner(http, db, client_a)
    token = data["accessToken"]
    for path in ("/users/me", "/auth/me", "/manage/partners"):
        _error(await http.get(path, headers=_bearer(token, client_a)), 401, "UNAUTHORIZED")
    # A partner refresh token is refused by the users' refresh (and is not burnt by it).
    refused = await http.post(
        "/auth/refresh", json={"refreshToken": data["refreshToken"]}, headers=client_a.headers
    )
    _error(refused, 401, "UNAUTHORIZED")
    assert (await _refresh(http, data["refreshToken"])).status_code == 200


async def test_user_tokens_never_work_on_partner_routes(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    await _signed_in_partner(http, db, client_a)
    for role in ("user", "client_admin"):
        user = await make_user(http, db, client_a, f"{role}@example.com", role=role)
        _error(
            await http.get("/partner-auth/me", headers=_bearer(user.access_token)),
            401,
            "UNAUTHORIZED",
        )
        _error(await http.get("/partner-auth/me", headers=user.headers), 401, "UNAUTHORIZED")
        # A user's refresh token is refused here, and still works where it belongs.
        _error(await _refresh(http, user.refresh_token), 401, "UNAUTHORIZED")
        works = await http.post(
            "/auth/refresh", json={"refreshToken": user.refresh_token}, headers=client_a.headers
        )
        assert works.status_code == 200, works.text
    # A user's email and password are not a partner login.
    _error(
        await _login(http, "user@example.com", "correct-horse-battery"), 401, "INVALID_CREDENTIALS"
    )


async def test_a_partner_token_names_its_own_client(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    _, in_a = await _signed_in_partner(http, db, client_a, "pat@a.com")
    _, in_b = await _signed_in_partner(http, db, client_b, "pat@b.com")
    me_a = (await http.get("/partner-auth/me", headers=_bearer(in_a["accessToken"]))).json()["data"]
    me_b = (await http.get("/partner-auth/me", headers=_bearer(in_b["accessToken"]))).json()["data"]
    assert (me_a["client"]["id"], me_b["client"]["id"]) == (client_a.id, client_b.id)
    # An API key sent along does not move the token to another client.
    moved = await http.get("/partner-auth/me", headers=_bearer(in_a["accessToken"], client_b))
    assert moved.json()["data"]["client"]["id"] == client_a.id
