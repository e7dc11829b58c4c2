"""The OpenAPI 3.1 document and the offline docs page."""

from __future__ import annotations

import re

import httpx


async def test_openapi_is_3_1_and_describes_our_envelopes(http: httpx.AsyncClient) -> None:
    response = await http.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/app/config" in spec["paths"]
    assert "/api/v1/openapi.json" not in spec["paths"]  # docs plumbing stays out
    text = response.text
    assert '"422"' not in text  # validation is 400 in this API
    assert "HTTPValidationError" not in text
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}

    config = spec["paths"]["/api/v1/app/config"]["get"]
    assert config["x-stvos-access"] == {"auth": "none_or_key", "feature": None}
    assert {"ApiKey": []} in config["security"]
    assert config["responses"]["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorEnvelope"
    }
    error = spec["components"]["schemas"]["ErrorEnvelope"]
    assert {"success", "error", "code", "details", "requestId"} <= set(error["properties"])

    health = spec["paths"]["/api/v1/health"]["get"]
    assert health["security"] == []


async def test_docs_page_works_without_the_internet(http: httpx.AsyncClient) -> None:
    page = await http.get("/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    urls += re.findall(r"""url: ?["']([^"']+)["']""", page.text)
    assert urls
    assert all(u.startswith("/api/v1/") for u in urls), urls
    for asset, kind in [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("favicon.png", "image/png"),
    ]:
        served = await http.get(f"/docs/assets/{asset}")
        assert served.status_code == 200, asset
        assert kind in served.headers["content-type"]
        assert len(served.content) > 100
    missing = await http.get("/docs/assets/..%2F..%2Fconfig.py")
    assert missing.status_code == 404
