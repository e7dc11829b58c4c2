"""Builders for content tests: library rows written straight through the models, in the
client's own scope (no dependency on the back-office endpoints)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stvos.kit.db import Database
from stvos.kit.orm import Base
from stvos.kit.tenancy import TenantScope
from stvos.models import Category, OnDemandClass, Trainer
from tests.support.factories import TestClient


async def save(db: Database, client: TestClient, *rows: Base) -> list[int]:
    """Insert ``rows`` for ``client`` in one transaction; their ids, in order."""
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]  # type: ignore[attr-defined]


async def add_trainer(db: Database, client: TestClient, name: str, **fields: Any) -> int:
    (trainer_id,) = await save(db, client, Trainer(name=name, **fields))
    return trainer_id


async def add_category(db: Database, client: TestClient, name: str, **fields: Any) -> int:
    fields.setdefault("slug", name.lower().replace(" ", "-"))
    (category_id,) = await save(db, client, Category(name=name, **fields))
    return category_id


def a_class(name: str, published_at: datetime | None, **fields: Any) -> OnDemandClass:
    """An unsaved class, published at ``published_at`` unless ``status`` says otherwise."""
    values: dict[str, Any] = {
        "description": f"{name}, the class",
        "thumbnail_url": f"https://img.example.com/{name.lower().replace(' ', '-')}.jpg",
        "video_url": "https://cdn.example.com/videos/abc/master.m3u8",
        "video_provider": "hls",
        "duration_minutes": 30,
        "intensity": "medium",
        "is_premium": False,
        "equipment": [],
        "tags": [],
        "status": "published",
        "published_at": published_at,
    }
    values.update(fields)
    return OnDemandClass(name=name, **values)


async def add_class(
    db: Database, client: TestClient, name: str, published_at: datetime | None, **fields: Any
) -> int:
    (class_id,) = await save(db, client, a_class(name, published_at, **fields))
    return class_id
