"""The outermost layer of every request: request id, body size, access log, last-resort 500."""

from __future__ import annotations

import logging
import re
import time
import uuid
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

        request_id = self._request_id(scope)
        token = request_id_var.set(request_id)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                decision = state.get("rate_limit")
                if decision is not None:
                    for name, value in decision.headers().items():
                        if name == "Retry-After" and status != 429:
                            continue
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            declared = self._content_length(scope)
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
    def _request_id(scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate: str = value.decode("latin-1")
                if _INCOMING_ID.match(candidate):
                    return candidate
                break
        return uuid.uuid4().hex

    @staticmethod
    def _content_length(scope: Scope) -> int | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

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
        route = scope.get("route")
        caller = state.get("caller")
        client = getattr(caller, "client", None)
        access_log.info(
            "%s %s %s",
            scope["method"],
            scope["path"],
            status,
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "route": getattr(route, "path", None),
                "status": status,
                "latencyMs": round((time.perf_counter() - started) * 1000, 2),
                "clientId": getattr(client, "id", None),
            },
        )
