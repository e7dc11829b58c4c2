"""Who is calling: the API-key layer of every request, with a short cache and rate limits.

This is the :class:`stvos.kit.policy.Authenticator` the application installs. It resolves the
``X-API-Key`` (per-client key or the universal key), picks the client, refuses suspended
clients and applies the key's rate limit. Bearer layers (users, trainers, staff, partner staff,
platform admins) are delegated to a :class:`BearerAuthenticator` that the accounts domain
installs; until one is installed those routes answer 401.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.config import Settings
from stvos.kit import security
from stvos.kit.clock import get_clock
from stvos.kit.db import Database
from stvos.kit.errors import (
    ApiKeyRequired,
    ClientSuspended,
    InvalidApiKey,
    NoDefaultClient,
    RateLimited,
    Unauthorized,
)
from stvos.kit.policy import Auth, Caller, ClientContext, Policy
from stvos.kit.ratelimit import Quota, RateLimiter
from stvos.kit.tenancy import TenantScope, set_scope
from stvos.tenancy import service
from stvos.tenancy.errors import ClientNotFound
from stvos.tenancy.service import ResolvedKey

API_KEY_HEADER = "x-api-key"
_KEY_LAYERS = frozenset({Auth.API_KEY, Auth.USER, Auth.TRAINER, Auth.STAFF})
_BEARER_LAYERS = frozenset({Auth.USER, Auth.TRAINER, Auth.STAFF, Auth.PARTNER, Auth.ADMIN})

# Under the universal key, something other than the key names the client (a user's token, a
# voucher code). Each hint returns a client id or None; the default client is the last resort.
ClientHint = Callable[[Request], Awaitable[int | None]]


class BearerAuthenticator(Protocol):
    async def authenticate(self, request: Request, caller: Caller, session: AsyncSession) -> Caller:
        """Verify the bearer token for ``caller.policy``; fill in who the caller is.

        Called with the API-key layer done (``caller.client`` set for key routes) and the
        session's scope declared for it. A layer without an API key (partner staff, platform
        admins) sets ``caller.client``/``admin_id`` itself and calls :func:`declare_scope`
        before it queries.
        """
        ...


def declare_scope(session: AsyncSession, caller: Caller) -> None:
    set_scope(session.sync_session, caller.scope)


@dataclass(slots=True)
class _Cached:
    expires: float
    value: ResolvedKey | None


class KeyCache:
    """Resolved keys by hash for a few seconds, so the hot path skips the database."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, _Cached] = {}

    def get(self, digest: str) -> _Cached | None:
        entry = self._entries.get(digest)
        if entry is None or entry.expires <= get_clock().monotonic():
            return None
        return entry

    def put(self, digest: str, value: ResolvedKey | None) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude but bounded; a full cache is rebuilt in one TTL
        self._entries[digest] = _Cached(get_clock().monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._entries.clear()


class ClientAuthenticator:
    def __init__(self, settings: Settings, db: Database, limiter: RateLimiter) -> None:
        self.settings = settings
        self.db = db
        self.limiter = limiter
        self.keys = KeyCache(settings.security.api_key_cache_seconds)
        self.client_hints: list[ClientHint] = []
        self.bearer: BearerAuthenticator | None = None
        self._default: tuple[float, ClientContext | None] | None = None

    def invalidate(self) -> None:
        """Forget cached keys and clients (after a revocation or a client change)."""
        self.keys.clear()
        self._default = None

    async def authenticate(self, request: Request, policy: Policy, session: AsyncSession) -> Caller:
        caller = Caller(policy=policy)
        raw_key = request.headers.get(API_KEY_HEADER)
        if policy.auth in _KEY_LAYERS or (policy.auth is Auth.OPTIONAL_KEY and raw_key):
            required = policy.auth is not Auth.OPTIONAL_KEY
            await self._apply_key(request, caller, raw_key, required=required)
        declare_scope(session, caller)
        if policy.auth in _BEARER_LAYERS:
            if self.bearer is None:
                raise Unauthorized("Sign-in is not available on this server")
            caller = await self.bearer.authenticate(request, caller, session)
        return caller

    async def _apply_key(
        self, request: Request, caller: Caller, raw_key: str | None, *, required: bool
    ) -> None:
        if not raw_key:
            raise ApiKeyRequired()
        resolved = await self.resolve_key(raw_key.strip())
        if resolved is None:
            raise InvalidApiKey()
        caller.api_key_id = None if resolved.universal else resolved.key_id
        caller.universal_key = resolved.universal
        client = resolved.client
        if resolved.universal:
            client = await self._client_for_universal_key(request)
            if client is None and required:
                raise NoDefaultClient()
        if client is not None and not client.is_active:
            raise ClientSuspended()
        caller.client = client
        await self._rate_limit(request, resolved, client)

    async def resolve_key(self, raw_key: str) -> ResolvedKey | None:
        if not security.looks_like_key(raw_key):
            return None
        digest = security.hash_key(raw_key)
        cached = self.keys.get(digest)
        if cached is not None:
            return cached.value
        async with self.db.transaction(TenantScope.for_platform()) as session:
            resolved = await service.lookup_key(session, raw_key)
        self.keys.put(digest, resolved)
        return resolved

    async def _client_for_universal_key(self, request: Request) -> ClientContext | None:
        for hint in self.client_hints:
            client_id = await hint(request)
            if client_id is not None:
                return await self.client_by_id(client_id)
        return await self.default_client()

    async def default_client(self) -> ClientContext | None:
        now = get_clock().monotonic()
        if self._default is not None and self._default[0] > now:
            return self._default[1]
        async with self.db.transaction(TenantScope.for_platform(), write=False) as session:
            client = await service.default_client(session)
        context = service.client_context(client) if client else None
        self._default = (now + self.keys.ttl, context)
        return context

    async def client_by_id(self, client_id: int) -> ClientContext | None:
        async with self.db.transaction(TenantScope.for_platform(), write=False) as session:
            try:
                client = await service.find_client(session, client_id)
            except ClientNotFound:
                return None
        return service.client_context(client)

    async def _rate_limit(
        self, request: Request, resolved: ResolvedKey, client: ClientContext | None
    ) -> None:
        limits = self.settings.rate_limit
        if not limits.enabled:
            return
        quota = Quota(
            per_minute=(client.rate_limit_per_minute if client else None) or limits.per_minute,
            burst=(client.rate_limit_burst if client else None) or limits.burst,
        )
        # The universal key is shared by every app, so its budget is per client it acts for.
        identity = (
            f"uk{resolved.key_id}:c{client.id if client else 0}"
            if resolved.universal
            else f"k{resolved.key_id}"
        )
        decision = await self.limiter.hit(identity, quota)
        request.state.rate_limit = decision
        if not decision.allowed:
            raise RateLimited(
                f"Rate limit of {quota.per_minute} requests per minute (burst {quota.burst}) "
                f"exceeded; retry in {max(1, decision.reset_seconds)} s"
            )  # the headers, Retry-After included, come from request.state.rate_limit
