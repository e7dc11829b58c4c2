"""Partner products: /partner/products for partner staff, GET /products for apps."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from stvos.kit.db import Database
from tests.partners import SignedInPartner, error_of, signed_in_partner
from tests.support.factories import TestClient

DAY_PASS = {
    "name": "Day pass",
    "description": "One visit to any Iron Gym club",
    "price": "9.99",
    "currency": "GBP",
    "url": "https://irongym.example.com/day-pass",
    "imageUrl": "https://cdn.example.com/day-pass.jpg",
}


async def _add(http: httpx.AsyncClient, partner: SignedInPartner, **body: Any) -> dict[str, Any]:
    response = await http.post("/partner/products", json=body, headers=partner.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_partner_staff_manage_their_products(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    pat = await signed_in_partner(http, db, client_a, currency="EUR")
    day = await _add(http, pat, **DAY_PASS)
    assert day["partnerId"] == pat.id
    assert day["price"] == "9.99"
    assert day["currency"] == "GBP"
    assert day["url"] == DAY_PASS["url"]
    assert day["imageUrl"] == DAY_PASS["imageUrl"]
    assert day["isActive"] is True
    assert day["createdAt"].endswith("Z")

    # Currency left out: the partner's. A number price works too.
    bag = await _add(http, pat, name="Kit bag", price=25)
    assert (bag["price"], bag["currency"], bag["description"], bag["url"]) == (
        "25.00",
        "EUR",
        None,
        None,
    )
    old = await _add(http, pat, name="Annual pass", price=0.5, isActive=False)
    assert old["price"] == "0.50"

    one = await http.get(f"/partner/products/{day['id']}", headers=pat.headers)
    assert one.json()["data"] == day

    listed = (await http.get("/partner/products", headers=pat.headers)).json()["data"]
    assert [p["name"] for p in listed["items"]] == ["Annual pass", "Day pass", "Kit bag"]
    assert listed["pagination"] == {"page": 1, "limit": 20, "total": 3, "totalPages": 1}
    active = (
        await http.get("/partner/products", params={"active": "true"}, headers=pat.headers)
    ).json()["data"]
    assert [p["name"] for p in active["items"]] == ["Day pass", "Kit bag"]
    inactive = (
        await http.get("/partner/products", params={"active": "false"}, headers=pat.headers)
    ).json()["data"]
    assert [p["name"] for p in inactive["items"]] == ["Annual pass"]
    paged = (
        await http.get("/partner/products", params={"page": 2, "limit": 2}, headers=pat.headers)
    ).json()["data"]
    assert [p["name"] for p in paged["items"]] == ["Kit bag"]
    assert paged["pagination"]["totalPages"] == 2

    response = await http.patch(
        f"/partner/products/{day['id']}",
        json={"price": "12", "url": None, "isActive": False},
        headers=pat.headers,
    )
    assert response.status_code == 200, response.text
    changed = response.json()["data"]
    assert (changed["price"], changed["url"], changed["isActive"]) == ("12.00", None, False)
    assert changed["name"] == "Day pass"
    assert changed["imageUrl"] == DAY_PASS["imageUrl"]

    response = await http.delete(f"/partner/products/{bag['id']}", headers=pat.headers)
    assert response.status_code == 200
    assert response.json()["data"] == {"id": bag["id"], "deleted": True}
    error_of(
        await http.get(f"/partner/products/{bag['id']}", headers=pat.headers), 404, "NOT_FOUND"
    )
    error_of(
        await http.delete(f"/partner/products/{bag['id']}", headers=pat.headers), 404, "NOT_FOUND"
    )


async def test_creating_a_product_honours_the_idempotency_key(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    pat = await signed_in_partner(http, db, client_a)
    headers = {**pat.headers, "Idempotency-Key": "product-1"}
    first = await http.post("/partner/products", json=DAY_PASS, headers=headers)
    again = await http.post("/partner/products", json=DAY_PASS, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    other = await http.post(
        "/partner/products", json={**DAY_PASS, "price": "1.00"}, headers=headers
    )
    error_of(other, 409, "IDEMPOTENCY_CONFLICT")
    listed = (await http.get("/partner/products", headers=pat.headers)).json()["data"]
    assert listed["pagination"]["total"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "X", "price": "-1"}, "price"),
        ({"name": "X", "price": "1.234"}, "price"),
        ({"name": "X", "price": "free"}, "price"),
        ({"name": "X", "currency": "eur"}, "currency"),
        ({"name": "X", "url": "javascript:alert(1)"}, "url"),
        ({"name": "X", "url": "ftp://example.com/x"}, "url"),
        ({"name": "X", "imageUrl": "not a url"}, "imageUrl"),
        ({"name": "X", "url": "https://example.com/" + "a" * 500}, "url"),
        ({"name": "X", "partnerId": 1}, "partnerId"),
    ],
)
async def test_product_validation(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    body: dict[str, Any],
    field: str,
) -> None:
    pat = await signed_in_partner(http, db, client_a)
    response = await http.post("/partner/products", json=body, headers=pat.headers)
    details = error_of(response, 400, "VALIDATION_ERROR")["details"]
    assert field in [d["field"] for d in details]
    listed = (await http.get("/partner/products", headers=pat.headers)).json()["data"]
    assert listed["items"] == []


async def test_patch_refuses_nulls_and_bad_values(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    pat = await signed_in_partner(http, db, client_a)
    day = await _add(http, pat, **DAY_PASS)
    url = f"/partner/products/{day['id']}"
    for body, field in (
        ({"name": None}, "name"),
        ({"price": None}, "price"),
        ({"isActive": None}, "isActive"),
        ({"price": "3.001"}, "price"),
        ({"url": "mailto:a@b.c"}, "url"),
        ({"partnerId": 5}, "partnerId"),
    ):
        response = await http.patch(url, json=body, headers=pat.headers)
        details = error_of(response, 400, "VALIDATION_ERROR")["details"]
        assert field in [d["field"] for d in details], body
    assert (await http.get(url, headers=pat.headers)).json()["data"] == day


async def test_another_partners_product_is_not_found(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    pat = await signed_in_partner(http, db, client_a)
    sam = await signed_in_partner(http, db, client_a, name="Other Gym", studio=pat.studio)
    theirs = await _add(http, sam, **DAY_PASS)
    url = f"/partner/products/{theirs['id']}"
    error_of(await http.get(url, headers=pat.headers), 404, "NOT_FOUND")
    error_of(await http.patch(url, json={"name": "Mine"}, headers=pat.headers), 404, "NOT_FOUND")
    error_of(await http.delete(url, headers=pat.headers), 404, "NOT_FOUND")
    listed = (await http.get("/partner/products", headers=pat.headers)).json()["data"]
    assert listed["items"] == []
    assert (await http.get(url, headers=sam.headers)).json()["data"] == theirs


async def test_another_clients_product_is_not_found(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    pat = await signed_in_partner(http, db, client_a)
    bea = await signed_in_partner(http, db, client_b)
    theirs = await _add(http, bea, **DAY_PASS)
    url = f"/partner/products/{theirs['id']}"
    error_of(await http.get(url, headers=pat.headers), 404, "NOT_FOUND")
    error_of(await http.patch(url, json={"name": "Mine"}, headers=pat.headers), 404, "NOT_FOUND")
    error_of(await http.delete(url, headers=pat.headers), 404, "NOT_FOUND")
    # The app of client A never lists client B's products, even when asked by partner id.
    public = await http.get("/products", params={"partnerId": bea.id}, headers=client_a.headers)
    assert public.json()["data"]["items"] == []
    assert (await http.get(url, headers=bea.headers)).json()["data"]["name"] == "Day pass"


async def test_apps_list_active_products_of_active_partners(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    pat = await signed_in_partner(http, db, client_a, name="Iron Gym")
    acme = await signed_in_partner(
        http, db, client_a, name="Acme Corp", type="corporate", studio=pat.studio
    )
    gone = await signed_in_partner(http, db, client_a, name="Gone Gym", studio=pat.studio)
    bea = await signed_in_partner(http, db, client_b, name="B Gym")
    day = await _add(http, pat, **DAY_PASS)
    await _add(http, pat, name="Hidden", isActive=False)
    perk = await _add(http, acme, name="Wellbeing perk", price="0")
    await _add(http, gone, name="Suspended offer")
    await _add(http, bea, name="Other app's offer")
    suspended = await http.patch(
        f"/manage/partners/{gone.id}", json={"status": "suspended"}, headers=pat.studio.headers
    )
    assert suspended.status_code == 200

    response = await http.get("/products", headers=client_a.headers)
    assert response.status_code == 200, response.text
    page = response.json()["data"]
    assert [p["name"] for p in page["items"]] == ["Wellbeing perk", "Day pass"]
    assert page["pagination"]["total"] == 2
    first = page["items"][1]
    assert first["id"] == day["id"]
    assert first["partner"] == {"id": pat.id, "name": "Iron Gym", "type": "gym"}
    assert first["price"] == "9.99"
    assert first["url"] == DAY_PASS["url"]
    assert "isActive" not in first

    only = await http.get("/products", params={"partnerId": acme.id}, headers=client_a.headers)
    assert [p["id"] for p in only.json()["data"]["items"]] == [perk["id"]]
    limited = await http.get("/products", params={"limit": 1}, headers=client_a.headers)
    assert limited.json()["data"]["pagination"]["totalPages"] == 2

    b_page = (await http.get("/products", headers=client_b.headers)).json()["data"]
    assert [p["name"] for p in b_page["items"]] == ["Other app's offer"]

    error_of(await http.get("/products"), 401, "API_KEY_REQUIRED")
    error_of(
        await http.get("/products", params={"partnerId": 0}, headers=client_a.headers),
        400,
        "VALIDATION_ERROR",
    )
    # Partner staff tokens are not app keys.
    response = await http.get("/products", headers=pat.headers)
    assert response.status_code == 401


async def test_partner_routes_need_a_partner_token(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    pat = await signed_in_partner(http, db, client_a)
    response = await http.get("/partner/products", headers=client_a.headers)
    assert response.status_code == 401
    response = await http.get("/partner/products", headers=pat.studio.headers)
    assert response.status_code == 401
