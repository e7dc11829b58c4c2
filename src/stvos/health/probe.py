"""``GET /api/v1/health`` answered in front of the router.

Load balancers and monitors poll liveness several times a second per instance. The answer
needs no credential, no database and nothing of the request but its method and path, yet
FastAPI's routing, dependency solving and response validation cost several times what the
server itself spends on the request (``bench/``: the ``health`` scenario against the bare ASGI
anchor). So this layer answers it first.

It is mounted inside the request-context middleware (request id, access log) and CORS, so the
answer carries the same headers as any other. The route in :mod:`stvos.health.router` stays the
declaration: its access policy (public), its OpenAPI entry, and the same body, built by
:func:`liveness_json` for both. Other methods and paths pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from stvos.config import Settings
from stvos.health import service
from stvos.health.schemas import Health
from stvos.kit.schemas import ok_bytes


def liveness_json(settings: Settings, started_monotonic: float) -> bytes:
    """The liveness answer's body: ``{"success": true, "data": {"status": "ok", ...}}``."""
    return ok_bytes(Health(**service.summary(settings, started_monotonic)))


class LivenessProbe:
    def __init__(self, app: ASGIApp, *, path: str, body: Callable[[], bytes]) -> None:
        self.app = app
        self.path = path
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or self._route_path(scope) != self.path
        ):
            await self.app(scope, receive, send)
            return
        body = self.body()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _route_path(scope: Scope) -> str:
        # As the router sees it: behind a proxy's root path, the path includes that prefix.
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        return path[len(root) :] if root and path.startswith(root) else path
