"""The LiveKit adapter: room tokens signed with the SDK, checked with the SDK's TokenVerifier."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from livekit import api

from stvos.config import LiveKitSettings
from stvos.integrations.livekit import MIN_TTL, LiveKitRooms

KEY = "stvos-test-key"
SECRET = "a-livekit-test-secret-of-at-least-32-bytes"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _rooms(**overrides: object) -> LiveKitRooms:
    fields: dict[str, object] = {
        "url": "wss://video.example.com",
        "api_key": KEY,
        "api_secret": SECRET,
        "token_ttl_minutes": 120,
    }
    fields.update(overrides)
    return LiveKitRooms(LiveKitSettings.model_validate(fields))


def _lifetime(token: str) -> timedelta:
    raw = jwt.decode(token, options={"verify_signature": False})
    return timedelta(seconds=raw["exp"] - raw["nbf"])


def test_member_token_joins_publishes_and_is_no_admin() -> None:
    minted = _rooms().room_token(
        room="booking-1-7",
        identity="user-42",
        name="Maya Member",
        metadata={"bookingId": 7, "role": "member"},
        now=NOW,
    )
    claims = api.TokenVerifier(KEY, SECRET).verify(minted.token)
    assert claims.identity == "user-42"
    assert claims.name == "Maya Member"
    assert json.loads(claims.metadata) == {"bookingId": 7, "role": "member"}
    video = claims.video
    assert video.room == "booking-1-7"
    assert video.room_join is True
    assert video.can_publish is True
    assert video.can_subscribe is True
    assert video.can_publish_data is True
    assert not video.room_admin
    assert not video.room_create
    assert not video.room_list
    assert not video.room_record
    assert minted.url == "wss://video.example.com"
    assert (minted.room, minted.identity) == ("booking-1-7", "user-42")
    assert minted.expires_at == NOW + timedelta(minutes=120)
    assert _lifetime(minted.token) == timedelta(minutes=120)


def test_admin_token_administers_the_room() -> None:
    minted = _rooms().room_token(room="r", identity="trainer-3", admin=True, now=NOW)
    video = api.TokenVerifier(KEY, SECRET).verify(minted.token).video
    assert video.room_admin is True
    assert video.room_join is True
    assert video.room == "r"
    assert video.can_publish is True


def test_lifetime_is_capped_by_not_after() -> None:
    rooms = _rooms(token_ttl_minutes=120)
    minted = rooms.room_token(
        room="r", identity="user-1", now=NOW, not_after=NOW + timedelta(minutes=50, seconds=30.7)
    )
    # Whole seconds, so expiresAt is exactly the token's exp.
    assert minted.expires_at == NOW + timedelta(minutes=50, seconds=30)
    assert _lifetime(minted.token) == timedelta(minutes=50, seconds=30)
    # A cap beyond the configured lifetime changes nothing.
    longer = rooms.room_token(
        room="r", identity="user-1", now=NOW, not_after=NOW + timedelta(days=1)
    )
    assert longer.expires_at == NOW + timedelta(minutes=120)
    # Never shorter than a minute: a token that expires as it is handed out is useless.
    tiny = rooms.room_token(room="r", identity="u", now=NOW, not_after=NOW + timedelta(seconds=5))
    assert tiny.expires_at == NOW + MIN_TTL


def test_wrong_secret_or_key_does_not_verify() -> None:
    minted = _rooms().room_token(room="r", identity="user-1", now=NOW)
    with pytest.raises(jwt.InvalidSignatureError):
        api.TokenVerifier(KEY, SECRET + "-other").verify(minted.token)
    with pytest.raises(jwt.InvalidIssuerError):
        api.TokenVerifier("another-key", SECRET).verify(minted.token)


def test_room_and_identity_are_required() -> None:
    with pytest.raises(ValueError, match="room"):
        _rooms().room_token(room="", identity="user-1")
    with pytest.raises(ValueError, match="identity"):
        _rooms().room_token(room="r", identity="")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_embedded_default_signs_for_a_local_dev_server() -> None:
    settings = LiveKitSettings()
    assert settings.is_dev_default
    rooms = LiveKitRooms(settings)
    minted = rooms.room_token(room="dev-room", identity="user-1")
    assert minted.url == "ws://localhost:7880"
    claims = api.TokenVerifier("devkey", "secret").verify(minted.token)
    assert claims.identity == "user-1"
    assert claims.video.room == "dev-room"
    assert claims.video.room_join is True
