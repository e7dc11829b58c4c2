"""Create the demo client once; later runs find it and print the same key.

The database keeps only the key's hash, so the raw demo key is remembered in
``<data dir>/demo-credentials.json`` (mode 0600) for reprinting. It is a local convenience for
a development machine; production clients get keys from ``stvos admin``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.config import Settings
from stvos.kit import security
from stvos.models.client import ApiKey, Client
from stvos.tenancy import service as tenancy

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


def _credentials_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-credentials.json"


def _remembered_key(settings: Settings) -> str | None:
    path = _credentials_file(settings)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    key = data.get("apiKey")
    return key if isinstance(key, str) else None


def _remember_key(settings: Settings, payload: dict[str, Any]) -> None:
    path = _credentials_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=2)


async def ensure_demo(session: AsyncSession, settings: Settings) -> dict[str, Any]:
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

    raw = _remembered_key(settings)
    live = False
    if raw is not None:
        live = (
            await session.scalar(
                select(ApiKey.id).where(
                    ApiKey.client_id == client.id,
                    ApiKey.key_hash == security.hash_key(raw),
                    ApiKey.revoked_at.is_(None),
                )
            )
            is not None
        )
    if raw is None or not live:
        _key, raw = await tenancy.issue_api_key(session, client, name=DEMO_KEY_NAME)
    payload = {"clientId": client.id, "name": client.name, "slug": client.slug, "apiKey": raw}
    _remember_key(settings, payload)
    return payload
