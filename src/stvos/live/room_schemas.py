"""Wire models of live classes' rooms: starting and ending a class, joining its LiveKit room,
managing its participants, and LiveKit's webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from stvos.kit.schemas import ApiModel, RequestModel

ParticipantRole = Literal["trainer", "member", "other"]


class RoomOut(ApiModel):
    """A live class's room after starting or ending it."""

    live_class_id: int = Field(description="The live class")
    status: str = Field(description="scheduled | live | ended | cancelled")
    room: str = Field(description="The LiveKit room name apps join")
    room_sid: str | None = Field(description="LiveKit's id of the room, when stvos created it")
    managed: bool = Field(
        description=(
            "Whether stvos created or deleted the room through LiveKit's RoomService. False with "
            "the embedded development LiveKit settings: the dev server creates the room when "
            "the first participant joins and closes it when the last one leaves"
        )
    )
    max_participants: int = Field(description="The room's participant limit (capacity + staff)")
    started_at: datetime | None
    ended_at: datetime | None


class JoinOut(ApiModel):
    """What an app needs to connect to the class's room with the LiveKit client SDK."""

    token: str = Field(description="A LiveKit access token (JWT) for this room only")
    url: str = Field(description="The LiveKit server to connect to")
    room: str
    identity: str = Field(description="`user-<id>` for members, `trainer-<id>` for the trainer")
    role: Literal["member", "trainer"]
    can_publish: bool = Field(description="Whether the token may publish camera and microphone")
    expires_at: datetime = Field(description="The token must be used to connect before this")
    live_class_id: int
    status: str


class TrackOut(ApiModel):
    sid: str
    kind: str = Field(description="audio | video | data")
    source: str = Field(description="camera | microphone | screen_share | ...")
    name: str
    muted: bool


class ParticipantOut(ApiModel):
    sid: str
    identity: str
    name: str
    role: ParticipantRole = Field(description="From the identity: trainer-<id>, user-<id>")
    user_id: int | None = Field(description="The member's user id for `user-<id>` identities")
    state: str = Field(description="joining | joined | active | disconnected")
    joined_at: datetime | None
    is_publisher: bool
    tracks: list[TrackOut]


class RemovedOut(ApiModel):
    identity: str
    removed: bool


class MuteIn(RequestModel):
    track_sid: str = Field(min_length=1, max_length=120, description="The published track's sid")
    muted: bool = Field(default=True, description="true mutes the track; false unmutes it")


class MuteOut(ApiModel):
    identity: str
    track: TrackOut


class WebhookOut(ApiModel):
    received: bool = True
    event: str
    handled: bool = Field(description="false: not for a live class here, or already applied")
