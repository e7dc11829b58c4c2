"""The served OpenAPI 3.1 document: our envelopes, our access policies, no 422."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from stvos.kit.policy import Auth
from stvos.kit.routing import StvosRoute, mounted_routes
from stvos.kit.schemas import ErrorEnvelope

_SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "Bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
}
_SECURITY: dict[Auth, list[dict[str, list[str]]]] = {
    Auth.PUBLIC: [],
    Auth.OPTIONAL_KEY: [{}, {"ApiKey": []}],
    Auth.API_KEY: [{"ApiKey": []}],
    Auth.USER: [{"ApiKey": [], "Bearer": []}],
    Auth.TRAINER: [{"ApiKey": [], "Bearer": []}],
    Auth.STAFF: [{"ApiKey": [], "Bearer": []}],
    Auth.PARTNER: [{"Bearer": []}],
    Auth.ADMIN: [{"Bearer": []}],
}
_ERRORS = {
    "400": "Invalid input (VALIDATION_ERROR with per-field details)",
    "401": "Missing or invalid credentials",
    "403": "Not allowed, client suspended, or feature disabled",
    "404": "Not found (also for another client's objects)",
    "413": "Body too large",
    "415": "Body is not JSON",
    "429": "Rate limited (see Retry-After)",
    "500": "Unexpected error (quote the requestId)",
}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        openapi_version="3.1.0",
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(_SECURITY_SCHEMES)
    schemas = components.setdefault("schemas", {})
    schemas["ErrorEnvelope"] = ErrorEnvelope.model_json_schema(
        by_alias=True, mode="serialization", ref_template="#/components/schemas/{model}"
    )
    for defs_name, definition in schemas["ErrorEnvelope"].pop("$defs", {}).items():
        schemas.setdefault(defs_name, definition)
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    error_ref = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    }

    for mounted in mounted_routes(app):
        route = mounted.route
        if not isinstance(route, StvosRoute) or not route.include_in_schema:
            continue
        path_item = schema["paths"].get(mounted.path, {})
        for method in mounted.methods:
            operation = path_item.get(method.lower())
            if operation is None:
                continue
            operation["security"] = _SECURITY[route.policy.auth]
            operation["x-stvos-access"] = {
                "auth": route.policy.auth.value,
                "feature": route.policy.feature,
            }
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status, description in _ERRORS.items():
                responses.setdefault(status, {"description": description, **error_ref})
    app.openapi_schema = schema
    return schema
