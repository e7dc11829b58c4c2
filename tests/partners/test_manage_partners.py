"""The studio's partner records: billing rate, currency, time zone and status (/manage/partners)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Partner, PartnerStaff, RefreshToken
from tests.partners import PASSWORD, error_of, signed_in_partner
from tests.support.factories import TestClient, TestUser, make_user


async def _studio(http: httpx.AsyncClient, db: Database, client: TestClient) -> TestUser:
    return await make_user(
        http, db, client, f"studio-{client.slug}@example.com", role="client_admin"
    )


async def test_a_partner_is_created_with_its_billing_fields(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    studio = await _studio(http, db, client_a)
    response = await http.post(
        "/manage/partners",
        json={
            "name": "Acme Corp",
            "type": "corporate",
            "billingRate": "4.50",
            "currency": "EUR",
            "timeZone": "Europe/Berlin",
        },
        headers=studio.headers,
    )
    assert response.status_code == 201, response.text
    acme = response.json()["data"]
    assert acme["name"] == "Acme Corp"
    assert acme["type"] == "corporate"
    assert acme["billingRate"] == "4.50"
    assert acme["currency"] == "EUR"
    assert acme["timeZone"] == "Europe/Berlin"
    assert acme["status"] == "active"
    assert acme["createdAt"].endswith("Z")
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        row = await session.get(Partner, acme["id"])
        assert row is not None
        assert (row.billing_rate_minor, row.currency, row.time_zone) == (
            450,
            "EUR",
            "Europe/Berlin",
        )

    # Defaults: no charge, GBP, the app's zone. A number works as well as a string.
    plain = await http.post("/manage/partners", json={"name": "Plain"}, headers=studio.headers)
    data = plain.json()["data"]
    assert (data["billingRate"], data["currency"], data["timeZone"]) == ("0.00", "GBP", None)
    numeric = await http.post(
        "/manage/partners", json={"name": "Numeric", "billingRate": 12.5}, headers=studio.headers
    )
    assert numeric.json()["data"]["billingRate"] == "12.50"

    listed = (await http.get("/manage/partners", headers=studio.headers)).json()["data"]
    by_name = {p["name"]: p for p in listed["items"]}
    assert by_name["Acme Corp"] == acme
    one = await http.get(f"/manage/partners/{acme['id']}", headers=studio.headers)
    assert one.json()["data"] == acme


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "billingRate": "-1"}, "billingRate"),
        ({"name": "X", "billingRate": "4.555"}, "billingRate"),
        ({"name": "X", "billingRate": "abc"}, "billingRate"),
        ({"name": "X", "billingRate": "NaN"}, "billingRate"),
        ({"name": "X", "billingRate": "1000000.01"}, "billingRate"),
        ({"name": "X", "currency": "gbp"}, "currency"),
        ({"name": "X", "currency": "POUND"}, "currency"),
        ({"name": "X", "timeZone": "Mars/Olympus"}, "timeZone"),
        ({"name": "X", "timeZone": "../../etc/passwd"}, "timeZone"),
        ({"name": "X", "type": "spa"}, "type"),
    ],
)
async def test_partner_fields_are_validated(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    body: dict[str, Any],
    field: str,
) -> None:
    studio = await _studio(http, db, client_a)
    response = await http.post("/manage/partners", json=body, headers=studio.headers)
    details = error_of(response, 400, "VALIDATION_ERROR")["details"]
    assert field in [d["field"] for d in details]
    listed = (await http.get("/manage/partners", headers=studio.headers)).json()["data"]
    assert listed["items"] == []  # nothing half-written


async def test_patch_changes_only_what_is_sent(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    studio = await _studio(http, db, client_a)
    created = await http.post(
        "/manage/partners",
        json={"name": "Iron Gym", "billingRate": "3", "timeZone": "America/New_York"},
        headers=studio.headers,
    )
    partner = created.json()["data"]
    url = f"/manage/partners/{partner['id']}"

    response = await http.patch(url, json={"billingRate": 5.25}, headers=studio.headers)
    assert response.status_code == 200, response.text
    changed = response.json()["data"]
    assert changed["billingRate"] == "5.25"
    assert {k: v for k, v in changed.items() if k not in {"billingRate", "updatedAt"}} == {
        k: v for k, v in partner.items() if k not in {"billingRate", "updatedAt"}
    }

    response = await http.patch(
        url,
        json={"name": "Iron Gym North", "type": "reseller", "currency": "USD", "timeZone": None},
        headers=studio.headers,
    )
    changed = response.json()["data"]
    assert changed["name"] == "Iron Gym North"
    assert changed["type"] == "reseller"
    assert changed["currency"] == "USD"
    assert changed["timeZone"] is None  # back to the app's zone
    assert changed["billingRate"] == "5.25"

    for body, field in (
        ({"name": None}, "name"),
        ({"billingRate": None}, "billingRate"),
        ({"billingRate": "1.001"}, "billingRate"),
        ({"currency": "usd"}, "currency"),
        ({"timeZone": "Nowhere/Town"}, "timeZone"),
        ({"status": "deleted"}, "status"),
        ({"colour": "red"}, "colour"),
    ):
        response = await http.patch(url, json=body, headers=studio.headers)
        details = error_of(response, 400, "VALIDATION_ERROR")["details"]
        assert field in [d["field"] for d in details], body
    after = (await http.get(url, headers=studio.headers)).json()["data"]
    assert after == changed

    error_of(
        await http.patch("/manage/partners/999999", json={"name": "X"}, headers=studio.headers),
        404,
        "NOT_FOUND",
    )


async def test_suspending_a_partner_signs_its_staff_out(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    pat = await signed_in_partner(http, db, client_a, email="pat@irongym.com")
    sam = await signed_in_partner(
        http, db, client_a, name="Other Gym", email="sam@other.com", studio=pat.studio
    )
    assert (await http.get("/partner-auth/me", headers=pat.headers)).status_code == 200
    login = await http.post(
        "/partner-auth/login", json={"email": "pat@irongym.com", "password": PASSWORD}
    )
    refresh_token = login.json()["data"]["refreshToken"]

    url = f"/manage/partners/{pat.id}"
    response = await http.patch(url, json={"status": "suspended"}, headers=pat.studio.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "suspended"

    error_of(await http.get("/partner-auth/me", headers=pat.headers), 401, "UNAUTHORIZED")
    error_of(
        await http.post("/partner-auth/refresh", json={"refreshToken": refresh_token}),
        401,
        "UNAUTHORIZED",  # revoked by the suspension
    )
    error_of(
        await http.post(
            "/partner-auth/login", json={"email": "pat@irongym.com", "password": PASSWORD}
        ),
        403,
        "PARTNER_INACTIVE",
    )
    # The other partner's staff are untouched.
    assert (await http.get("/partner-auth/me", headers=sam.headers)).status_code == 200

    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        staff = await session.scalar(select(PartnerStaff).where(PartnerStaff.partner_id == pat.id))
        assert staff is not None
        tokens = list(
            await session.scalars(
                select(RefreshToken).where(RefreshToken.partner_staff_id == staff.id)
            )
        )
        assert tokens
        assert all(t.revoked_at is not None for t in tokens)

    # Reactivated: old sign-ins stay ended, a fresh sign-in works.
    response = await http.patch(url, json={"status": "active"}, headers=pat.studio.headers)
    assert response.json()["data"]["status"] == "active"
    error_of(await http.get("/partner-auth/me", headers=pat.headers), 401, "UNAUTHORIZED")
    assert (
        await http.post("/partner-auth/refresh", json={"refreshToken": refresh_token})
    ).status_code == 401
    login = await http.post(
        "/partner-auth/login", json={"email": "pat@irongym.com", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['data']['accessToken']}"}
    me = await http.get("/partner-auth/me", headers=headers)
    assert me.status_code == 200
    partner = me.json()["data"]["partner"]
    assert partner["billingRate"] == "0.00"
    assert partner["currency"] == "GBP"
    assert "timeZone" in partner


async def test_partner_auth_me_answers_the_billing_fields(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    pat = await signed_in_partner(
        http, db, client_a, billingRate="7.99", currency="USD", timeZone="America/Chicago"
    )
    me = (await http.get("/partner-auth/me", headers=pat.headers)).json()["data"]
    assert me["partner"]["billingRate"] == "7.99"
    assert me["partner"]["currency"] == "USD"
    assert me["partner"]["timeZone"] == "America/Chicago"
    assert me["partner"]["id"] == pat.id


async def test_another_clients_partner_is_not_found(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    studio_a = await _studio(http, db, client_a)
    studio_b = await _studio(http, db, client_b)
    created = await http.post(
        "/manage/partners", json={"name": "A Gym", "billingRate": "2"}, headers=studio_a.headers
    )
    partner_id = created.json()["data"]["id"]
    url = f"/manage/partners/{partner_id}"

    error_of(await http.get(url, headers=studio_b.headers), 404, "NOT_FOUND")
    error_of(
        await http.patch(url, json={"status": "suspended"}, headers=studio_b.headers),
        404,
        "NOT_FOUND",
    )
    error_of(
        await http.patch(url, json={"billingRate": "0"}, headers=studio_b.headers),
        404,
        "NOT_FOUND",
    )
    listed = (await http.get("/manage/partners", headers=studio_b.headers)).json()["data"]
    assert listed["items"] == []
    # Unchanged for its own client.
    mine = (await http.get(url, headers=studio_a.headers)).json()["data"]
    assert (mine["status"], mine["billingRate"]) == ("active", "2.00")


async def test_only_studio_staff_manage_partners(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    pat = await signed_in_partner(http, db, client_a)
    member = await make_user(http, db, client_a, "member@example.com")
    url = f"/manage/partners/{pat.id}"
    error_of(await http.patch(url, json={"name": "X"}, headers=member.headers), 403, "FORBIDDEN")
    response = await http.patch(url, json={"name": "X"}, headers=pat.headers)
    assert response.status_code == 401, response.text
