"""Platform administration: admin sign-in, clients, their API keys and staff accounts.

Everything here runs in the platform scope (nothing is filtered by client), so every query of
a tenant-owned table names its client explicitly, and new tenant rows carry their
``client_id``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts import passwords, throttle
from stvos.accounts import service as accounts_service
from stvos.accounts.context import Accounts
from stvos.accounts.errors import AccountDisabled, InvalidCredentials
from stvos.accounts.tokens import AccessClaims, Audience
from stvos.admin.errors import AdminExists, SuspendedDefault
from stvos.admin.schemas import (
    MAX_COLOUR_ROLES,
    AdminLoginIn,
    ClientCreate,
    ClientUpdate,
    StaffCreate,
)
from stvos.kit.clock import utcnow
from stvos.kit.db import Database
from stvos.kit.errors import NotFound
from stvos.kit.paging import fetch_page
from stvos.kit.schemas import PageParams
from stvos.kit.tenancy import TenantScope
from stvos.models import ApiKey, Client, PlatformAdmin, Role, User
from stvos.models.client import LIVE_MEMBERS_CAN_PUBLISH
from stvos.tenancy import service as tenancy
from stvos.tenancy.errors import ApiKeyNotFound, InvalidClientSettings, SlugTaken

ACTIVE = "active"


# --- platform admins --------------------------------------------------------------------------


def admin_out(admin: PlatformAdmin) -> dict[str, Any]:
    return {"id": admin.id, "email": admin.email, "name": admin.name}


async def create_admin(
    session: AsyncSession, *, email: str, password: str, name: str | None = None
) -> PlatformAdmin:
    normalized = accounts_service.normalize_email(email)
    password_hash = await passwords.hash_password(password)  # before the first query
    taken = await session.scalar(
        select(PlatformAdmin.id).where(PlatformAdmin.email_normalized == normalized)
    )
    if taken is not None:
        raise AdminExists()
    admin = PlatformAdmin(
        email=email.strip(),
        email_normalized=normalized,
        password_hash=password_hash,
        name=name,
        status=ACTIVE,
        token_version=1,
    )
    session.add(admin)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise AdminExists() from None
    return admin


async def login(
    session: AsyncSession, accounts: Accounts, database: Database, body: AdminLoginIn
) -> dict[str, Any]:
    """Sign a platform admin in: a short-lived admin access token, no refresh token."""
    email = accounts_service.normalize_email(str(body.email))
    await throttle.sign_in(accounts.limiter, accounts.settings, realm="admin", account=email)
    # Look up in a short read of its own: the request's write transaction (and SQLite's write
    # lock) is not held while the slow hash is checked.
    async with database.transaction(TenantScope.for_platform(), write=False) as lookup:
        found = (
            await lookup.execute(
                select(PlatformAdmin.id, PlatformAdmin.password_hash, PlatformAdmin.status).where(
                    PlatformAdmin.email_normalized == email
                )
            )
        ).one_or_none()
    # An unknown email costs the same time as a wrong password.
    if not await passwords.verify_password(found.password_hash if found else None, body.password):
        raise InvalidCredentials()
    assert found is not None
    if found.status != ACTIVE:
        raise AccountDisabled()
    rehash = (
        await passwords.hash_password(body.password)
        if passwords.needs_rehash(found.password_hash)
        else None
    )
    admin = await session.get(PlatformAdmin, found.id)
    if admin is None or admin.status != ACTIVE:
        raise InvalidCredentials()  # changed between the two reads
    if rehash is not None:
        admin.password_hash = rehash
    admin.last_login_at = utcnow()
    await session.flush()
    access = accounts.signer.issue(
        AccessClaims(
            audience=Audience.ADMIN, subject_id=admin.id, token_version=admin.token_version
        )
    )
    return {
        "access_token": access.token,
        "expires_in": access.expires_in,
        "admin": admin_out(admin),
    }


async def current_admin(session: AsyncSession, admin_id: int) -> PlatformAdmin:
    admin = await session.get(PlatformAdmin, admin_id)
    if admin is None:
        raise NotFound("No such admin")
    return admin


# --- clients ----------------------------------------------------------------------------------


def client_out(client: Client, live_api_keys: int) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "slug": client.slug,
        "status": client.status,
        "is_default": client.is_default,
        "requires_voucher": client.requires_voucher,
        "time_zone": client.time_zone,
        "logo": client.logo_url,
        "splash_screen": client.splash_screen_url,
        "branding": tenancy.branding_of(client),
        "enabled_features": list(client.enabled_features or []),
        "rate_limit_per_minute": client.rate_limit_per_minute,
        "rate_limit_burst": client.rate_limit_burst,
        "live_members_can_publish": bool(
            (client.settings or {}).get(LIVE_MEMBERS_CAN_PUBLISH, False)
        ),
        "live_api_keys": live_api_keys,
        "created_at": client.created_at,
        "updated_at": client.updated_at,
    }


async def _live_key_counts(session: AsyncSession, client_ids: list[int]) -> dict[int, int]:
    if not client_ids:
        return {}
    rows = await session.execute(
        select(ApiKey.client_id, func.count())
        .where(ApiKey.client_id.in_(client_ids), ApiKey.revoked_at.is_(None))
        .group_by(ApiKey.client_id)
    )
    return {client_id: count for client_id, count in rows.all()}


async def clients_out(session: AsyncSession, clients: list[Client]) -> list[dict[str, Any]]:
    """The answer shape of clients, with their live key counts in one query."""
    counts = await _live_key_counts(session, [c.id for c in clients])
    return [client_out(c, counts.get(c.id, 0)) for c in clients]


async def list_clients(
    session: AsyncSession, paging: PageParams, *, search: str | None, status: str | None
) -> tuple[list[Client], int]:
    query = select(Client)
    term = (search or "").strip().lower()
    if term:
        query = query.where(
            or_(
                func.lower(Client.name).contains(term, autoescape=True),
                Client.slug.contains(term, autoescape=True),
            )
        )
    if status:
        query = query.where(Client.status == status)
    return await fetch_page(session, query, paging, Client.id)


async def get_client(session: AsyncSession, client_id: int) -> Client:
    return await tenancy.find_client(session, client_id)


async def create_client(session: AsyncSession, body: ClientCreate) -> tuple[Client, ApiKey, str]:
    """A client and its first API key (the raw key is returned once)."""
    try:
        async with session.begin_nested():
            client = await tenancy.create_client(
                session,
                name=body.name,
                slug=body.slug,
                time_zone=body.time_zone,
                requires_voucher=body.requires_voucher,
                enabled_features=(
                    None
                    if body.enabled_features is None
                    else [f.value for f in body.enabled_features]
                ),
                colours=body.branding.colors if body.branding else None,
                logo_url=tenancy.validate_asset_url(body.logo, "logo"),
                splash_screen_url=tenancy.validate_asset_url(body.splash_screen, "splashScreen"),
            )
    except IntegrityError:
        raise SlugTaken() from None  # a concurrent request took the slug
    key, raw = await tenancy.issue_api_key(session, client)
    return client, key, raw


def _merged_colours(current: dict[str, str], patch: dict[str, str | None]) -> dict[str, str]:
    merged = dict(current)
    for role, value in patch.items():
        if value is None:
            merged.pop(role, None)
        else:
            merged[role] = value
    if len(merged) > MAX_COLOUR_ROLES:
        raise InvalidClientSettings(
            f"At most {MAX_COLOUR_ROLES} colour roles",
            details=[{"field": "branding.colors", "message": "Too many colour roles"}],
        )
    return tenancy.validate_colours(merged)


async def update_client(session: AsyncSession, client: Client, body: ClientUpdate) -> Client:
    """Apply a partial update; only the fields that were sent change."""
    sent = body.model_fields_set
    if "name" in sent and body.name is not None:
        client.name = body.name
    if "time_zone" in sent and body.time_zone is not None:
        client.time_zone = tenancy.validate_time_zone(body.time_zone)
    if "requires_voucher" in sent and body.requires_voucher is not None:
        client.requires_voucher = body.requires_voucher
    if "enabled_features" in sent and body.enabled_features is not None:
        client.enabled_features = tenancy.validate_features(
            [f.value for f in body.enabled_features]
        )
    if "branding" in sent and body.branding is not None:
        client.colors = _merged_colours(dict(client.colors or {}), body.branding.colors)
    if "logo" in sent:
        client.logo_url = tenancy.validate_asset_url(body.logo, "logo")
    if "splash_screen" in sent:
        client.splash_screen_url = tenancy.validate_asset_url(body.splash_screen, "splashScreen")
    if "rate_limit_per_minute" in sent:
        client.rate_limit_per_minute = tenancy.validate_rate_limit(
            body.rate_limit_per_minute, "rateLimitPerMinute"
        )
    if "rate_limit_burst" in sent:
        client.rate_limit_burst = tenancy.validate_rate_limit(
            body.rate_limit_burst, "rateLimitBurst"
        )
    if "live_members_can_publish" in sent and body.live_members_can_publish is not None:
        # A new dict: the JSON column notices a replaced value, not an in-place change.
        client.settings = {
            **(client.settings or {}),
            LIVE_MEMBERS_CAN_PUBLISH: body.live_members_can_publish,
        }
    if "status" in sent and body.status is not None:
        # Suspending the default client is allowed: it then serves no app until reactivated.
        client.status = body.status
    if "is_default" in sent and body.is_default is not None:
        if body.is_default:
            if not client.is_active:
                raise SuspendedDefault()
            await tenancy.set_default_client(session, client)
        else:
            client.is_default = False
    await session.flush()
    return client


# --- API keys ---------------------------------------------------------------------------------


async def list_api_keys(
    session: AsyncSession, client: Client, paging: PageParams
) -> tuple[list[ApiKey], int]:
    query = select(ApiKey).where(ApiKey.client_id == client.id)
    return await fetch_page(session, query, paging, ApiKey.id)


async def revoke_api_key(session: AsyncSession, client: Client, key_id: int) -> ApiKey:
    """Revoke one of ``client``'s keys; another client's key is not found."""
    key = await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.client_id == client.id)
    )
    if key is None:
        raise ApiKeyNotFound()
    return await tenancy.revoke_api_key(session, key.id)


# --- staff ------------------------------------------------------------------------------------


async def create_staff(session: AsyncSession, client: Client, body: StaffCreate) -> User:
    """An account in ``client`` (studio staff by default), made by a platform admin."""
    return await accounts_service.create_user(
        session,
        email=str(body.email),
        password=body.password,
        name=body.name,
        role=Role(body.role),
        client_id=client.id,
    )


def staff_out(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "client_id": user.client_id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "status": user.status,
        "created_at": user.created_at,
    }
