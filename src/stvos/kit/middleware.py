"""The outermost layer of every request: request id, body size, access log, last-resort 500."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stvos.kit.errors import PayloadTooLarge
from stvos.kit.handlers import error_response
from stvos.kit.logging import request_id_var

access_log = logging.getLogger("stvos.access")
error_log = logging.getLogger("stvos.errors")

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
REQUEST_ID_HEADER = "X-Request-ID"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id, declared = self._read_headers(scope)
        token = request_id_var.set(request_id)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode("latin-1"))
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [*message.get("headers", ()), id_header]
                decision = state.get("rate_limit")
                if decision is not None:
                    for name, value in decision.headers().items():
                        if name == "Retry-After" and status != 429:
                            continue
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if declared is not None and declared > self.max_body_bytes:
                await self._too_large()(scope, receive, send_with_headers)
                return
            await self.app(scope, self._limited(receive), send_with_headers)
        except Exception:
            error_log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not response_started:
                response = error_response(
                    500,
                    "INTERNAL_ERROR",
                    f"Something went wrong on our side; quote request id {request_id}",
                )
                await response(scope, receive, send_with_headers)
        finally:
            self._log_access(scope, state, status, started)
            request_id_var.reset(token)

    @staticmethod
    def _read_headers(scope: Scope) -> tuple[str, int | None]:
        """One pass over the headers: the request id (the caller's first, when sane; else a
        fresh one) and the declared body length (the first ``Content-Length``)."""
        incoming: bytes | None = None
        length: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if incoming is None:
                    incoming = value
            elif name == b"content-length" and length is None:
                length = value
        request_id: str | None = None
        if incoming is not None:
            candidate = incoming.decode("latin-1")
            if _INCOMING_ID.match(candidate):
                request_id = candidate
        declared: int | None = None
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = None
        # 128 random bits as 32 hex digits, as uuid4().hex was, without building a UUID.
        return request_id or os.urandom(16).hex(), declared

    def _too_large(self) -> Any:
        return error_response(
            413,
            PayloadTooLarge.code,
            f"The request body is larger than {self.max_body_bytes} bytes",
        )

    def _limited(self, receive: Receive) -> Receive:
        """Count streamed (chunked) bodies too; a body over the limit raises 413."""
        received = 0
        limit = self.max_body_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"The request body is larger than {limit} bytes")
            return message

        return limited_receive

    @staticmethod
    def _log_access(scope: Scope, state: dict[str, Any], status: int, started: float) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        route = scope.get("route")
        caller = state.get("caller")
        client = getattr(caller, "client", None)
        method = scope["method"]
        path = scope["path"]
        access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "route": getattr(route, "path", None),
                "status": status,
                "latencyMs": round((time.perf_counter() - started) * 1000, 2),
                "clientId": getattr(client, "id", None),
            },
        )
