"""The route class every stvos router uses, and the per-request database session.

:class:`StvosRoute` does three things for every route, so that no router has to remember them:

* refuses to exist without a declared access policy (deny by default);
* checks the request body before FastAPI parses it: size (413) and media type (415);
* stores the answer of an idempotent request inside the request's own transaction.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi import params as fastapi_params
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from stvos.kit.deps import DbSession
from stvos.kit.errors import UnsupportedMediaType
from stvos.kit.policy import Policy, PolicyGuard

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class PolicyMissing(TypeError):
    pass


def route_policy(route: APIRoute) -> Policy | None:
    for dependency in route.dependencies:
        if isinstance(dependency.dependency, PolicyGuard):
            return dependency.dependency.policy
    return None


@lru_cache(maxsize=64)  # a handful of distinct headers in practice; parsing one costs ~10 us
def _is_json(content_type: str) -> bool:
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _is_form(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in {"multipart/form-data", "application/x-www-form-urlencoded"}


class StvosRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        policy = route_policy(self)
        if policy is None:
            raise PolicyMissing(
                f"route {sorted(self.methods or [])} {self.path} declares no access policy; "
                "add dependencies=[allow(Auth....)]"
            )
        self.policy: Policy = policy
        body_info = self.body_field.field_info if self.body_field else None
        self.expects_form = isinstance(body_info, fastapi_params.Form)
        self.expects_json = self.body_field is not None and not self.expects_form

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def stvos_handler(request: Request) -> Response:
            if request.method in _BODY_METHODS and (self.expects_json or self.expects_form):
                await self._check_body(request)
            response = await handler(request)
            idempotency = getattr(request.state, "idempotency", None)
            if idempotency is not None:
                await idempotency.remember(response)
            return response

        return stvos_handler

    async def _check_body(self, request: Request) -> None:
        # Reading here (Starlette caches it) lets a too-large body surface as our 413 rather
        # than as FastAPI's generic "error parsing the body".
        if self.expects_form:
            content_type = request.headers.get("content-type", "")
            if not _is_form(content_type):
                raise UnsupportedMediaType("The request body must be multipart/form-data")
            return
        body = await request.body()
        if not body:
            return
        content_type = request.headers.get("content-type", "")
        if not _is_json(content_type):
            raise UnsupportedMediaType(
                "The request body must be JSON with Content-Type: application/json"
            )


API_PREFIX = "/api/v1"


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes are :class:`StvosRoute`, under the API's base path.

    The prefix sits on each router (not on an including router) so that every route knows its
    full path: access logs and idempotency records name the real route template.
    """
    kwargs.setdefault("prefix", API_PREFIX)
    return APIRouter(route_class=StvosRoute, **kwargs)


@dataclass(frozen=True, slots=True)
class MountedRoute:
    """A route as the application serves it: full path and methods, and what declared it."""

    path: str
    methods: frozenset[str]
    route: BaseRoute

    @property
    def policy(self) -> Policy | None:
        return self.route.policy if isinstance(self.route, StvosRoute) else None


def mounted_routes(app: FastAPI) -> list[MountedRoute]:
    """Every route of ``app`` with its full path, through included routers."""
    return [
        MountedRoute(
            path=context.path_format or context.path or "",
            methods=frozenset(context.methods or ()),
            route=context.original_route,
        )
        for context in iter_route_contexts(app.routes)
    ]


__all__ = ["API_PREFIX", "DbSession", "MountedRoute", "StvosRoute", "api_router", "mounted_routes"]
