"""`stvos demo` fills the demo studio with a realistic on-demand library, once."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from stvos.config import Settings
from stvos.demo import ensure_demo
from stvos.kit.clock import utcnow
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Category, OnDemandClass, PlatformCategory, Trainer


async def _snapshot(db: Database, client_id: int) -> dict[str, object]:
    async with db.transaction(TenantScope.for_client(client_id), write=False) as session:
        classes = list(await session.scalars(select(OnDemandClass).order_by(OnDemandClass.id)))
        return {
            "categories": sorted(await session.scalars(select(Category.slug))),
            "trainers": sorted(await session.scalars(select(Trainer.name))),
            "classes": [
                (c.id, c.name, c.published_at, c.duration_minutes, c.search_people) for c in classes
            ],
        }


async def test_the_demo_library_is_rich_and_made_once(
    app: FastAPI, http: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    first = await ensure_demo(db, settings)
    client_id = first["clientId"]
    before = await _snapshot(db, client_id)
    second = await ensure_demo(db, settings)

    assert first["library"] == second["library"]
    assert first["library"]["categories"] >= 8
    assert first["library"]["trainers"] >= 6
    assert first["library"]["classes"] >= 60
    assert await _snapshot(db, client_id) == before  # the second run created nothing

    now = utcnow()
    async with db.transaction(TenantScope.for_client(client_id), write=False) as session:
        classes = list(await session.scalars(select(OnDemandClass)))
        trainers = {t.id: t for t in await session.scalars(select(Trainer))}
        categories = {c.id: c for c in await session.scalars(select(Category))}
    assert len(classes) >= 60
    assert all(c.status == "published" and c.published_at is not None for c in classes)
    assert all(now - timedelta(days=62) <= c.published_at <= now for c in classes)  # type: ignore[operator]
    assert any(c.published_at >= now - timedelta(days=7) for c in classes)  # type: ignore[operator]
    assert len({c.duration_minutes for c in classes}) >= 5
    assert all(10 <= c.duration_minutes <= 60 for c in classes)
    assert {c.intensity for c in classes} == {"low", "medium", "high"}
    assert len({e for c in classes for e in c.equipment}) >= 6
    assert len({t for c in classes for t in c.tags}) >= 10
    assert any(c.is_premium for c in classes)
    assert not all(c.is_premium for c in classes)
    assert len({c.name for c in classes}) == len(classes)
    assert all(c.description and c.thumbnail_url and c.video_url for c in classes)
    featured = sorted((c for c in classes if c.is_featured), key=lambda c: c.featured_order)
    assert len(featured) >= 3
    assert [c.featured_order for c in featured] == list(range(1, len(featured) + 1))
    for c in classes:
        assert c.trainer_id is not None
        assert c.category_id is not None
        expected = f"{trainers[c.trainer_id].name} {categories[c.category_id].name}"
        assert c.search_people == expected
    assert len({c.trainer_id for c in classes}) >= 6
    assert len({c.category_id for c in classes}) >= 8
    assert all(t.bio and t.image_url for t in trainers.values())
    assert "Coach Maya" in {t.name for t in trainers.values()}
    maya = next(t for t in trainers.values() if t.name == "Coach Maya")
    assert maya.user_id is not None  # the trainer login's own profile, counted among the six

    enabled = [c for c in categories.values() if c.platform_category_id is not None]
    assert len(enabled) >= 4
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        platform_count = await session.scalar(select(func.count(PlatformCategory.id)))
        platform_slugs = set(await session.scalars(select(PlatformCategory.slug)))
    assert platform_count is not None
    assert platform_count >= 8
    assert {c.slug for c in enabled} <= platform_slugs

    # The studio's staff see the library through the back office.
    admin = first["logins"]["admin"]
    app.state.authenticator.invalidate()
    headers = {"X-API-Key": first["apiKey"]}
    login = await http.post(
        "/auth/login",
        json={"email": admin["email"], "password": admin["password"]},
        headers=headers,
    )
    assert login.status_code == 200, login.text
    headers["Authorization"] = f"Bearer {login.json()['data']['accessToken']}"
    listed = await http.get("/manage/classes", params={"limit": 100}, headers=headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"]["pagination"]["total"] == len(classes)
    shown = await http.get("/manage/classes", params={"featured": "true"}, headers=headers)
    assert [c["id"] for c in shown.json()["data"]["items"]] == [c.id for c in featured]
