"""Access policy, deny by default: every route says who may call it and which feature gates it.

Routes declare their policy with ``dependencies=[allow(Auth.API_KEY, feature="classes")]``.
:class:`stvos.kit.routing.StvosRoute` refuses to register a route without one, and a test walks
``app.routes`` to prove it. The guard asks the application's :class:`Authenticator` (wired in
``create_app``) to establish the :class:`Caller`, then checks the feature flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.deps import DbSession
from stvos.kit.errors import FeatureDisabled
from stvos.kit.tenancy import NO_SCOPE, TenantScope


class Auth(StrEnum):
    """Who may call a route (the auth layers of API.md)."""

    PUBLIC = "none"  # anyone, no credential
    OPTIONAL_KEY = "none_or_key"  # anyone; an X-API-Key, when sent, must be valid
    API_KEY = "api_key"  # K: a client's app
    USER = "user"  # K + B: a signed-in end user of that client
    TRAINER = "trainer"  # K + B with role trainer
    STAFF = "staff"  # K + B with role client_admin (studio back office)
    PARTNER = "partner"  # P: partner staff token, no API key
    ADMIN = "admin"  # A: platform admin token


class Feature(StrEnum):
    """The published feature keys a client can switch on; a route may be gated by one."""

    CLASSES = "classes"
    LIVE_CLASSES = "live_classes"
    WORKOUT_BUILDER = "workout_builder"
    NUTRITION = "nutrition"
    COACH_CONNECT = "coach_connect"
    AI_COACH = "ai_coach"


ALL_FEATURES: tuple[str, ...] = tuple(f.value for f in Feature)


@dataclass(frozen=True, slots=True)
class Policy:
    auth: Auth
    feature: str | None = None
    # A public route whose credential-free input (an invite code, a partner's email, a refresh
    # token) is what names the client, so its lookup must see every client: the request runs
    # in the platform scope, and the service names the client explicitly on what it touches.
    platform_lookup: bool = False
    # A hot user route (the heartbeat) that checks the account itself, inside its own first
    # statement, instead of the guard spending a statement on it: see PendingSignIn.
    sign_in_checked_by_route: bool = False

    def __post_init__(self) -> None:
        if self.feature is not None and self.feature not in ALL_FEATURES:
            raise ValueError(f"unknown feature {self.feature!r}; known: {', '.join(ALL_FEATURES)}")
        if self.platform_lookup and self.auth is not Auth.PUBLIC:
            raise ValueError("platform_lookup is only for Auth.PUBLIC routes")
        if self.sign_in_checked_by_route and self.auth is not Auth.USER:
            raise ValueError("sign_in_checked_by_route is only for Auth.USER routes")


@dataclass(slots=True)
class PendingSignIn:
    """A user's access token whose signature, expiry and client were verified by the guard, but
    whose account check (the account is active, the token version is current, the sign-in was
    not ended) the route folds into its own first statement.

    Only routes declared with ``allow(Auth.USER, sign_in_checked_by_route=True)`` get one. The
    request's transaction refuses to commit while it is unconfirmed (``unmet``), so a route that
    forgets the check fails closed with a 500 instead of serving a logged-out token.
    """

    user_id: int
    token_version: int
    family: str | None
    confirmed: bool = False

    def unmet(self) -> str | None:
        if self.confirmed:
            return None
        return "the route declared sign_in_checked_by_route but never confirmed the sign-in"


@dataclass(frozen=True, slots=True)
class ClientContext:
    """What a request needs to know about its client, cached with the API key."""

    id: int
    slug: str
    name: str
    status: str
    enabled_features: frozenset[str]
    requires_voucher: bool
    rate_limit_per_minute: int | None
    rate_limit_burst: int | None
    time_zone: str = "UTC"
    # Percent of a class that must be watched to complete it (a per-client setting).
    completion_threshold: int = 90

    @property
    def is_active(self) -> bool:
        return self.status == "active"


@dataclass(slots=True)
class Caller:
    """The established identity of a request."""

    policy: Policy
    client: ClientContext | None = None
    api_key_id: int | None = None
    universal_key: bool = False
    # Filled by the accounts layer for bearer-authenticated callers.
    user_id: int | None = None
    role: str | None = None
    partner_id: int | None = None
    admin_id: int | None = None
    pending_sign_in: PendingSignIn | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def client_id(self) -> int | None:
        return self.client.id if self.client else None

    def require_user_id(self) -> int:
        """The signed-in user of a route whose policy guarantees one (user, trainer, staff)."""
        if self.user_id is None:
            raise RuntimeError(f"{self.policy.auth} route has no signed-in user")
        return self.user_id

    def require_pending_sign_in(self) -> PendingSignIn:
        """The account check a ``sign_in_checked_by_route`` route must run and confirm."""
        if self.pending_sign_in is None:
            raise RuntimeError(f"{self.policy.auth} route has no pending sign-in check")
        return self.pending_sign_in

    def require_client(self) -> ClientContext:
        """The client of a route whose policy guarantees one (API key, user, partner)."""
        if self.client is None:
            raise RuntimeError(f"{self.policy.auth} route has no client")
        return self.client

    @property
    def scope(self) -> TenantScope:
        """The tenant scope this caller's database work runs in."""
        if self.admin_id is not None or self.policy.platform_lookup:
            return TenantScope.for_platform()
        if self.client is not None:
            return TenantScope.for_client(self.client.id)
        return NO_SCOPE

    @property
    def subject(self) -> str:
        """A stable name of who is acting, used to scope idempotency keys."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        if self.partner_id is not None:
            return f"partner:{self.partner_id}"
        if self.admin_id is not None:
            return f"admin:{self.admin_id}"
        return "client"


class Authenticator(Protocol):
    async def authenticate(self, request: Request, policy: Policy, session: AsyncSession) -> Caller:
        """Establish the caller and declare its tenant scope on ``session``."""
        ...


class PolicyGuard:
    """The dependency behind :func:`allow`; its presence is what marks a route as declared."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.policy.auth.value}, feature={self.policy.feature!r})"


class CredentialGuard(PolicyGuard):
    """Establishes the caller from their credential in the request's session, then checks the
    route's feature flag."""

    async def __call__(self, request: Request, session: DbSession) -> Caller:
        authenticator: Authenticator = request.app.state.authenticator
        caller = await authenticator.authenticate(request, self.policy, session)
        feature = self.policy.feature
        if feature and caller.client and feature not in caller.client.enabled_features:
            raise FeatureDisabled(f"The '{feature}' feature is not enabled for this client")
        request.state.caller = caller
        return caller


class PublicGuard(PolicyGuard):
    """The guard of a route anyone may call that reads no client data (health, docs).

    It needs no credential and so no database session: the per-request session (and its
    transaction) is the largest fixed cost of a request, and these routes are the ones polled by
    load balancers and monitors. A route that does want the database still declares ``DbSession``
    itself; that session has no tenant scope, so tenant-owned data stays refused.
    """

    async def __call__(self, request: Request) -> Caller:
        caller = Caller(policy=self.policy)
        request.state.caller = caller
        return caller


def allow(
    auth: Auth,
    *,
    feature: str | None = None,
    platform_lookup: bool = False,
    sign_in_checked_by_route: bool = False,
) -> DependsParam:
    """Declare who may call a route: ``dependencies=[allow(Auth.API_KEY)]``."""
    policy = Policy(auth, feature, platform_lookup, sign_in_checked_by_route)
    if auth is Auth.PUBLIC and not platform_lookup and feature is None:
        public: DependsParam = Depends(PublicGuard(policy))
        return public
    guard: DependsParam = Depends(CredentialGuard(policy))
    return guard


def current_caller(request: Request) -> Caller:
    caller = getattr(request.state, "caller", None)
    if not isinstance(caller, Caller):
        raise RuntimeError("route has no policy guard; declare one with allow(...)")
    return caller
