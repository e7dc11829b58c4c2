"""Client and API-key management, and the resolution of a request's client from its key.

Everything here runs in the platform scope: these are the operations that must see across
clients (finding which client a key belongs to, creating clients). Callers pass a session
opened with ``TenantScope.for_platform()``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit import security
from stvos.kit.clock import utcnow
from stvos.kit.policy import ClientContext
from stvos.models.client import ALL_FEATURES, ApiKey, Client, ClientStatus, PlatformKey
from stvos.tenancy.errors import (
    ApiKeyNotFound,
    ClientNotFound,
    InvalidClientSettings,
    SlugTaken,
)

UNIVERSAL_KIND = "universal"
_HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    """What an API key stands for: one client's key, or the platform's universal key."""

    key_id: int
    client: ClientContext | None  # None for the universal key
    universal: bool


def client_context(client: Client) -> ClientContext:
    return ClientContext(
        id=client.id,
        slug=client.slug,
        name=client.name,
        status=client.status,
        enabled_features=frozenset(client.enabled_features or ()),
        requires_voucher=client.requires_voucher,
        rate_limit_per_minute=client.rate_limit_per_minute,
        rate_limit_burst=client.rate_limit_burst,
        time_zone=client.time_zone,
        completion_threshold=completion_threshold_of(client),
    )


DEFAULT_COMPLETION_THRESHOLD = 90


def completion_threshold_of(client: Client) -> int:
    """The client's ``settings.completionThreshold`` (50..100), else 90."""
    value = (client.settings or {}).get("completionThreshold")
    if isinstance(value, int) and not isinstance(value, bool) and 50 <= value <= 100:
        return value
    return DEFAULT_COMPLETION_THRESHOLD


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if slug.isdigit():
        slug = f"client-{slug}"  # an all-digit slug would read as a client id
    return slug[:64] or "client"


def validate_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidClientSettings(
            f"Unknown time zone {name!r}; use an IANA name such as Europe/London",
            details=[{"field": "timeZone", "message": "Unknown IANA time zone"}],
        ) from None
    return name


def validate_features(features: list[str]) -> list[str]:
    unknown = sorted(set(features) - set(ALL_FEATURES))
    if unknown:
        raise InvalidClientSettings(
            f"Unknown feature(s): {', '.join(unknown)}; known: {', '.join(ALL_FEATURES)}",
            details=[{"field": "enabledFeatures", "message": "Unknown feature"}],
        )
    return [f for f in ALL_FEATURES if f in set(features)]


def validate_colours(colours: dict[str, str]) -> dict[str, str]:
    bad = sorted(role for role, value in colours.items() if not _HEX_COLOUR.match(value))
    if bad:
        raise InvalidClientSettings(
            f"Colours must be hex like #FF5A1F; not valid: {', '.join(bad)}",
            details=[
                {"field": f"branding.colors.{role}", "message": "Not a hex colour"} for role in bad
            ],
        )
    return dict(colours)


MAX_ASSET_URL_LENGTH = 2048
MAX_RATE_LIMIT = 1_000_000


def validate_asset_url(value: str | None, field: str) -> str | None:
    """A logo or splash-screen address: absolute http(s), or a path served by this API."""
    if value is None:
        return None
    value = value.strip()
    parts = urlsplit(value)
    absolute = parts.scheme in {"http", "https"} and bool(parts.netloc)
    local_path = not parts.scheme and not parts.netloc and value.startswith("/")
    if not (absolute or local_path) or len(value) > MAX_ASSET_URL_LENGTH or " " in value:
        raise InvalidClientSettings(
            f"{field} must be an http(s) URL or a path on this server",
            details=[{"field": field, "message": "Not an http(s) URL or a /path"}],
        )
    return value


def validate_rate_limit(value: int | None, field: str) -> int | None:
    """A per-client rate-limit override; None means the platform default."""
    if value is not None and not 1 <= value <= MAX_RATE_LIMIT:
        raise InvalidClientSettings(
            f"{field} must be between 1 and {MAX_RATE_LIMIT}, or null for the platform default",
            details=[{"field": field, "message": f"Must be 1 to {MAX_RATE_LIMIT} or null"}],
        )
    return value


async def create_client(
    session: AsyncSession,
    *,
    name: str,
    slug: str | None = None,
    time_zone: str = "UTC",
    requires_voucher: bool = False,
    enabled_features: list[str] | None = None,
    colours: dict[str, str] | None = None,
    logo_url: str | None = None,
    splash_screen_url: str | None = None,
) -> Client:
    name = name.strip()
    if not name:
        raise InvalidClientSettings("A client needs a name")
    slug = slugify(slug or name)
    if await session.scalar(select(Client.id).where(Client.slug == slug)) is not None:
        raise SlugTaken(f"A client with slug {slug!r} already exists")
    client = Client(
        name=name,
        slug=slug,
        status=ClientStatus.ACTIVE.value,
        time_zone=validate_time_zone(time_zone),
        requires_voucher=requires_voucher,
        enabled_features=validate_features(
            list(ALL_FEATURES) if enabled_features is None else enabled_features
        ),
        colors=validate_colours(colours or {}),
        logo_url=logo_url,
        splash_screen_url=splash_screen_url,
        settings={},
    )
    session.add(client)
    await session.flush()
    return client


async def find_client(session: AsyncSession, ref: str | int) -> Client:
    """A client by id or slug."""
    text = str(ref).strip()
    condition = Client.id == int(text) if text.isdigit() else Client.slug == text
    client = await session.scalar(select(Client).where(condition))
    if client is None:
        raise ClientNotFound(f"No client {text!r}")
    return client


async def list_clients(session: AsyncSession) -> list[Client]:
    return list(await session.scalars(select(Client).order_by(Client.id)))


async def issue_api_key(
    session: AsyncSession, client: Client, *, name: str = "default"
) -> tuple[ApiKey, str]:
    """Create a key for ``client``; the raw key is returned once and never stored."""
    raw = security.new_client_key()
    key = ApiKey(
        client_id=client.id,
        name=name,
        prefix=security.shown_prefix(raw),
        key_hash=security.hash_key(raw),
    )
    session.add(key)
    await session.flush()
    return key, raw


async def revoke_api_key(session: AsyncSession, key_id: int) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise ApiKeyNotFound(f"No API key with id {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
    return key


async def set_default_client(session: AsyncSession, client: Client) -> None:
    # Clear first: the partial unique index allows one default at a time.
    await session.execute(
        update(Client)
        .where(Client.is_default.is_(True), Client.id != client.id)
        .values(is_default=False)
    )
    await session.flush()
    client.is_default = True
    await session.flush()


async def default_client(session: AsyncSession) -> Client | None:
    return await session.scalar(
        select(Client).where(Client.is_default.is_(True), Client.status == "active")
    )


async def issue_universal_key(session: AsyncSession) -> str:
    """A new universal key; earlier ones are revoked so exactly one is live."""
    now = utcnow()
    await session.execute(
        update(PlatformKey)
        .where(PlatformKey.kind == UNIVERSAL_KIND, PlatformKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    raw = security.new_universal_key()
    session.add(
        PlatformKey(
            kind=UNIVERSAL_KIND, prefix=security.shown_prefix(raw), key_hash=security.hash_key(raw)
        )
    )
    await session.flush()
    return raw


async def lookup_key(session: AsyncSession, raw: str) -> ResolvedKey | None:
    """Find a live key by its hash; touches ``last_used_at``. None if unknown or revoked."""
    digest = security.hash_key(raw)
    if security.is_universal_key(raw):
        platform_key = await session.scalar(
            select(PlatformKey).where(
                PlatformKey.key_hash == digest,
                PlatformKey.kind == UNIVERSAL_KIND,
                PlatformKey.revoked_at.is_(None),
            )
        )
        if platform_key is None:
            return None
        return ResolvedKey(key_id=platform_key.id, client=None, universal=True)
    row = (
        await session.execute(
            select(ApiKey, Client)
            .join(Client, Client.id == ApiKey.client_id)
            .where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
        )
    ).one_or_none()
    if row is None:
        return None
    key, client = row
    key.last_used_at = utcnow()
    await session.flush()
    return ResolvedKey(key_id=key.id, client=client_context(client), universal=False)


async def count_live_keys(session: AsyncSession, client: Client) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(ApiKey)
            .where(ApiKey.client_id == client.id, ApiKey.revoked_at.is_(None))
        )
        or 0
    )


def branding_of(client: Client) -> dict[str, Any]:
    return {"colors": dict(client.colors or {})}


def client_brief(client: Client) -> dict[str, Any]:
    """``{id, name, branding}``: how sign-in answers name the app."""
    return {"id": client.id, "name": client.name, "branding": branding_of(client)}


def public_client(client: Client) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "slug": client.slug,
        "logo": client.logo_url,
        "splash_screen": client.splash_screen_url,
        "branding": branding_of(client),
        "enabled_features": list(client.enabled_features or []),
        "requires_voucher": client.requires_voucher,
        "time_zone": client.time_zone,
    }


async def app_config(session: AsyncSession, client_id: int | None) -> dict[str, Any]:
    """What an app needs at start-up: its client (from the key, else the default client)."""
    default = await default_client(session)
    client = await find_client(session, client_id) if client_id is not None else default
    return {
        "has_default_client": default is not None,
        "requires_voucher": client.requires_voucher if client else True,
        "client": public_client(client) if client else None,
    }
