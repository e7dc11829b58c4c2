"""Rendering every failure into the contract's error envelope."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from stvos.kit.errors import DatabaseBusy, MethodNotAllowed, NotFound, StvosError
from stvos.kit.logging import request_id_var
from stvos.kit.schemas import ErrorEnvelope, FieldError

log = logging.getLogger("stvos.errors")

_LOCATIONS = {"body", "query", "path", "header", "cookie"}
_FRIENDLY = {
    "extra_forbidden": "Unknown field",
    "missing": "Field required",
    "json_invalid": "Malformed JSON",
}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorEnvelope(error=message, code=code, details=details, request_id=request_id_var.get())
    return JSONResponse(
        body.model_dump(mode="json", by_alias=True, exclude_none=True),
        status_code=status,
        headers=dict(headers) if headers else None,
    )


def field_errors(errors: Sequence[Any]) -> list[FieldError]:
    out: list[FieldError] = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        where = loc[0] if loc and loc[0] in _LOCATIONS else None
        path = loc[1:] if where else loc
        if err.get("type") == "json_invalid":
            position = f" at character {path[0]}" if path else ""
            reason = (err.get("ctx") or {}).get("error", "")
            message = f"Malformed JSON{position}" + (f": {reason}" if reason else "")
            out.append(FieldError(field="body", message=message))
            continue
        field = ".".join(path) if path else (where or "body")
        message = _FRIENDLY.get(err.get("type", ""), err.get("msg", "Invalid value"))
        if where in {"query", "header", "path"}:
            message = f"{message} (in {where})"
        out.append(FieldError(field=field, message=message))
    return out


async def _on_stvos_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StvosError)
    return error_response(
        exc.status, exc.code, exc.message, details=exc.details, headers=exc.headers
    )


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = field_errors(exc.errors())
    summary = "; ".join(f"{d.field}: {d.message}" for d in details[:3])
    return error_response(
        400,
        "VALIDATION_ERROR",
        f"The request is not valid ({summary})" if summary else "The request is not valid",
        details=[d.model_dump() for d in details],
    )


async def _on_http_exception(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_response(404, NotFound.code, "No such endpoint")
    if exc.status_code == 405:
        return error_response(
            405, MethodNotAllowed.code, MethodNotAllowed.default_message, headers=exc.headers
        )
    if exc.status_code == 400:
        return error_response(400, "VALIDATION_ERROR", str(exc.detail))
    code = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 413: "PAYLOAD_TOO_LARGE"}.get(
        exc.status_code, "HTTP_ERROR"
    )
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _on_pool_timeout(request: Request, _exc: Exception) -> JSONResponse:
    log.warning("no pooled database connection came free in time (pool_timeout_seconds)")
    return await _on_stvos_error(request, DatabaseBusy(headers={"Retry-After": "1"}))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StvosError, _on_stvos_error)
    app.add_exception_handler(PoolTimeout, _on_pool_timeout)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
