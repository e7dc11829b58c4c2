"""The route class every stvos router uses, and the per-request database session.

:class:`StvosRoute` does three things for every route, so that no router has to remember them:

* refuses to exist without a declared access policy (deny by default);
* checks the request body before FastAPI parses it: size (413) and media type (415);
* stores the answer of an idempotent request inside the request's own transaction.

And one for the few routes marked :func:`hot_path` (the heartbeat: every viewer, every 30 s):
their well-formed requests skip FastAPI's dependency solving and response validation, which
cost about as much CPU as the whole heartbeat's own work (``bench/``: server CPU per request),
and are served in front of FastAPI's routing by :class:`HotRoutes`. See :class:`HotPlan` for
what such a route may declare and what stays the same.
"""

from __future__ import annotations

import email.message
import inspect
import json
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar, get_type_hints

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi import params as fastapi_params
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, TypeAdapter
from starlette.convertors import Convertor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stvos.kit.deps import DbSession, is_db_session, request_transaction
from stvos.kit.errors import UnsupportedMediaType
from stvos.kit.policy import CredentialGuard, Policy, PolicyGuard, PublicGuard

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


Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
_HOT_MARK = "__stvos_hot_path__"


def hot_path(endpoint: Endpoint) -> Endpoint:
    """Serve the route's well-formed requests without FastAPI's dependency solving.

    Put it under the router's decorator. The route must fit :class:`HotPlan` (checked when the
    route is built) and return a ready ``Response`` (see ``kit.schemas.ok_json``)."""
    setattr(endpoint, _HOT_MARK, True)
    return endpoint


class NotHot(TypeError):
    pass


@dataclass(frozen=True, slots=True)
class HotPlan:
    """How a :func:`hot_path` route's endpoint gets its arguments without FastAPI.

    The endpoint may take only the ``Request``, the ``DbSession``, path parameters and one
    required JSON body model; its only dependency is its policy guard; it returns a
    ``Response``. Anything else is refused when the route is built.

    A request is parsed first (path parameters by their annotations, the body by its model,
    exactly as FastAPI would); when any of it is malformed, FastAPI's own handler answers it,
    so errors keep their usual shape and order (the guard's 401 still comes first). A
    well-formed request then gets the same session and transaction as ``DbSession``, the same
    guard, the same endpoint; errors go to the same handlers.
    """

    guard: CredentialGuard | PublicGuard
    path: tuple[tuple[str, TypeAdapter[Any]], ...]
    body: tuple[str, type[BaseModel]] | None
    request_names: tuple[str, ...]
    session_names: tuple[str, ...]

    @classmethod
    def of(cls, route: APIRoute) -> HotPlan:
        where = f"hot path {sorted(route.methods or [])} {route.path}"
        guards = [d.dependency for d in route.dependencies]
        guard = guards[0] if len(guards) == 1 else None
        if not isinstance(guard, (CredentialGuard, PublicGuard)):
            raise NotHot(f"{where}: its only dependency must be its allow(...) guard")
        hints = get_type_hints(route.endpoint, include_extras=True)
        returns = hints.get("return")
        if not (inspect.isclass(returns) and issubclass(returns, Response)):
            raise NotHot(f"{where}: the endpoint must return a Response")
        path: list[tuple[str, TypeAdapter[Any]]] = []
        body: tuple[str, type[BaseModel]] | None = None
        requests: list[str] = []
        sessions: list[str] = []
        for name, parameter in inspect.signature(route.endpoint).parameters.items():
            annotation = hints.get(name)
            if annotation is Request:
                requests.append(name)
            elif is_db_session(annotation):
                sessions.append(name)
            elif name in route.param_convertors and annotation is not None:
                path.append((name, TypeAdapter(annotation)))
            elif (
                body is None
                and inspect.isclass(annotation)
                and issubclass(annotation, BaseModel)
                and parameter.default is inspect.Parameter.empty
            ):
                body = (name, annotation)
            else:
                raise NotHot(f"{where}: parameter {name!r} is not one a hot path can fill")
        return cls(guard, tuple(path), body, tuple(requests), tuple(sessions))

    def handler(self, endpoint: Callable[..., Any], standard: Handler) -> Handler:
        """The route's handler when the router reaches it: FastAPI's own for malformed input."""

        async def hot(request: Request) -> Response:
            arguments = await self.parse(request)
            if arguments is None:
                return await standard(request)
            return await self.run(endpoint, request, arguments)

        return hot

    async def parse(self, request: Request) -> dict[str, Any] | None:
        """The endpoint's arguments from the request, or None when any is malformed."""
        found = request.path_params
        try:
            arguments = {name: adapter.validate_python(found[name]) for name, adapter in self.path}
            if self.body is not None:
                raw = await request.body()
                if not raw:
                    return None
                name, model = self.body
                arguments[name] = model.model_validate(json.loads(raw))
        except ValueError:  # pydantic's and json's errors are ValueErrors
            return None
        return arguments

    async def run(
        self, endpoint: Callable[..., Any], request: Request, arguments: dict[str, Any]
    ) -> Response:
        """The endpoint with the request's session and transaction, behind its guard."""
        async with request_transaction(request) as session:
            if isinstance(self.guard, CredentialGuard):
                await self.guard(request, session)
            else:
                await self.guard(request)
            arguments |= dict.fromkeys(self.request_names, request)
            arguments |= dict.fromkeys(self.session_names, session)
            response: Response = await endpoint(**arguments)
        return response


class StvosRoute(APIRoute):
    hot_plan: HotPlan | None = None

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

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        # Called once, from APIRoute's constructor: the route's parameters are known by then.
        self.hot_plan = HotPlan.of(self) if getattr(self.endpoint, _HOT_MARK, False) else None
        if self.hot_plan is not None:
            handler = self.hot_plan.handler(self.endpoint, handler)

        async def stvos_handler(request: Request) -> Response:
            await self._check_body_of(request)
            response = await handler(request)
            await self._remember(request, response)
            return response

        return stvos_handler

    async def serve_in_front(self, request: Request) -> Response | None:
        """A :func:`hot_path` request served by :class:`HotRoutes`, as :meth:`get_route_handler`
        's handler would serve it; None when it is malformed (the router must answer it)."""
        assert self.hot_plan is not None
        await self._check_body_of(request)
        arguments = await self.hot_plan.parse(request)
        if arguments is None:
            return None
        response = await self.hot_plan.run(self.endpoint, request, arguments)
        await self._remember(request, response)
        return response

    async def _check_body_of(self, request: Request) -> None:
        if request.method in _BODY_METHODS and (self.expects_json or self.expects_form):
            await self._check_body(request)

    @staticmethod
    async def _remember(request: Request, response: Response) -> None:
        idempotency = getattr(request.state, "idempotency", None)
        if idempotency is not None:
            await idempotency.remember(response)

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


class HotRoutes:
    """Serve :func:`hot_path` routes in front of FastAPI's routing.

    Reaching a route through FastAPI costs, besides dependency solving (which ``hot_path``
    already skips), its exception and exit-stack layers and three rounds of route matching
    (application, included router, route), about a sixth of a heartbeat's CPU (``bench/``). This
    layer matches the hot routes' own paths first and serves a well-formed request exactly as
    the route's handler would (body checks, guard, session, endpoint, idempotency record),
    with the application's exception handlers for its errors. Anything else goes on to the
    router untouched: other paths and methods, and a malformed hot request, whose body is
    replayed so FastAPI answers it as it answers any other.

    Mount it inside the request-context middleware (request id, body limit, access log) and
    CORS, as the liveness probe is.
    """

    def __init__(self, app: ASGIApp, *, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self._table: list[_HotEntry] | None = None  # built at the first request: routes are final

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._find(scope) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        route, path_params = found
        scope["path_params"] = {**scope.get("path_params", {}), **path_params}
        scope["endpoint"] = route.endpoint
        scope["route"] = route
        request = Request(scope, receive)
        try:
            response = await route.serve_in_front(request)
        except Exception as exc:
            response = await self._handled(request, exc)
        if response is None:  # malformed: the router's own handling answers it
            await self.app(scope, _replaying(request, receive), send)
            return
        await response(scope, receive, send)

    def _find(self, scope: Scope) -> tuple[StvosRoute, dict[str, Any]] | None:
        if self._table is None:
            self._table = []
            for mounted in mounted_routes(self.api):
                if isinstance(mounted.route, StvosRoute) and mounted.route.hot_plan is not None:
                    regex, _format, convertors = compile_path(mounted.path)
                    self._table.append(_HotEntry(regex, convertors, mounted.methods, mounted.route))
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):  # behind a proxy's prefix, as the router matches
            path = path[len(root) :]
        for entry in self._table:
            matched = entry.regex.match(path)
            if matched is not None and scope["method"] in entry.methods:
                params = {
                    name: entry.convertors[name].convert(value)
                    for name, value in matched.groupdict().items()
                }
                return entry.route, params
        return None

    async def _handled(self, request: Request, exc: Exception) -> Response:
        """The application's handler for ``exc``, as its exception middleware would pick it."""
        handlers = self.api.exception_handlers
        handler = None
        if isinstance(exc, StarletteHTTPException):
            handler = handlers.get(exc.status_code)
        if handler is None:
            handler = next((handlers[k] for k in type(exc).__mro__ if k in handlers), None)
        if handler is None:
            raise exc  # the request-context middleware's last-resort 500
        answer = handler(request, exc)
        response: Response = await answer if inspect.isawaitable(answer) else answer
        return response


@dataclass(frozen=True, slots=True)
class _HotEntry:
    regex: re.Pattern[str]
    convertors: dict[str, Convertor[Any]]
    methods: frozenset[str]
    route: StvosRoute


def _replaying(request: Request, receive: Receive) -> Receive:
    """``receive`` for the router after the request's body was read here: that body once (read
    now if it was not), then the rest of the connection's messages (a disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": await request.body(), "more_body": False}

    return replay


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


__all__ = [
    "API_PREFIX",
    "DbSession",
    "HotPlan",
    "HotRoutes",
    "MountedRoute",
    "StvosRoute",
    "api_router",
    "hot_path",
    "mounted_routes",
]
