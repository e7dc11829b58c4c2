"""Signed playback URLs: premium access, expiry, signature checks and tampering."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from stvos.app import create_app
from stvos.config import Settings, SettingsError
from stvos.content.video import sign_url, signing_key, verify_signed_url
from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import User
from tests.content import add_class
from tests.support.factories import TestClient, TestUser, make_client, make_user

KEY = b"k" * 32
VIDEO = "https://cdn.example.com/videos/abc/master.m3u8?quality=hd&lang=en"


@pytest.fixture
async def viewer(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> TestUser:
    """Signed in on the frozen clock (a token from the real clock is not valid yet there)."""
    return await make_user(http, db, client_a, "viewer@example.com")


async def _grant_premium(db: Database, user: TestUser, until: datetime | None) -> None:
    async with db.transaction(TenantScope.for_client(user.client.id)) as session:
        account = await session.get(User, user.id)
        assert account is not None
        account.premium_until = until


def _key(app: FastAPI) -> bytes:
    return signing_key(app.state.settings, app.state.accounts.signer)


async def test_access_answers_a_signed_short_lived_url(
    http: httpx.AsyncClient,
    app: FastAPI,
    db: Database,
    client_a: TestClient,
    viewer: TestUser,
    clock: FrozenClock,
) -> None:
    now = clock.now()
    class_id = await add_class(
        db, client_a, "Flow", now - timedelta(days=1), video_url=VIDEO, video_provider="hls"
    )
    response = await http.get(f"/video/access/{class_id}", headers=viewer.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == {"classId", "url", "provider", "expiresAt"}
    assert data["classId"] == class_id
    assert data["provider"] == "hls"
    assert data["expiresAt"] == "2026-01-01T00:05:00Z"  # the default TTL is 300 s
    url = data["url"]
    parts = urlsplit(url)
    assert url.startswith("https://cdn.example.com/videos/abc/master.m3u8?quality=hd&lang=en&")
    params = parse_qs(parts.query)
    assert params["expires"] == [str(int((now + timedelta(seconds=300)).timestamp()))]
    assert len(params["signature"][0]) == 64
    assert parts.query.endswith(f"&signature={params['signature'][0]}")

    key = _key(app)
    assert verify_signed_url(url, key, now)
    assert verify_signed_url(url, key, now + timedelta(seconds=299))
    # Expired at expiresAt, on the request's injected clock too.
    assert not verify_signed_url(url, key, now + timedelta(seconds=300))
    clock.advance(timedelta(minutes=10))
    assert not verify_signed_url(url, key, clock.now())
    # A fresh request after that gets a fresh URL.
    again = (await http.get(f"/video/access/{class_id}", headers=viewer.headers)).json()["data"]
    assert verify_signed_url(again["url"], key, clock.now())
    assert again["expiresAt"] == "2026-01-01T00:15:00Z"


async def test_tampered_urls_fail_verification(clock: FrozenClock) -> None:
    now = clock.now()
    url = sign_url(VIDEO, KEY, now + timedelta(minutes=5))
    assert verify_signed_url(url, KEY, now)
    later = str(int((now + timedelta(days=1)).timestamp()))
    expires = str(int((now + timedelta(minutes=5)).timestamp()))
    tampered = [
        url.replace("/abc/", "/xyz/"),  # another video
        url.replace("quality=hd", "quality=4k"),  # another original parameter
        url.replace(f"expires={expires}", f"expires={later}"),  # a longer life
        url[:-1] + ("0" if url[-1] != "0" else "1"),  # another signature
        url.rsplit("&signature=", 1)[0],  # no signature
        url.replace(f"expires={expires}&", ""),  # no expiry
        url + "&extra=1",  # a parameter after the signature
    ]
    for candidate in tampered:
        assert not verify_signed_url(candidate, KEY, now), candidate
    assert not verify_signed_url(url, b"another key of thirty-two bytes!", now)
    # The host is not covered: any edge of the CDN may serve it.
    assert verify_signed_url(url.replace("cdn.example.com", "edge2.example.com"), KEY, now)


def test_signing_keeps_the_urls_own_parameters_and_replaces_stale_signatures() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    plain = sign_url("https://v.example.com/a.mp4", KEY, at)
    assert plain.startswith("https://v.example.com/a.mp4?expires=1767225600&signature=")
    resigned = sign_url(plain, KEY, at + timedelta(seconds=60))
    assert resigned.count("expires=") == 1
    assert resigned.count("signature=") == 1
    assert verify_signed_url(resigned, KEY, at)


async def test_premium_classes_need_premium_access(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    viewer: TestUser,
    clock: FrozenClock,
) -> None:
    now = clock.now()
    class_id = await add_class(db, client_a, "Premium", now - timedelta(days=1), is_premium=True)
    path = f"/video/access/{class_id}"

    response = await http.get(path, headers=viewer.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "PREMIUM_REQUIRED"

    await _grant_premium(db, viewer, now - timedelta(seconds=1))  # lapsed
    response = await http.get(path, headers=viewer.headers)
    assert response.json()["code"] == "PREMIUM_REQUIRED"

    await _grant_premium(db, viewer, now + timedelta(minutes=5))
    response = await http.get(path, headers=viewer.headers)
    assert response.status_code == 200, response.text

    clock.advance(timedelta(minutes=6))  # the premium access ran out (the token still works)
    response = await http.get(path, headers=viewer.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "PREMIUM_REQUIRED"


async def test_unpublished_or_unknown_classes_are_404(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    viewer: TestUser,
    clock: FrozenClock,
) -> None:
    now = clock.now()
    draft = await add_class(db, client_a, "Draft", None, status="draft")
    scheduled = await add_class(db, client_a, "Later", now + timedelta(hours=1), is_premium=True)
    for class_id in (draft, scheduled, 999_999):
        response = await http.get(f"/video/access/{class_id}", headers=viewer.headers)
        assert response.status_code == 404, class_id
        assert response.json()["code"] == "NOT_FOUND"


async def test_access_needs_a_signed_in_user(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    class_id = await add_class(db, client_a, "Flow", clock.now() - timedelta(days=1))
    response = await http.get(f"/video/access/{class_id}", headers=client_a.headers)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"


@pytest.fixture
async def keyed_app(make_settings: Callable[..., Settings]) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(content={"video_signing_key": "v" * 40}))
    async with LifespanManager(application):
        yield application


async def test_a_configured_signing_key_is_used(
    keyed_app: FastAPI, app: FastAPI, clock: FrozenClock
) -> None:
    db: Database = keyed_app.state.db
    transport = httpx.ASGITransport(app=keyed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as http:
        client = await make_client(db, "Keyed Studio")
        user = await make_user(http, db, client, "viewer@example.com")
        class_id = await add_class(db, client, "Flow", clock.now() - timedelta(days=1))
        response = await http.get(f"/video/access/{class_id}", headers=user.headers)
    url = response.json()["data"]["url"]
    assert verify_signed_url(url, b"v" * 40, clock.now())
    # The derived key (no key configured) is a different one.
    assert _key(app) != b"v" * 40
    assert not verify_signed_url(url, _key(app), clock.now())


def test_a_short_signing_key_is_refused(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(SettingsError, match="CONTENT_VIDEO_SIGNING_KEY"):
        make_settings(content={"video_signing_key": "short"})


async def test_staff_grant_premium_and_the_member_can_play(
    http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> None:
    staff = await make_user(http, db, client_a, "boss@example.com", role="client_admin")
    member = await make_user(http, db, client_a, "fan@example.com")
    premium = await add_class(
        db, client_a, "Members Only", datetime.now(UTC) - timedelta(days=1), is_premium=True
    )
    refused = await http.get(f"/video/access/{premium}", headers=member.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "PREMIUM_REQUIRED"

    naive = await http.put(
        f"/manage/users/{member.id}/premium",
        json={"premiumUntil": "2099-01-01T00:00:00"},
        headers=staff.headers,
    )
    assert naive.status_code == 400
    granted = await http.put(
        f"/manage/users/{member.id}/premium",
        json={"premiumUntil": "2099-01-01T00:00:00Z"},
        headers=staff.headers,
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["data"]["user"]["premiumUntil"].startswith("2099-01-01")
    me = (await http.get("/users/me", headers=member.headers)).json()["data"]["user"]
    assert me["premiumUntil"].startswith("2099-01-01")
    assert (await http.get(f"/video/access/{premium}", headers=member.headers)).status_code == 200

    ended = await http.put(
        f"/manage/users/{member.id}/premium", json={"premiumUntil": None}, headers=staff.headers
    )
    assert ended.json()["data"]["user"]["premiumUntil"] is None
    assert (await http.get(f"/video/access/{premium}", headers=member.headers)).status_code == 403
    # Members cannot grant themselves premium.
    selfish = await http.put(
        f"/manage/users/{member.id}/premium",
        json={"premiumUntil": "2099-01-01T00:00:00Z"},
        headers=member.headers,
    )
    assert selfish.status_code == 403
