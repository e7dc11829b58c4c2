"""Create the demo client once; later runs find it and print the same key and logins.

The demo client is a branded studio with a login for every role (studio admin, member,
trainer, partner staff), so a newcomer can try each side of the API at once; its trainers
have bookable services and weekly hours (coach connect).

The database keeps only hashes, so the raw demo key and passwords are remembered in
``<data dir>/demo-credentials.json`` (mode 0600) for reprinting. That is a convenience of a
development machine; production clients get keys from ``stvos admin`` and users set their own
passwords. When the file is lost, the next run issues a new key and new demo passwords.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts import passwords
from stvos.accounts.service import create_user, normalize_email
from stvos.config import Settings
from stvos.demo.coaching import ensure_demo_coaching
from stvos.demo.content import ensure_demo_library, ensure_platform_categories
from stvos.demo.live import ensure_demo_live_classes
from stvos.demo.partner import ensure_demo_partner
from stvos.kit import security
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import ApiKey, Client, Partner, PartnerStaff, Role, Trainer, User
from stvos.partners import service as partners
from stvos.partners.schemas import PartnerIn, PartnerStaffIn
from stvos.tenancy import service as tenancy
from stvos.tenancy.service import client_context

DEMO_SLUG = "demo"
DEMO_NAME = "Pulse Demo Studio"
DEMO_BRANDING = {
    "primary": "#FF5A1F",
    "secondary": "#1F7AFF",
    "background": "#0B0B0F",
    "surface": "#16161D",
    "text": "#FFFFFF",
}
DEMO_KEY_NAME = "demo"
DEMO_PARTNER = "Harbour Gym"


@dataclass(frozen=True)
class DemoLogin:
    role: Role | None  # None: partner staff
    email: str
    name: str


LOGINS = {
    "admin": DemoLogin(Role.CLIENT_ADMIN, "admin@demo.stvos.dev", "Alex Admin"),
    "user": DemoLogin(Role.USER, "member@demo.stvos.dev", "Morgan Member"),
    "trainer": DemoLogin(Role.TRAINER, "coach@demo.stvos.dev", "Coach Maya"),
    "partner": DemoLogin(None, "partner@demo.stvos.dev", "Pat Partner"),
}


def _credentials_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-credentials.json"


def _remembered(settings: Settings) -> dict[str, Any]:
    try:
        data = json.loads(_credentials_file(settings).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember(settings: Settings, payload: dict[str, Any]) -> None:
    path = _credentials_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=2)


async def _client_and_key(session: AsyncSession, remembered_key: str | None) -> tuple[Client, str]:
    client = await session.scalar(select(Client).where(Client.slug == DEMO_SLUG))
    if client is None:
        client = await tenancy.create_client(
            session,
            name=DEMO_NAME,
            slug=DEMO_SLUG,
            time_zone="Europe/London",
            colours=DEMO_BRANDING,
            logo_url="https://assets.stvos.dev/demo/logo.png",
            splash_screen_url="https://assets.stvos.dev/demo/splash.png",
        )
    if await tenancy.default_client(session) is None:
        await tenancy.set_default_client(session, client)
    if remembered_key is not None:
        live = await session.scalar(
            select(ApiKey.id).where(
                ApiKey.client_id == client.id,
                ApiKey.key_hash == security.hash_key(remembered_key),
                ApiKey.revoked_at.is_(None),
            )
        )
        if live is not None:
            return client, remembered_key
    _key, raw = await tenancy.issue_api_key(session, client, name=DEMO_KEY_NAME)
    return client, raw


async def _password_for(account: User | PartnerStaff, remembered: str | None) -> str:
    """The remembered password if it still opens the account; else a fresh one, set now."""
    if remembered and await passwords.verify_password(account.password_hash, remembered):
        return remembered
    fresh = secrets.token_urlsafe(12)
    account.password_hash = await passwords.hash_password(fresh)
    return fresh


async def _user_login(
    session: AsyncSession, login: DemoLogin, remembered: str | None
) -> tuple[User, str]:
    assert login.role is not None
    user = await session.scalar(
        select(User).where(User.email_normalized == normalize_email(login.email))
    )
    if user is None:
        password = remembered or secrets.token_urlsafe(12)
        user = await create_user(
            session, email=login.email, password=password, name=login.name, role=login.role
        )
        return user, password
    user.status = "active"
    return user, await _password_for(user, remembered)


async def _trainer_profile(session: AsyncSession, user: User) -> None:
    linked = await session.scalar(select(Trainer).where(Trainer.user_id == user.id))
    if linked is None:
        session.add(
            Trainer(
                name=user.name or "Coach",
                bio="Strength and mobility coach; runs the demo studio's live classes.",
                user_id=user.id,
                is_active=True,
            )
        )
        await session.flush()


async def _partner_login(session: AsyncSession, login: DemoLogin, remembered: str | None) -> str:
    staff = await session.scalar(
        select(PartnerStaff).where(PartnerStaff.email_normalized == normalize_email(login.email))
    )
    if staff is not None:
        return await _password_for(staff, remembered)
    partner = await session.scalar(select(Partner).where(Partner.name == DEMO_PARTNER))
    if partner is None:
        partner = await partners.create_partner(session, PartnerIn(name=DEMO_PARTNER, type="gym"))
    password = remembered or secrets.token_urlsafe(12)
    await partners.create_staff(
        session,
        partner.id,
        PartnerStaffIn(email=login.email, password=password, name=login.name),
    )
    return password


async def ensure_demo(database: Database, settings: Settings) -> dict[str, Any]:
    remembered = _remembered(settings)
    remembered_logins: dict[str, Any] = remembered.get("logins") or {}

    def remembered_password(name: str) -> str | None:
        entry = remembered_logins.get(name)
        password = entry.get("password") if isinstance(entry, dict) else None
        return password if isinstance(password, str) else None

    async with database.transaction(TenantScope.for_platform()) as session:
        client, api_key = await _client_and_key(session, remembered.get("apiKey"))
        await ensure_platform_categories(session)
        client_id, client_name = client.id, client.name
        context = client_context(client)

    logins: dict[str, dict[str, str]] = {}
    async with database.transaction(TenantScope.for_client(client_id)) as session:
        for name, login in LOGINS.items():
            if login.role is None:
                password = await _partner_login(session, login, remembered_password(name))
            else:
                user, password = await _user_login(session, login, remembered_password(name))
                if login.role is Role.TRAINER:
                    await _trainer_profile(session, user)
            logins[name] = {"email": login.email, "password": password}
        library = await ensure_demo_library(session)
        # After the library, which makes the trainers: their services and weekly hours.
        coaching = await ensure_demo_coaching(session)
        # After the library: the partner's members watch its classes.
        partner = await ensure_demo_partner(session, context, DEMO_PARTNER)
        # After coach connect, which gives the trainers their time zones.
        live_classes = await ensure_demo_live_classes(session, context)

    payload = {
        "clientId": client_id,
        "name": client_name,
        "slug": DEMO_SLUG,
        "apiKey": api_key,
        "logins": logins,
        "library": library,
        "coaching": coaching,
        "liveClasses": live_classes,
        "partner": {"name": DEMO_PARTNER, **partner},
    }
    _remember(settings, payload)
    return payload
