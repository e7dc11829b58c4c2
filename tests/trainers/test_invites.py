"""Trainer profiles (minimal) and trainer accounts by invite: /manage/trainer-invites, /invite/*."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Client, Trainer, TrainerInvite, User
from stvos.trainers import service
from tests.support.factories import TestClient, TestUser, make_user

PASSWORD = "trainer-horse-battery"
CODE_SHAPE = re.compile(
    r"^TRN-[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{4}-[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{4}$"
)


async def _staff(http: httpx.AsyncClient, db: Database, client: TestClient) -> TestUser:
    return await make_user(
        http, db, client, f"staff-{client.slug}@example.com", role="client_admin"
    )


async def _invite(http: httpx.AsyncClient, staff: TestUser, **body: Any) -> dict[str, Any]:
    response = await http.post("/manage/trainer-invites", json=body, headers=staff.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _accept(
    http: httpx.AsyncClient, code: str, email: str, *, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"code": code, "email": email, "password": PASSWORD, "name": "Tina Trainer"}
    return await http.post("/invite/accept", json=body, headers=headers or {})


async def _check(http: httpx.AsyncClient, code: str) -> httpx.Response:
    return await http.post("/invite/check", json={"code": code})


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["code"] == code
    return body


def _bearer(client: TestClient, token: str) -> dict[str, str]:
    return {**client.headers, "Authorization": f"Bearer {token}"}


# --- trainer profiles -------------------------------------------------------------------------


async def test_staff_create_list_and_get_trainer_profiles(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    created = await http.post(
        "/manage/trainers",
        json={"name": "Zoe Strong", "bio": "HIIT", "imageUrl": "https://cdn.example.com/z.jpg"},
        headers=staff.headers,
    )
    assert created.status_code == 201, created.text
    zoe = created.json()["data"]
    assert zoe["name"] == "Zoe Strong"
    assert zoe["bio"] == "HIIT"
    assert zoe["imageUrl"] == "https://cdn.example.com/z.jpg"
    assert zoe["isActive"] is True
    assert zoe["userId"] is None
    for name in ("Adam Yoga", "Mia Pilates"):
        assert (
            await http.post("/manage/trainers", json={"name": name}, headers=staff.headers)
        ).status_code == 201

    page = (await http.get("/manage/trainers?limit=2", headers=staff.headers)).json()["data"]
    assert [t["name"] for t in page["items"]] == ["Adam Yoga", "Mia Pilates"]
    assert page["pagination"] == {"page": 1, "limit": 2, "total": 3, "totalPages": 2}
    one = await http.get(f"/manage/trainers/{zoe['id']}", headers=staff.headers)
    assert one.json()["data"] == zoe
    _error(await http.get("/manage/trainers/999999", headers=staff.headers), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "Ok", "imageUrl": "not a url"}, "imageUrl"),
        ({"name": "Ok", "userId": 3}, "userId"),
    ],
)
async def test_trainer_profile_validation(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    body: dict[str, Any],
    field: str,
) -> None:
    staff = await _staff(http, db, client_a)
    response = await http.post("/manage/trainers", json=body, headers=staff.headers)
    details = _error(response, 400, "VALIDATION_ERROR")["details"]
    assert field in [d["field"] for d in details]


# --- creating and managing invites ------------------------------------------------------------


async def test_create_invite_answers_a_code_and_a_pending_status(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    staff = await _staff(http, db, client_a)
    invite = await _invite(http, staff, email="Coach@Example.com", name="Coach")
    assert CODE_SHAPE.match(invite["code"]), invite["code"]
    assert invite["status"] == "pending"
    assert invite["email"] == "Coach@example.com"  # EmailStr lower-cases the domain
    assert invite["name"] == "Coach"
    assert invite["trainerId"] is None
    assert invite["createdAt"] == "2026-01-01T00:00:00Z"
    assert invite["expiresAt"] == "2026-01-08T00:00:00Z"  # 7 days by default
    assert invite["acceptedAt"] is None
    assert invite["revokedAt"] is None

    month = await _invite(http, staff, expiresInDays=30)
    assert month["expiresAt"] == "2026-01-31T00:00:00Z"
    assert month["email"] is None
    assert month["code"] != invite["code"]
    fetched = await http.get(f"/manage/trainer-invites/{invite['id']}", headers=staff.headers)
    assert fetched.json()["data"] == invite


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"expiresInDays": 0}, "expiresInDays"),
        ({"expiresInDays": 31}, "expiresInDays"),
        ({"email": "not-an-email"}, "email"),
        ({"trainerId": 0}, "trainerId"),
        ({"code": "TRN-MINE-MINE"}, "code"),
    ],
)
async def test_invite_validation(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    body: dict[str, Any],
    field: str,
) -> None:
    staff = await _staff(http, db, client_a)
    response = await http.post("/manage/trainer-invites", json=body, headers=staff.headers)
    details = _error(response, 400, "VALIDATION_ERROR")["details"]
    assert field in [d["field"] for d in details]


def test_codes_use_an_unambiguous_alphabet_and_normalise() -> None:
    codes = {service.new_invite_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(CODE_SHAPE.match(code) for code in codes)
    assert not set("".join(codes)) & set("01OIL")
    assert service.normalize_code(" trn-ab2c-d3ef ") == "TRN-AB2C-D3EF"
    assert service.normalize_code("trnab2cd3ef") == "TRN-AB2C-D3EF"
    assert service.normalize_code("TRN - AB2C - D3EF") == "TRN-AB2C-D3EF"
    assert service.normalize_code("nonsense") == "NONSENSE"


async def test_a_colliding_code_is_drawn_again(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    staff_a = await _staff(http, db, client_a)
    staff_b = await _staff(http, db, client_b)
    draws = iter(["TRN-AAAA-AAAA", "TRN-AAAA-AAAA", "TRN-BBBB-BBBB"])
    monkeypatch.setattr(service, "new_invite_code", lambda: next(draws))
    first = await _invite(http, staff_a)
    # Another client's invite cannot reuse the code either: codes are unique platform-wide.
    second = await _invite(http, staff_b)
    assert (first["code"], second["code"]) == ("TRN-AAAA-AAAA", "TRN-BBBB-BBBB")


async def test_creating_an_invite_is_idempotent_with_a_key(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    headers = {**staff.headers, "Idempotency-Key": "invite-1"}
    first = await http.post("/manage/trainer-invites", json={"name": "A"}, headers=headers)
    again = await http.post("/manage/trainer-invites", json={"name": "A"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    listed = (await http.get("/manage/trainer-invites", headers=staff.headers)).json()["data"]
    assert listed["pagination"]["total"] == 1


async def test_only_studio_staff_manage_trainers_and_invites(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer = await make_user(http, db, client_a, "coach@example.com", role="trainer")
    for who in (member, trainer):
        for method, path in [
            ("POST", "/manage/trainer-invites"),
            ("GET", "/manage/trainer-invites"),
            ("DELETE", "/manage/trainer-invites/1"),
            ("POST", "/manage/trainers"),
            ("GET", "/manage/trainers"),
        ]:
            body = {"name": "X"} if method == "POST" else None
            response = await http.request(method, path, json=body, headers=who.headers)
            _error(response, 403, "FORBIDDEN")
    _error(await http.get("/manage/trainer-invites", headers=client_a.headers), 401, "UNAUTHORIZED")
    _error(await http.get("/manage/trainer-invites"), 401, "API_KEY_REQUIRED")


async def test_an_invite_cannot_target_a_profile_with_a_login_or_an_existing_account(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    await make_user(http, db, client_a, "taken@example.com")
    _error(
        await http.post(
            "/manage/trainer-invites", json={"email": "TAKEN@example.com"}, headers=staff.headers
        ),
        409,
        "USER_EXISTS",
    )
    await make_user(http, db, client_b, "elsewhere@example.com")  # another app's member: fine
    await _invite(http, staff, email="elsewhere@example.com")

    profile = (
        await http.post("/manage/trainers", json={"name": "Linked"}, headers=staff.headers)
    ).json()["data"]
    invite = await _invite(http, staff, trainerId=profile["id"])
    assert (await _accept(http, invite["code"], "linked@example.com")).status_code == 201
    _error(
        await http.post(
            "/manage/trainer-invites", json={"trainerId": profile["id"]}, headers=staff.headers
        ),
        409,
        "TRAINER_HAS_ACCOUNT",
    )


# --- check ------------------------------------------------------------------------------------


async def test_check_a_pending_invite_without_an_api_key(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    async with db.transaction(TenantScope.for_platform()) as session:
        await session.execute(
            update(Client).where(Client.id == client_a.id).values(colors={"primary": "#FF5A1F"})
        )
    staff = await _staff(http, db, client_a)
    invite = await _invite(http, staff, email="coach@example.com", name="Coach Carla")
    response = await _check(http, invite["code"].lower())
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {
        "valid": True,
        "status": "pending",
        "expiresAt": invite["expiresAt"],
        "client": {
            "id": client_a.id,
            "name": "Alpha Studio",
            "branding": {"colors": {"primary": "#FF5A1F"}},
        },
        "trainer": {"name": "Coach Carla"},
        "email": "coach@example.com",
    }


async def test_check_of_an_unknown_code_is_404(
    http: httpx.AsyncClient, client_a: TestClient
) -> None:
    body = _error(await _check(http, "TRN-ZZZZ-ZZZZ"), 404, "NOT_FOUND")
    assert "details" not in body
    _error(await _check(http, "x" * 33), 400, "VALIDATION_ERROR")
    _error(
        await http.post("/invite/check", json={"code": "TRN-ZZZZ-ZZZZ", "clientId": 1}),
        400,
        "VALIDATION_ERROR",
    )


async def test_check_names_a_linked_profile(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    profile = (
        await http.post("/manage/trainers", json={"name": "Pia Power"}, headers=staff.headers)
    ).json()["data"]
    invite = await _invite(http, staff, trainerId=profile["id"])
    assert invite["name"] == "Pia Power"
    data = (await _check(http, invite["code"])).json()["data"]
    assert data["trainer"] == {"name": "Pia Power"}
    assert data["email"] is None


async def test_check_attempts_are_throttled_per_code_and_for_unknown_codes(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    invite = await _invite(http, staff)
    for _ in range(5):  # STVOS_AUTH_RECOVERY_PER_ACCOUNT per hour
        assert (await _check(http, invite["code"])).status_code == 200
    limited = _error(await _check(http, invite["code"]), 429, "RATE_LIMITED")
    assert limited["error"].startswith("Too many attempts")
    # Guessing: unknown codes share one platform-wide budget (STVOS_AUTH_RECOVERY_PER_CLIENT).
    statuses = [(await _check(http, f"TRN-ZZZZ-{n:04d}")).status_code for n in range(31)]
    assert statuses[:30] == [404] * 30
    assert statuses[30] == 429
    # ...which does not lock out real invites of another code.
    other = await _invite(http, staff)
    assert (await _check(http, other["code"])).status_code == 200


# --- accept -----------------------------------------------------------------------------------


async def test_accepting_creates_a_trainer_login_in_the_invites_client(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    invite = await _invite(http, staff, name="Tina")
    # An API key sent along changes nothing: the code alone names the client.
    response = await _accept(http, invite["code"], "Tina@Example.com", headers=client_b.headers)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["user"]["email"] == "Tina@example.com"
    assert data["user"]["name"] == "Tina Trainer"
    assert data["user"]["role"] == "trainer"
    assert data["accessToken"] == data["tokens"]["accessToken"]
    assert data["refreshToken"] == data["tokens"]["refreshToken"]
    assert data["tokens"]["expiresIn"] == 900
    assert data["client"]["id"] == client_a.id
    assert data["trainer"]["name"] == "Tina Trainer"

    me = await http.get("/users/me", headers=_bearer(client_a, data["accessToken"]))
    assert me.status_code == 200, me.text
    assert me.json()["data"]["user"]["role"] == "trainer"
    _error(
        await http.get("/users/me", headers=_bearer(client_b, data["accessToken"])),
        401,
        "UNAUTHORIZED",
    )
    # The refresh token belongs to client A's sign-in family.
    refreshed = await http.post(
        "/auth/refresh", json={"refreshToken": data["refreshToken"]}, headers=client_a.headers
    )
    assert refreshed.status_code == 200, refreshed.text
    # The password works at the normal sign-in of client A, and only there.
    login = {"email": "tina@example.com", "password": PASSWORD}
    assert (await http.post("/auth/login", json=login, headers=client_a.headers)).status_code == 200
    _error(
        await http.post("/auth/login", json=login, headers=client_b.headers),
        401,
        "INVALID_CREDENTIALS",
    )

    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        user = await session.scalar(select(User).where(User.id == data["user"]["id"]))
        assert user is not None
        assert (user.client_id, user.role) == (client_a.id, "trainer")
        trainer = await session.get(Trainer, data["trainer"]["id"])
        assert trainer is not None
        assert (trainer.client_id, trainer.user_id) == (client_a.id, user.id)

    listed = (await http.get("/manage/trainers", headers=staff.headers)).json()["data"]["items"]
    assert [(t["id"], t["userId"]) for t in listed] == [(data["trainer"]["id"], data["user"]["id"])]
    stored = (
        await http.get(f"/manage/trainer-invites/{invite['id']}", headers=staff.headers)
    ).json()["data"]
    assert stored["status"] == "accepted"
    assert stored["acceptedByUserId"] == data["user"]["id"]
    assert stored["acceptedAt"] is not None

    checked = (await _check(http, invite["code"])).json()["data"]
    assert checked["valid"] is False
    assert checked["status"] == "accepted"
    assert checked["email"] is None
    assert checked["trainer"] is None
    _error(await _accept(http, invite["code"], "again@example.com"), 409, "INVITE_USED")


async def test_accepting_links_an_existing_profile_once(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    profile = (
        await http.post(
            "/manage/trainers",
            json={"name": "Sam Stretch", "bio": "Mobility"},
            headers=staff.headers,
        )
    ).json()["data"]
    first = await _invite(http, staff, trainerId=profile["id"])
    second = await _invite(http, staff, trainerId=profile["id"])
    accepted = await _accept(http, first["code"], "sam@example.com")
    assert accepted.status_code == 201, accepted.text
    data = accepted.json()["data"]
    assert data["trainer"] == {"id": profile["id"], "name": "Sam Stretch"}
    linked = (await http.get(f"/manage/trainers/{profile['id']}", headers=staff.headers)).json()
    assert linked["data"]["userId"] == data["user"]["id"]
    assert linked["data"]["bio"] == "Mobility"
    # The second invite for the same profile can no longer give it a login (and changes nothing).
    _error(await _accept(http, second["code"], "sam2@example.com"), 409, "TRAINER_HAS_ACCOUNT")
    still = (
        await http.get(f"/manage/trainer-invites/{second['id']}", headers=staff.headers)
    ).json()
    assert still["data"]["status"] == "pending"
    login = {"email": "sam2@example.com", "password": PASSWORD}
    _error(
        await http.post("/auth/login", json=login, headers=client_a.headers),
        401,
        "INVALID_CREDENTIALS",
    )


async def test_an_invite_with_an_email_is_for_that_email_only(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    invite = await _invite(http, staff, email="Coach@Example.com")
    body = _error(
        await _accept(http, invite["code"], "other@example.com"), 400, "INVITE_EMAIL_MISMATCH"
    )
    assert body["details"][0]["field"] == "email"
    response = await _accept(http, invite["code"], "coach@EXAMPLE.com")
    assert response.status_code == 201, response.text


async def test_an_existing_account_email_is_refused_and_the_invite_stays_usable(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    await make_user(http, db, client_a, "member@example.com")
    await make_user(http, db, client_b, "other-app@example.com")
    invite = await _invite(http, staff)
    _error(await _accept(http, invite["code"], "MEMBER@example.com"), 409, "USER_EXISTS")
    check = (await _check(http, invite["code"])).json()["data"]
    assert check["status"] == "pending"
    # The same email in another app is no obstacle: accounts are per client.
    assert (await _accept(http, invite["code"], "other-app@example.com")).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@example.com", "password": PASSWORD, "name": "A"}, "code"),
        ({"code": "TRN-AAAA-AAAA", "password": PASSWORD, "name": "A"}, "email"),
        (
            {"code": "TRN-AAAA-AAAA", "email": "a@example.com", "password": "short", "name": "A"},
            "password",
        ),
        ({"code": "TRN-AAAA-AAAA", "email": "a@example.com", "password": PASSWORD}, "name"),
        (
            {
                "code": "TRN-AAAA-AAAA",
                "email": "a@example.com",
                "password": PASSWORD,
                "name": "A",
                "role": "client_admin",
            },
            "role",
        ),
    ],
)
async def test_accept_validation(http: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    details = _error(await http.post("/invite/accept", json=body), 400, "VALIDATION_ERROR")[
        "details"
    ]
    assert field in [d["field"] for d in details]


async def test_unknown_codes_are_404_on_accept(http: httpx.AsyncClient) -> None:
    _error(await _accept(http, "TRN-ZZZZ-ZZZZ", "a@example.com"), 404, "NOT_FOUND")


async def test_concurrent_accepts_give_exactly_one_account(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    invite = await _invite(http, staff)
    responses = await asyncio.gather(
        *(_accept(http, invite["code"], f"racer{n}@example.com") for n in range(4))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409], [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"INVITE_USED"}
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        trainers = list(await session.scalars(select(User).where(User.role == "trainer")))
        profiles = list(await session.scalars(select(Trainer)))
    assert len(trainers) == 1
    assert len(profiles) == 1
    assert profiles[0].user_id == trainers[0].id


async def test_an_accept_racing_a_revoke_has_one_winner(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    invite = await _invite(http, staff)
    accepted, revoked = await asyncio.gather(
        _accept(http, invite["code"], "race@example.com"),
        http.delete(f"/manage/trainer-invites/{invite['id']}", headers=staff.headers),
    )
    final = (
        await http.get(f"/manage/trainer-invites/{invite['id']}", headers=staff.headers)
    ).json()["data"]["status"]
    if accepted.status_code == 201:
        _error(revoked, 409, "INVITE_USED")
        assert final == "accepted"
    else:
        _error(accepted, 400, "INVITE_REVOKED")
        assert revoked.status_code == 200
        assert final == "revoked"


# --- lifecycle: expiry and revocation ---------------------------------------------------------


async def _sign_in_again(http: httpx.AsyncClient, staff: TestUser) -> dict[str, str]:
    """The clock moved past the access token's life: a fresh sign-in."""
    login = await http.post(
        "/auth/login",
        json={"email": staff.email, "password": staff.password},
        headers=staff.client.headers,
    )
    assert login.status_code == 200, login.text
    return _bearer(staff.client, login.json()["data"]["accessToken"])


async def test_invites_expire_by_the_clock(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    staff = await _staff(http, db, client_a)
    short = await _invite(http, staff, expiresInDays=1)
    long = await _invite(http, staff, expiresInDays=2)
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    assert (await _check(http, short["code"])).json()["data"]["valid"] is True
    clock.advance(timedelta(seconds=1))
    checked = (await _check(http, short["code"])).json()["data"]
    assert (checked["valid"], checked["status"], checked["email"]) == (False, "expired", None)
    _error(await _accept(http, short["code"], "late@example.com"), 400, "INVITE_EXPIRED")

    headers = await _sign_in_again(http, staff)
    expired = (await http.get("/manage/trainer-invites?status=expired", headers=headers)).json()
    assert [i["id"] for i in expired["data"]["items"]] == [short["id"]]
    assert expired["data"]["items"][0]["status"] == "expired"
    pending = (await http.get("/manage/trainer-invites?status=pending", headers=headers)).json()
    assert [i["id"] for i in pending["data"]["items"]] == [long["id"]]
    assert (await _accept(http, long["code"], "on-time@example.com")).status_code == 201


async def test_revoking_and_filtering_invites(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    staff = await _staff(http, db, client_a)
    revoked = await _invite(http, staff, name="revoked")
    clock.advance(1)
    accepted = await _invite(http, staff, name="accepted")
    clock.advance(1)
    pending = await _invite(http, staff, name="pending")

    response = await http.delete(f"/manage/trainer-invites/{revoked['id']}", headers=staff.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "revoked"
    assert response.json()["data"]["revokedAt"] == "2026-01-01T00:00:02Z"
    again = await http.delete(f"/manage/trainer-invites/{revoked['id']}", headers=staff.headers)
    assert again.json()["data"]["revokedAt"] == "2026-01-01T00:00:02Z"  # unchanged
    checked = (await _check(http, revoked["code"])).json()["data"]
    assert (checked["valid"], checked["status"]) == (False, "revoked")
    _error(await _accept(http, revoked["code"], "nope@example.com"), 400, "INVITE_REVOKED")

    assert (await _accept(http, accepted["code"], "yes@example.com")).status_code == 201
    _error(
        await http.delete(f"/manage/trainer-invites/{accepted['id']}", headers=staff.headers),
        409,
        "INVITE_USED",
    )
    _error(
        await http.delete("/manage/trainer-invites/999999", headers=staff.headers), 404, "NOT_FOUND"
    )

    async def names(query: str) -> list[str]:
        response = await http.get(f"/manage/trainer-invites{query}", headers=staff.headers)
        assert response.status_code == 200, response.text
        return [i["name"] for i in response.json()["data"]["items"]]

    assert await names("") == ["pending", "accepted", "revoked"]  # newest first
    assert await names("?status=pending") == ["pending"]
    assert (await _check(http, pending["code"])).json()["data"]["valid"] is True
    assert await names("?status=accepted") == ["accepted"]
    assert await names("?status=revoked") == ["revoked"]
    assert await names("?status=expired") == []
    page = (await http.get("/manage/trainer-invites?limit=2&page=2", headers=staff.headers)).json()
    assert page["data"]["pagination"] == {"page": 2, "limit": 2, "total": 3, "totalPages": 2}
    assert [i["name"] for i in page["data"]["items"]] == ["revoked"]
    bad = await http.get("/manage/trainer-invites?status=used", headers=staff.headers)
    assert _error(bad, 400, "VALIDATION_ERROR")["details"][0]["field"] == "status"


async def test_a_suspended_clients_invites_cannot_be_used(
    http: httpx.AsyncClient, app: FastAPI, db: Database, client_a: TestClient
) -> None:
    staff = await _staff(http, db, client_a)
    invite = await _invite(http, staff)
    async with db.transaction(TenantScope.for_platform()) as session:
        await session.execute(
            update(Client).where(Client.id == client_a.id).values(status="suspended")
        )
    _error(await _check(http, invite["code"]), 403, "CLIENT_SUSPENDED")
    _error(await _accept(http, invite["code"], "x@example.com"), 403, "CLIENT_SUSPENDED")


# --- isolation --------------------------------------------------------------------------------


async def test_another_clients_staff_cannot_see_or_touch_invites_or_profiles(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    staff_a = await _staff(http, db, client_a)
    staff_b = await _staff(http, db, client_b)
    profile = (
        await http.post("/manage/trainers", json={"name": "Only A"}, headers=staff_a.headers)
    ).json()["data"]
    invite = await _invite(http, staff_a, trainerId=profile["id"])

    for method, path in [
        ("GET", f"/manage/trainer-invites/{invite['id']}"),
        ("DELETE", f"/manage/trainer-invites/{invite['id']}"),
        ("GET", f"/manage/trainers/{profile['id']}"),
    ]:
        _error(await http.request(method, path, headers=staff_b.headers), 404, "NOT_FOUND")
    _error(
        await http.post(
            "/manage/trainer-invites", json={"trainerId": profile["id"]}, headers=staff_b.headers
        ),
        404,
        "NOT_FOUND",
    )
    for path in ("/manage/trainer-invites", "/manage/trainers"):
        listed = (await http.get(path, headers=staff_b.headers)).json()["data"]
        assert listed["items"] == []
        assert listed["pagination"]["total"] == 0
    # Client A's staff token with client B's key is refused outright.
    _error(
        await http.get("/manage/trainer-invites", headers=_bearer(client_b, staff_a.access_token)),
        401,
        "UNAUTHORIZED",
    )
    assert (await _check(http, invite["code"])).json()["data"]["status"] == "pending"
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        stored = await session.get(TrainerInvite, invite["id"])
        assert stored is not None
        assert stored.revoked_at is None
