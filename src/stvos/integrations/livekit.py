"""The LiveKit adapter: room tokens for video sessions (1-on-1 bookings today, live classes next).

Only token minting lives here; it is pure CPU (the official ``livekit-api`` SDK signs an HS256
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

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from livekit import api

from stvos.config import LiveKitSettings
from stvos.kit.clock import utcnow

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
        metadata: dict[str, object] | None = None,
        not_after: datetime | None = None,
        now: datetime | None = None,
    ) -> RoomToken:
        """A token that joins ``room`` as ``identity``; ``admin`` adds ``room_admin``.

        Everyone in a 1-on-1 session publishes (camera, microphone) and subscribes; only an
        admin (the trainer) may also remove or mute participants and end the room.
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
            can_publish=True,
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
