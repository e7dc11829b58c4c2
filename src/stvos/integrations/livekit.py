"""The LiveKit adapter: room tokens for video sessions (1-on-1 bookings, live classes) and the
RoomService client that creates and deletes live classes' rooms and manages their participants.

Token minting is pure CPU (the official ``livekit-api`` SDK signs an HS256
JWT with the API secret), so nothing is called over the network and nothing needs a running
event loop. A :class:`LiveKitRooms` is cheap: build one from ``settings.livekit`` when needed.

Lifetimes: a token lives ``token_ttl_minutes``, but never past ``not_after`` (the caller passes
the end of the session plus a margin), so a token handed out for one booking cannot be used to
walk into its room hours later. A token only has to be valid when the app *connects*: LiveKit
keeps a connected participant in the room (and refreshes its token itself) after ``exp``.

The SDK stamps ``nbf``/``exp`` from the machine's wall clock, not from :mod:`stvos.kit.clock`;
the lifetime is computed here from our clock (so tests can freeze it) and handed to the SDK as
a duration, which is the same thing in production where both clocks agree.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aiohttp
from livekit import api

from stvos.config import LiveKitSettings
from stvos.kit.clock import utcnow
from stvos.kit.errors import ProviderUnavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")

# LiveKit refuses tokens that are already expired; a lifetime this short is pointless anyway.
MIN_TTL = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class RoomToken:
    """What an app needs to connect: the signed token, the server URL and the room."""

    token: str
    url: str
    room: str
    identity: str
    expires_at: datetime


class LiveKitRooms:
    """Mints LiveKit room tokens with the configured key and secret."""

    def __init__(self, settings: LiveKitSettings) -> None:
        self.settings = settings

    @property
    def url(self) -> str:
        return self.settings.url

    def room_token(
        self,
        *,
        room: str,
        identity: str,
        name: str | None = None,
        admin: bool = False,
        can_publish: bool = True,
        metadata: dict[str, object] | None = None,
        not_after: datetime | None = None,
        now: datetime | None = None,
    ) -> RoomToken:
        """A token that joins ``room`` as ``identity``; ``admin`` adds ``room_admin``.

        Everyone subscribes and may send data messages. In a 1-on-1 session everyone publishes
        (camera, microphone); a live class's members publish only where the client allows it
        (``can_publish``). Only an admin (the trainer) may also remove or mute participants.
        """
        if not room or not identity:
            raise ValueError("a room token needs a room and an identity")
        now = now or utcnow()
        expires_at = now + timedelta(minutes=self.settings.token_ttl_minutes)
        if not_after is not None:
            expires_at = min(expires_at, not_after)
        # Whole seconds: the JWT's exp is in seconds, and expiresAt must match it.
        ttl = timedelta(seconds=max(math.floor((expires_at - now).total_seconds()), 0))
        ttl = max(ttl, MIN_TTL)
        grants = api.VideoGrants(
            room_join=True,
            room=room,
            room_admin=admin,
            can_publish=can_publish,
            can_subscribe=True,
            can_publish_data=True,
        )
        token = (
            api.AccessToken(self.settings.api_key, self.settings.api_secret.get_secret_value())
            .with_identity(identity)
            .with_grants(grants)
            .with_ttl(ttl)
        )
        if name:
            token = token.with_name(name)
        if metadata:
            token = token.with_metadata(json.dumps(metadata, separators=(",", ":")))
        return RoomToken(
            token=token.to_jwt(),
            url=self.settings.url,
            room=room,
            identity=identity,
            expires_at=now + ttl,
        )


# --- RoomService: rooms and participants over LiveKit's Twirp API ------------------------------

#: The settings an operator sets to let stvos manage rooms (the dev default only signs tokens).
SETTING_NAMES = "STVOS_LIVEKIT_URL, STVOS_LIVEKIT_API_KEY and STVOS_LIVEKIT_API_SECRET"


class LiveKitNotFound(LookupError):
    """LiveKit answered ``not_found`` (no such room, participant or track)."""


class LiveKitUnavailable(ProviderUnavailable):
    """LiveKit could not be reached or refused the call (503 ``PROVIDER_UNAVAILABLE``)."""

    default_message = "The video service (LiveKit) is unavailable; try again shortly"


class LiveKitNotConfigured(ProviderUnavailable):
    default_message = (
        "Room management needs a LiveKit server: set " + SETTING_NAMES + " (only the embedded "
        "development default is configured, which signs tokens but manages no rooms)"
    )


@dataclass(frozen=True, slots=True)
class RoomInfo:
    sid: str
    name: str
    max_participants: int
    empty_timeout: int


@dataclass(frozen=True, slots=True)
class TrackInfo:
    sid: str
    kind: str  # audio | video | data
    source: str  # camera | microphone | screen_share | ...
    name: str
    muted: bool


@dataclass(frozen=True, slots=True)
class ParticipantState:
    sid: str
    identity: str
    name: str
    state: str  # joining | joined | active | disconnected
    joined_at: datetime | None
    is_publisher: bool
    tracks: tuple[TrackInfo, ...]


def _enum_name(enum_type: Any, value: int) -> str:
    try:
        return str(enum_type.Name(value)).lower()
    except ValueError:
        return "unknown"


def _track(track: Any) -> TrackInfo:
    return TrackInfo(
        sid=track.sid,
        kind=_enum_name(api.TrackType, track.type),
        source=_enum_name(api.TrackSource, track.source),
        name=track.name,
        muted=bool(track.muted),
    )


def _participant(info: Any) -> ParticipantState:
    joined = int(info.joined_at)
    return ParticipantState(
        sid=info.sid,
        identity=info.identity,
        name=info.name,
        state=_enum_name(api.ParticipantInfo.State, info.state),
        joined_at=datetime.fromtimestamp(joined, UTC) if joined else None,
        is_publisher=bool(info.is_publisher),
        tracks=tuple(_track(t) for t in info.tracks),
    )


class LiveKitRoomService:
    """LiveKit's RoomService through the official SDK (:class:`livekit.api.LiveKitAPI`).

    The SDK client opens an aiohttp session when built, which needs a running event loop, so it
    is built lazily on first use (and again if a call arrives on another loop); the app closes
    it on shutdown with :meth:`aclose`. With the embedded development default
    (:attr:`managed` false) no call is made: rooms are created by the dev server when the first
    participant joins, and participant management answers :class:`LiveKitNotConfigured`.

    Every failure is translated: ``not_found`` becomes :class:`LiveKitNotFound` for the caller
    to interpret; anything else (unreachable, timeout, refused) :class:`LiveKitUnavailable`.
    """

    def __init__(self, settings: LiveKitSettings, *, timeout_seconds: float = 10.0) -> None:
        self.settings = settings
        self.timeout_seconds = timeout_seconds
        self._client: api.LiveKitAPI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def managed(self) -> bool:
        """Whether rooms are managed over the API (a real server is configured)."""
        return not self.settings.is_dev_default

    def require_managed(self) -> None:
        if not self.managed:
            raise LiveKitNotConfigured()

    async def _api(self) -> api.LiveKitAPI:
        self.require_managed()
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            if self._client is not None and self._loop is not None and not self._loop.is_closed():
                # Built on another loop (tests, a re-created app): it cannot be reused here.
                self._client = None
            self._client = api.LiveKitAPI(
                url=self.settings.url,
                api_key=self.settings.api_key,
                api_secret=self.settings.api_secret.get_secret_value(),
                timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
                failover=False,
            )
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        client, loop = self._client, self._loop
        self._client = self._loop = None
        if client is not None and loop is asyncio.get_running_loop():
            await client.aclose()

    async def _call(self, what: str, call: Callable[[api.LiveKitAPI], Awaitable[T]]) -> T:
        client = await self._api()
        try:
            return await call(client)
        except api.ServerError as exc:
            if exc.code == api.ServerErrorCode.NOT_FOUND:
                raise LiveKitNotFound(exc.message) from exc
            logger.warning("LiveKit %s failed: %s", what, exc)
            raise LiveKitUnavailable(details=f"LiveKit {what}: {exc.code}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("LiveKit %s failed: %r", what, exc)
            raise LiveKitUnavailable(details=f"LiveKit {what}: unreachable") from exc

    async def create_room(
        self,
        name: str,
        *,
        empty_timeout: int,
        max_participants: int,
        departure_timeout: int = 0,
        metadata: dict[str, object] | None = None,
    ) -> RoomInfo:
        """Create ``name`` (LiveKit answers the existing room when it already exists)."""
        request = api.CreateRoomRequest(
            name=name,
            empty_timeout=empty_timeout,
            departure_timeout=departure_timeout,
            max_participants=max_participants,
            metadata=json.dumps(metadata, separators=(",", ":")) if metadata else "",
        )
        room = await self._call("CreateRoom", lambda c: c.room.create_room(request))
        return RoomInfo(
            sid=room.sid,
            name=room.name,
            max_participants=room.max_participants,
            empty_timeout=room.empty_timeout,
        )

    async def delete_room(self, name: str) -> bool:
        """Delete ``name``; false when LiveKit had no such room (already gone)."""
        try:
            await self._call(
                "DeleteRoom", lambda c: c.room.delete_room(api.DeleteRoomRequest(room=name))
            )
        except LiveKitNotFound:
            return False
        return True

    async def list_participants(self, room: str) -> list[ParticipantState]:
        answer = await self._call(
            "ListParticipants",
            lambda c: c.room.list_participants(api.ListParticipantsRequest(room=room)),
        )
        return [_participant(p) for p in answer.participants]

    async def remove_participant(self, room: str, identity: str) -> None:
        await self._call(
            "RemoveParticipant",
            lambda c: c.room.remove_participant(
                api.RoomParticipantIdentity(room=room, identity=identity)
            ),
        )

    async def mute_track(self, room: str, identity: str, track_sid: str, muted: bool) -> TrackInfo:
        request = api.MuteRoomTrackRequest(
            room=room, identity=identity, track_sid=track_sid, muted=muted
        )
        answer = await self._call(
            "MutePublishedTrack", lambda c: c.room.mute_published_track(request)
        )
        return _track(answer.track)
