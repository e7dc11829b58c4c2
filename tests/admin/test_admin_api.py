"""The platform admin API: sign-in, clients, API keys, staff accounts and the universal key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select, update

from stvos.accounts.passwords import hash_password
from stvos.app import create_app
from stvos.config import Settings
from stvos.kit import security
from stvos.kit.db import Database
from stvos.kit.routing import mounted_routes
from stvos.kit.tenancy import TenantScope
from stvos.models import Client, PlatformAdmin, PlatformIdempotencyRecord, User
from stvos.models.client import ALL_FEATURES
from tests.conftest import BASE_URL
from tests.support.factories import TestClient, make_user

ADMIN_PASSWORD = "admin-password-123"


@dataclass(frozen=True)
class TestAdmin:
    __test__ = False

    id: int
    email: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def make_admin(
    db: Database, email: str, *, password: str = ADMIN_PASSWORD, status: str = "active"
) -> int:
    """Insert a platform admin directly (as `stvos admin create-admin` does)."""
    async with db.transaction(TenantScope.for_platform()) as session:
        admin = PlatformAdmin(
            email=email,
            email_normalized=email.strip().lower(),
            password_hash=await hash_password(password),
            name="Root Admin",
            status=status,
            token_version=1,
        )
        session.add(admin)
        await session.flush()
        return admin.id


async def admin_login(
    http: httpx.AsyncClient, db: Database, email: str = "root@stvos.example"
) -> TestAdmin:
    admin_id = await make_admin(db, email)
    response = await http.post(
        "/admin/auth/login", json={"email": email, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return TestAdmin(id=admin_id, email=email, access_token=response.json()["data"]["accessToken"])


@pytest.fixture
async def admin(http: httpx.AsyncClient, db: Database) -> TestAdmin:
    return await admin_login(http, db)


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["code"] == code
    return body


def _fields(response: httpx.Response) -> set[str]:
    body = _error(response, 400, "VALIDATION_ERROR")
    return {d["field"] for d in body["details"]}


async def _config(http: httpx.AsyncClient, key: str) -> httpx.Response:
    return await http.get("/app/config", headers={"X-API-Key": key})


async def _create(
    http: httpx.AsyncClient, admin: TestAdmin, name: str, **fields: Any
) -> dict[str, Any]:
    response = await http.post(
        "/admin/clients", json={"name": name, **fields}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _patch(
    http: httpx.AsyncClient, admin: TestAdmin, client_id: int, body: dict[str, Any]
) -> httpx.Response:
    return await http.patch(f"/admin/clients/{client_id}", json=body, headers=admin.headers)


# --- sign-in ----------------------------------------------------------------------------------


async def test_admin_signs_in_and_sees_itself(http: httpx.AsyncClient, db: Database) -> None:
    admin_id = await make_admin(db, "Root@Stvos.example")

    response = await http.post(
        "/admin/auth/login", json={"email": "root@stvos.EXAMPLE", "password": ADMIN_PASSWORD}
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == {"accessToken", "expiresIn", "admin"}  # no refresh token for admins
    assert data["expiresIn"] == 3600
    assert data["admin"] == {"id": admin_id, "email": "Root@Stvos.example", "name": "Root Admin"}
    me = await http.get(
        "/admin/auth/me", headers={"Authorization": f"Bearer {data['accessToken']}"}
    )
    assert me.status_code == 200, me.text
    assert me.json()["data"]["admin"]["id"] == admin_id
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        row = await session.get(PlatformAdmin, admin_id)
    assert row is not None
    assert row.last_login_at is not None


async def test_wrong_credentials_are_401_and_disabled_admins_403(
    http: httpx.AsyncClient, db: Database
) -> None:
    await make_admin(db, "root@stvos.example")
    await make_admin(db, "gone@stvos.example", status="disabled")

    for body in (
        {"email": "root@stvos.example", "password": "wrong-password"},
        {"email": "nobody@stvos.example", "password": ADMIN_PASSWORD},
    ):
        _error(await http.post("/admin/auth/login", json=body), 401, "INVALID_CREDENTIALS")
    _error(
        await http.post(
            "/admin/auth/login", json={"email": "gone@stvos.example", "password": ADMIN_PASSWORD}
        ),
        403,
        "ACCOUNT_DISABLED",
    )
    assert _fields(
        await http.post(
            "/admin/auth/login",
            json={"email": "root@stvos.example", "password": ADMIN_PASSWORD, "role": "god"},
        )
    ) == {"role"}
    assert "email" in _fields(
        await http.post("/admin/auth/login", json={"email": "nope", "password": "x"})
    )


async def test_admin_sign_in_is_throttled(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(auth={"login_per_account": 3, "login_per_client": 100})
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            await make_admin(application.state.db, "root@stvos.example")
            bad = {"email": "root@stvos.example", "password": "wrong-password"}
            for _ in range(3):
                _error(await http.post("/admin/auth/login", json=bad), 401, "INVALID_CREDENTIALS")
            response = await http.post("/admin/auth/login", json=bad)
            _error(response, 429, "RATE_LIMITED")
            assert int(response.headers["retry-after"]) > 0


async def test_an_admin_token_ends_when_the_admin_is_disabled(
    http: httpx.AsyncClient, db: Database, admin: TestAdmin
) -> None:
    assert (await http.get("/admin/auth/me", headers=admin.headers)).status_code == 200
    async with db.transaction(TenantScope.for_platform()) as session:
        await session.execute(
            update(PlatformAdmin).where(PlatformAdmin.id == admin.id).values(status="disabled")
        )
    _error(await http.get("/admin/auth/me", headers=admin.headers), 401, "UNAUTHORIZED")


# --- the auth wall ----------------------------------------------------------------------------


async def test_every_admin_route_but_login_needs_an_admin_token(
    app: FastAPI, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    staff = await make_user(http, db, client_a, "boss@example.com", role="client_admin")
    routes = [
        (method, r.path.removeprefix("/api/v1").format(client_id=client_a.id, key_id=1))
        for r in mounted_routes(app)
        if r.path.startswith("/api/v1/admin/") and r.path != "/api/v1/admin/auth/login"
        for method in r.methods
    ]
    assert len(routes) == 10
    for method, path in routes:
        for headers in (
            {},  # no token
            {"Authorization": "Bearer not-a-token"},
            member.headers,  # a user's token (with its app key) is not an admin's
            staff.headers,  # nor is studio staff's
            client_a.headers,  # an API key alone
        ):
            response = await http.request(method, path, headers=headers)
            _error(response, 401, "UNAUTHORIZED")


async def test_admin_routes_are_documented_as_admin_only(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    clients = spec["paths"]["/api/v1/admin/clients"]["post"]
    assert clients["x-stvos-access"]["auth"] == "admin"
    assert clients["security"] == [{"Bearer": []}]
    assert spec["paths"]["/api/v1/admin/auth/login"]["post"]["security"] == []


# --- clients ----------------------------------------------------------------------------------


async def test_create_client_answers_it_with_its_first_key_shown_once(
    http: httpx.AsyncClient, db: Database, admin: TestAdmin
) -> None:
    data = await _create(
        http,
        admin,
        "Harbour Yoga",
        timeZone="Europe/London",
        requiresVoucher=True,
        enabledFeatures=["classes", "nutrition"],
        branding={"colors": {"primary": "#FF5A1F", "background": "#0B0B0F"}},
        logo="https://cdn.example.com/logo.png",
        splashScreen="/api/v1/media/splash.png",
    )

    client = data["client"]
    assert client["name"] == "Harbour Yoga"
    assert client["slug"] == "harbour-yoga"
    assert client["status"] == "active"
    assert client["isDefault"] is False
    assert client["requiresVoucher"] is True
    assert client["timeZone"] == "Europe/London"
    assert client["enabledFeatures"] == ["classes", "nutrition"]
    assert client["branding"] == {"colors": {"primary": "#FF5A1F", "background": "#0B0B0F"}}
    assert client["logo"] == "https://cdn.example.com/logo.png"
    assert client["splashScreen"] == "/api/v1/media/splash.png"
    assert client["rateLimitPerMinute"] is None
    assert client["liveApiKeys"] == 1
    key = data["apiKey"]
    assert set(key) == {"id", "name", "prefix", "apiKey", "createdAt"}
    assert security.looks_like_key(key["apiKey"])
    assert key["prefix"] == key["apiKey"][: security.SHOWN_PREFIX_LENGTH]

    config = await _config(http, key["apiKey"])
    assert config.status_code == 200, config.text
    assert config.json()["data"]["client"]["id"] == client["id"]
    fetched = await http.get(f"/admin/clients/{client['id']}", headers=admin.headers)
    assert fetched.status_code == 200
    assert fetched.json()["data"]["client"] == client
    listed = await http.get(f"/admin/clients/{client['id']}/api-keys", headers=admin.headers)
    assert key["apiKey"] not in listed.text  # shown once, never again

    default = await _create(http, admin, "Plain Studio")
    assert default["client"]["enabledFeatures"] == list(ALL_FEATURES)
    assert default["client"]["timeZone"] == "UTC"
    assert default["client"]["branding"] == {"colors": {}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "X", "plan": "gold"}, "plan"),
        ({"name": "   "}, "name"),
        ({"name": "X", "timeZone": "Mars/Olympus"}, "timeZone"),
        ({"name": "X", "enabledFeatures": ["teleport"]}, "enabledFeatures.0"),
        ({"name": "X", "branding": {"colors": {"primary": "red"}}}, "branding.colors.primary"),
        ({"name": "X", "branding": {"colors": {"bad role!": "#fff"}}}, "branding.colors.bad role!"),
        ({"name": "X", "branding": {"colours": {}}}, "branding.colours"),
        ({"name": "X", "slug": "Not A Slug"}, "slug"),
        ({"name": "X", "slug": "12345"}, "slug"),
        ({"name": "X", "logo": "javascript:alert(1)"}, "logo"),
        ({"name": "X", "splashScreen": "//evil.example/x.png"}, "splashScreen"),
        ({"name": "X", "requiresVoucher": "perhaps"}, "requiresVoucher"),
    ],
)
async def test_create_client_validation(
    http: httpx.AsyncClient, admin: TestAdmin, body: dict[str, Any], field: str
) -> None:
    response = await http.post("/admin/clients", json=body, headers=admin.headers)
    fields = _fields(response)
    assert any(f == field or f.startswith(field) for f in fields), fields


async def test_slugs_are_unique(http: httpx.AsyncClient, admin: TestAdmin) -> None:
    await _create(http, admin, "Alpha Studio")
    response = await http.post(
        "/admin/clients", json={"name": "Other", "slug": "alpha-studio"}, headers=admin.headers
    )
    _error(response, 409, "CLIENT_EXISTS")


async def test_creating_a_client_is_idempotent_with_a_key(
    http: httpx.AsyncClient, db: Database, admin: TestAdmin
) -> None:
    headers = {**admin.headers, "Idempotency-Key": "new-client-1"}
    body = {"name": "Once Only", "timeZone": "Europe/Paris"}

    first = await http.post("/admin/clients", json=body, headers=headers)
    second = await http.post("/admin/clients", json=body, headers=headers)

    assert first.status_code == second.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    raw = first.json()["data"]["apiKey"]["apiKey"]
    replayed = second.json()
    # The same answer, except the key itself: it is shown once and never stored in clear.
    assert replayed["data"]["apiKey"]["apiKey"] is None
    replayed["data"]["apiKey"]["apiKey"] = raw
    assert replayed == first.json()
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Client)) == 1
        stored = list(await session.scalars(select(PlatformIdempotencyRecord)))
    assert len(stored) == 1
    assert stored[0].scope == f"admin:{admin.id}"
    assert stored[0].response_body
    assert raw.encode() not in stored[0].response_body

    other = await http.post("/admin/clients", json={"name": "Twice"}, headers=headers)
    _error(other, 409, "IDEMPOTENCY_CONFLICT")


async def test_list_clients_pages_searches_and_filters(
    http: httpx.AsyncClient, admin: TestAdmin
) -> None:
    alpha = (await _create(http, admin, "Alpha Studio"))["client"]
    beta = (await _create(http, admin, "Beta Gym", slug="bravo"))["client"]
    gamma = (await _create(http, admin, "Gamma 100% Fit"))["client"]
    await http.post(f"/admin/clients/{beta['id']}/api-keys", json={}, headers=admin.headers)
    assert (await _patch(http, admin, gamma["id"], {"status": "suspended"})).status_code == 200

    async def ids(query: str) -> tuple[list[int], dict[str, int]]:
        response = await http.get(f"/admin/clients{query}", headers=admin.headers)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        return [c["id"] for c in data["items"]], data["pagination"]

    everything, pagination = await ids("")
    assert everything == [alpha["id"], beta["id"], gamma["id"]]
    assert pagination == {"page": 1, "limit": 20, "total": 3, "totalPages": 1}
    assert await ids("?limit=2&page=2") == (
        [gamma["id"]],
        {"page": 2, "limit": 2, "total": 3, "totalPages": 2},
    )
    assert (await ids("?search=BETA"))[0] == [beta["id"]]  # by name, any case
    assert (await ids("?search=brav"))[0] == [beta["id"]]  # by slug
    assert (await ids("?search=100%25"))[0] == [gamma["id"]]  # % is literal
    assert (await ids("?search=%25"))[0] == [gamma["id"]]
    assert (await ids("?status=suspended"))[0] == [gamma["id"]]
    assert (await ids("?status=active&search=a"))[0] == [alpha["id"], beta["id"]]
    listed = (await http.get("/admin/clients", headers=admin.headers)).json()["data"]["items"]
    assert [c["liveApiKeys"] for c in listed] == [1, 2, 1]
    assert _fields(await http.get("/admin/clients?status=gone", headers=admin.headers)) == {
        "status"
    }


async def test_get_unknown_client_is_404(http: httpx.AsyncClient, admin: TestAdmin) -> None:
    _error(await http.get("/admin/clients/999", headers=admin.headers), 404, "NOT_FOUND")
    _error(await _patch(http, admin, 999, {"name": "X"}), 404, "NOT_FOUND")
    assert _fields(await http.get("/admin/clients/abc", headers=admin.headers)) == {"client_id"}


async def test_patch_changes_only_what_is_sent(http: httpx.AsyncClient, admin: TestAdmin) -> None:
    created = await _create(
        http,
        admin,
        "Alpha Studio",
        branding={"colors": {"primary": "#111111", "accent": "#222222"}},
        logo="https://cdn.example.com/a.png",
    )
    client_id = created["client"]["id"]

    response = await _patch(
        http,
        admin,
        client_id,
        {
            "name": "Alpha Studio London",
            "branding": {"colors": {"primary": "#FF5A1F", "accent": None, "text": "#FFFFFF"}},
            "enabledFeatures": ["live_classes", "classes"],
            "requiresVoucher": True,
            "timeZone": "Europe/London",
            "rateLimitPerMinute": 600,
            "rateLimitBurst": 50,
            "splashScreen": "https://cdn.example.com/splash.png",
            "liveMembersCanPublish": True,
        },
    )

    assert response.status_code == 200, response.text
    client = response.json()["data"]["client"]
    assert client["name"] == "Alpha Studio London"
    assert client["slug"] == "alpha-studio"  # the slug never changes
    assert client["branding"] == {"colors": {"primary": "#FF5A1F", "text": "#FFFFFF"}}
    assert client["enabledFeatures"] == ["classes", "live_classes"]
    assert client["requiresVoucher"] is True
    assert client["timeZone"] == "Europe/London"
    assert (client["rateLimitPerMinute"], client["rateLimitBurst"]) == (600, 50)
    assert client["liveMembersCanPublish"] is True
    assert client["logo"] == "https://cdn.example.com/a.png"  # not sent: unchanged
    assert client["splashScreen"] == "https://cdn.example.com/splash.png"
    assert client["updatedAt"] >= created["client"]["updatedAt"]

    cleared = await _patch(
        http, admin, client_id, {"rateLimitPerMinute": None, "rateLimitBurst": None, "logo": None}
    )
    assert cleared.status_code == 200, cleared.text
    client = cleared.json()["data"]["client"]
    assert (client["rateLimitPerMinute"], client["rateLimitBurst"], client["logo"]) == (
        None,
        None,
        None,
    )
    assert client["name"] == "Alpha Studio London"
    assert (await _patch(http, admin, client_id, {})).json()["data"]["client"] == client


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"status": None}, "status"),
        ({"isDefault": None}, "isDefault"),
        ({"status": "deleted"}, "status"),
        ({"slug": "new-slug"}, "slug"),
        ({"timeZone": "Nowhere/Else"}, "timeZone"),
        ({"rateLimitPerMinute": 0}, "rateLimitPerMinute"),
        ({"rateLimitBurst": -5}, "rateLimitBurst"),
        ({"branding": {"colors": {"primary": "#GGGGGG"}}}, "branding.colors.primary"),
        ({"enabledFeatures": ["classes", "x"]}, "enabledFeatures.1"),
        ({"logo": "ftp://example.com/logo.png"}, "logo"),
        ({"liveMembersCanPublish": None}, "liveMembersCanPublish"),
        ({"liveMembersCanPublish": "yes please"}, "liveMembersCanPublish"),
    ],
)
async def test_patch_validation(
    http: httpx.AsyncClient, admin: TestAdmin, body: dict[str, Any], field: str
) -> None:
    client_id = (await _create(http, admin, "Alpha Studio"))["client"]["id"]
    fields = _fields(await _patch(http, admin, client_id, body))
    assert any(f == field or f.startswith(field) for f in fields), fields


async def test_only_one_default_client(
    http: httpx.AsyncClient, admin: TestAdmin, db: Database
) -> None:
    alpha = (await _create(http, admin, "Alpha Studio"))["client"]["id"]
    beta = (await _create(http, admin, "Beta Gym"))["client"]["id"]

    async def defaults() -> list[int]:
        async with db.transaction(TenantScope.for_platform(), write=False) as session:
            return list(await session.scalars(select(Client.id).where(Client.is_default)))

    assert (await _patch(http, admin, alpha, {"isDefault": True})).json()["data"]["client"][
        "isDefault"
    ] is True
    assert await defaults() == [alpha]
    assert (await http.get("/app/config")).json()["data"]["client"]["id"] == alpha

    assert (await _patch(http, admin, beta, {"isDefault": True})).status_code == 200
    assert await defaults() == [beta]
    alpha_now = await http.get(f"/admin/clients/{alpha}", headers=admin.headers)
    assert alpha_now.json()["data"]["client"]["isDefault"] is False
    assert (await http.get("/app/config")).json()["data"]["client"]["id"] == beta  # at once

    assert (await _patch(http, admin, beta, {"isDefault": False})).status_code == 200
    assert await defaults() == []
    assert (await http.get("/app/config")).json()["data"]["hasDefaultClient"] is False

    # A suspended client cannot become the default.
    assert (await _patch(http, admin, alpha, {"status": "suspended"})).status_code == 200
    _error(await _patch(http, admin, alpha, {"isDefault": True}), 409, "INVALID_STATE_TRANSITION")
    both = await _patch(http, admin, alpha, {"status": "active", "isDefault": True})
    assert both.status_code == 200, both.text
    assert await defaults() == [alpha]


async def test_suspension_applies_to_the_clients_keys_at_once(
    http: httpx.AsyncClient, db: Database, admin: TestAdmin, client_a: TestClient
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    assert (await _config(http, client_a.api_key)).status_code == 200  # now cached

    suspended = await _patch(http, admin, client_a.id, {"status": "suspended"})

    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["data"]["client"]["status"] == "suspended"
    _error(await _config(http, client_a.api_key), 403, "CLIENT_SUSPENDED")
    _error(await http.get("/users/me", headers=member.headers), 403, "CLIENT_SUSPENDED")
    login = await http.post(
        "/auth/login",
        json={"email": member.email, "password": member.password},
        headers=client_a.headers,
    )
    _error(login, 403, "CLIENT_SUSPENDED")

    assert (await _patch(http, admin, client_a.id, {"status": "active"})).status_code == 200
    assert (await _config(http, client_a.api_key)).status_code == 200
    assert (await http.get("/users/me", headers=member.headers)).status_code == 200


async def test_a_rate_limit_override_applies_at_once(
    http: httpx.AsyncClient, admin: TestAdmin, client_a: TestClient
) -> None:
    assert (await _config(http, client_a.api_key)).status_code == 200
    response = await _patch(
        http, admin, client_a.id, {"rateLimitPerMinute": 2, "rateLimitBurst": 2}
    )
    assert response.status_code == 200, response.text

    statuses = [(await _config(http, client_a.api_key)).status_code for _ in range(3)]

    # The earlier request counts against the new budget of 2 at once.
    assert statuses[0] == 200
    assert statuses[-1] == 429


# --- API keys ---------------------------------------------------------------------------------


async def test_issue_list_and_revoke_api_keys(
    http: httpx.AsyncClient, admin: TestAdmin, client_a: TestClient
) -> None:
    base = f"/admin/clients/{client_a.id}/api-keys"
    created = await http.post(base, json={"name": "android"}, headers=admin.headers)
    assert created.status_code == 201, created.text
    key = created.json()["data"]
    assert set(key) == {"id", "name", "prefix", "apiKey", "createdAt"}
    assert key["name"] == "android"
    assert (await _config(http, key["apiKey"])).json()["data"]["client"]["id"] == client_a.id
    unnamed = await http.post(base, headers=admin.headers)  # the body is optional
    assert unnamed.status_code == 201, unnamed.text
    assert unnamed.json()["data"]["name"] == "default"

    listed = await http.get(base, headers=admin.headers)
    assert listed.status_code == 200
    items = listed.json()["data"]["items"]
    assert [k["id"] for k in items] == [
        client_a.api_key_id,
        key["id"],
        unnamed.json()["data"]["id"],
    ]
    assert set(items[0]) == {"id", "name", "prefix", "createdAt", "lastUsedAt", "revokedAt"}
    assert items[1]["lastUsedAt"] is not None  # it was just used
    assert "keyHash" not in listed.text
    assert key["apiKey"] not in listed.text

    revoked = await http.delete(f"{base}/{key['id']}", headers=admin.headers)
    assert revoked.status_code == 200, revoked.text
    revoked_at = revoked.json()["data"]["revokedAt"]
    assert revoked_at is not None
    _error(await _config(http, key["apiKey"]), 401, "INVALID_API_KEY")  # at once
    assert (await _config(http, client_a.api_key)).status_code == 200  # the others still work
    again = await http.delete(f"{base}/{key['id']}", headers=admin.headers)
    assert again.json()["data"]["revokedAt"] == revoked_at
    listed = (await http.get(base, headers=admin.headers)).json()["data"]
    assert [k["revokedAt"] is not None for k in listed["items"]] == [False, True, False]
    client = (await http.get(f"/admin/clients/{client_a.id}", headers=admin.headers)).json()
    assert client["data"]["client"]["liveApiKeys"] == 2


async def test_keys_belong_to_their_client(
    http: httpx.AsyncClient, admin: TestAdmin, client_a: TestClient, client_b: TestClient
) -> None:
    # B's key through A's path is not found, and stays valid.
    response = await http.delete(
        f"/admin/clients/{client_a.id}/api-keys/{client_b.api_key_id}", headers=admin.headers
    )
    _error(response, 404, "NOT_FOUND")
    assert (await _config(http, client_b.api_key)).status_code == 200
    _error(
        await http.delete(f"/admin/clients/{client_a.id}/api-keys/4242", headers=admin.headers),
        404,
        "NOT_FOUND",
    )
    _error(
        await http.post("/admin/clients/4242/api-keys", json={}, headers=admin.headers),
        404,
        "NOT_FOUND",
    )
    listed = await http.get(f"/admin/clients/{client_b.id}/api-keys", headers=admin.headers)
    assert [k["id"] for k in listed.json()["data"]["items"]] == [client_b.api_key_id]
    assert _fields(
        await http.post(
            f"/admin/clients/{client_a.id}/api-keys", json={"name": ""}, headers=admin.headers
        )
    ) == {"name"}


# --- staff ------------------------------------------------------------------------------------


async def test_create_staff_in_a_client(
    http: httpx.AsyncClient,
    db: Database,
    admin: TestAdmin,
    client_a: TestClient,
    client_b: TestClient,
) -> None:
    response = await http.post(
        f"/admin/clients/{client_a.id}/staff",
        json={"email": "Owner@Alpha.example", "password": "owner-password", "name": "Owner"},
        headers={**admin.headers, "Idempotency-Key": "staff-1"},
    )

    assert response.status_code == 201, response.text
    user = response.json()["data"]["user"]
    assert user["clientId"] == client_a.id
    assert (user["email"], user["name"], user["role"], user["status"]) == (
        "Owner@alpha.example",
        "Owner",
        "client_admin",
        "active",
    )
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        row = await session.get(User, user["id"])
    assert row is not None
    assert row.client_id == client_a.id

    # The new staff member signs in to A's app and runs its back office.
    login = await http.post(
        "/auth/login",
        json={"email": "owner@alpha.example", "password": "owner-password"},
        headers=client_a.headers,
    )
    assert login.status_code == 200, login.text
    token = login.json()["data"]["accessToken"]
    manage = await http.get(
        "/manage/users", headers={**client_a.headers, "Authorization": f"Bearer {token}"}
    )
    assert manage.status_code == 200, manage.text
    assert [u["id"] for u in manage.json()["data"]["items"]] == [user["id"]]
    # ... but not B's.
    elsewhere = await http.post(
        "/auth/login",
        json={"email": "owner@alpha.example", "password": "owner-password"},
        headers=client_b.headers,
    )
    _error(elsewhere, 401, "INVALID_CREDENTIALS")

    taken = await http.post(
        f"/admin/clients/{client_a.id}/staff",
        json={"email": "owner@ALPHA.example", "password": "another-password"},
        headers=admin.headers,
    )
    _error(taken, 409, "USER_EXISTS")
    # The same person may work for another client, with another role.
    trainer = await http.post(
        f"/admin/clients/{client_b.id}/staff",
        json={"email": "owner@alpha.example", "password": "another-password", "role": "trainer"},
        headers=admin.headers,
    )
    assert trainer.status_code == 201, trainer.text
    assert trainer.json()["data"]["user"]["role"] == "trainer"
    assert trainer.json()["data"]["user"]["clientId"] == client_b.id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "x@example.com", "password": "short"}, "password"),
        ({"email": "not-an-email", "password": "long-enough-1"}, "email"),
        ({"email": "x@example.com", "password": "long-enough-1", "role": "owner"}, "role"),
        ({"email": "x@example.com", "password": "long-enough-1", "clientId": 2}, "clientId"),
    ],
)
async def test_create_staff_validation(
    http: httpx.AsyncClient,
    admin: TestAdmin,
    client_a: TestClient,
    body: dict[str, Any],
    field: str,
) -> None:
    response = await http.post(
        f"/admin/clients/{client_a.id}/staff", json=body, headers=admin.headers
    )
    assert field in _fields(response)


async def test_create_staff_in_an_unknown_client_is_404(
    http: httpx.AsyncClient, admin: TestAdmin
) -> None:
    response = await http.post(
        "/admin/clients/4242/staff",
        json={"email": "x@example.com", "password": "long-enough-1"},
        headers=admin.headers,
    )
    _error(response, 404, "NOT_FOUND")


# --- universal key ----------------------------------------------------------------------------


async def test_issue_the_universal_key(
    http: httpx.AsyncClient, admin: TestAdmin, client_a: TestClient
) -> None:
    first = await http.post("/admin/universal-key", headers=admin.headers)
    assert first.status_code == 201, first.text
    data = first.json()["data"]
    assert data["universalKey"].startswith(security.UNIVERSAL_KEY_PREFIX)
    assert data["prefix"] == data["universalKey"][: security.SHOWN_PREFIX_LENGTH]
    assert (await _config(http, data["universalKey"])).status_code == 200

    second = await http.post("/admin/universal-key", headers=admin.headers)
    assert second.status_code == 201
    _error(await _config(http, data["universalKey"]), 401, "INVALID_API_KEY")  # at once
    assert (await _config(http, second.json()["data"]["universalKey"])).status_code == 200
