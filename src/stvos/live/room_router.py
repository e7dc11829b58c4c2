"""Live classes' LiveKit rooms over HTTP: starting and ending a class (its trainer, or studio
staff under /manage), joining its room (registered members; the trainer), managing the
participants in it, and LiveKit's signed webhooks. Thin HTTP over :mod:`stvos.live.rooms`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request

from stvos.config import LiveKitSettings
from stvos.integrations.livekit import LiveKitRoomService
from stvos.kit.clock import utcnow
from stvos.kit.deps import DbSession
from stvos.kit.policy import Auth, Feature, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok
from stvos.live import rooms
from stvos.live.room_schemas import (
    JoinOut,
    MuteIn,
    MuteOut,
    ParticipantOut,
    RemovedOut,
    RoomOut,
    WebhookOut,
)

router = api_router(tags=["live classes"])

_MEMBER = allow(Auth.USER, feature=Feature.LIVE_CLASSES)
_TRAINER = allow(Auth.TRAINER, feature=Feature.LIVE_CLASSES)
_STAFF = allow(Auth.STAFF, feature=Feature.LIVE_CLASSES)

Identity = Annotated[
    str,
    Path(
        min_length=1,
        max_length=120,
        pattern=r"^[A-Za-z0-9_.:@-]+$",
        description="The participant's identity in the room (`user-<id>`, `trainer-<id>`)",
    ),
]

_PROVIDER = (
    " Answers `503 PROVIDER_UNAVAILABLE` naming the settings to configure when only the "
    "embedded development LiveKit is configured, or when LiveKit fails."
)


def _rooms(request: Request) -> LiveKitRoomService:
    service: LiveKitRoomService = request.app.state.livekit_rooms
    return service


def _settings(request: Request) -> LiveKitSettings:
    settings: LiveKitSettings = request.app.state.settings.livekit
    return settings


# --- start, end, join: the trainer (and staff) ---------------------------------------------------


async def _start(request: Request, class_id: int, session: DbSession) -> Envelope[RoomOut]:
    answer = await rooms.start_class(
        session, current_caller(request), _rooms(request), class_id, now=utcnow()
    )
    return ok(RoomOut.model_validate(answer))


async def _end(request: Request, class_id: int, session: DbSession) -> Envelope[RoomOut]:
    answer = await rooms.end_class(
        session, current_caller(request), _rooms(request), class_id, now=utcnow()
    )
    return ok(RoomOut.model_validate(answer))


_START_TEXT = (
    "scheduled -> live. Creates the class's LiveKit room (RoomService `CreateRoom`, participant "
    "limit = capacity + staff seats, kept open while empty until after the scheduled end) "
    "before the status changes: a LiveKit failure answers `503 PROVIDER_UNAVAILABLE` and the "
    "class stays scheduled. With the embedded development LiveKit no call is made "
    "(`managed: false`): the dev server creates the room when the first participant joins. "
    "Any other status: `409 INVALID_STATE_TRANSITION`."
)
_END_TEXT = (
    "live -> ended. Deletes the LiveKit room (a room already gone is fine; with the embedded "
    "development LiveKit no call is made) and closes the attendance of everyone still in it. "
    "Any other status: `409 INVALID_STATE_TRANSITION`; LiveKit failing: `503`, still live."
)


@router.post(
    "/trainer/live-classes/{class_id}/start",
    response_model=Envelope[RoomOut],
    dependencies=[_TRAINER],
    summary="Start my live class (opens its room)",
    description=_START_TEXT,
)
async def trainer_start(
    request: Request, class_id: ObjectId, session: DbSession
) -> Envelope[RoomOut]:
    return await _start(request, class_id, session)


@router.post(
    "/trainer/live-classes/{class_id}/end",
    response_model=Envelope[RoomOut],
    dependencies=[_TRAINER],
    summary="End my live class (closes its room)",
    description=_END_TEXT,
)
async def trainer_end(
    request: Request, class_id: ObjectId, session: DbSession
) -> Envelope[RoomOut]:
    return await _end(request, class_id, session)


@router.post(
    "/manage/live-classes/{class_id}/start",
    response_model=Envelope[RoomOut],
    dependencies=[_STAFF],
    summary="Start a live class for its trainer",
    description=_START_TEXT,
)
async def staff_start(
    request: Request, class_id: ObjectId, session: DbSession
) -> Envelope[RoomOut]:
    return await _start(request, class_id, session)


@router.post(
    "/manage/live-classes/{class_id}/end",
    response_model=Envelope[RoomOut],
    dependencies=[_STAFF],
    summary="End a live class",
    description=_END_TEXT,
)
async def staff_end(request: Request, class_id: ObjectId, session: DbSession) -> Envelope[RoomOut]:
    return await _end(request, class_id, session)


@router.post(
    "/trainer/live-classes/{class_id}/join",
    response_model=Envelope[JoinOut],
    dependencies=[_TRAINER],
    summary="A LiveKit token for my live class's room (publish, room admin)",
    description=(
        "The class's trainer joins as `trainer-<trainerId>` with publish and room-admin "
        "rights, in the same window as members: from `joinEarlyMinutes` before the start "
        "until the end, and any time while the class is live; otherwise `409 "
        "BOOKING_WINDOW_CLOSED`. Token issuing works with the embedded development LiveKit."
    ),
)
async def trainer_join(
    request: Request, class_id: ObjectId, session: DbSession
) -> Envelope[JoinOut]:
    answer = await rooms.join_as_trainer(
        session, current_caller(request), _settings(request), class_id, now=utcnow()
    )
    return ok(JoinOut.model_validate(answer.out()))


@router.post(
    "/live/classes/{class_id}/join",
    response_model=Envelope[JoinOut],
    dependencies=[_MEMBER],
    summary="A LiveKit token to join a live class I have a seat in",
    description=(
        "Answers `{token, url, room}` (plus `identity`, `canPublish`, `expiresAt`) to a member "
        "with a seat (`403 FORBIDDEN` without one, also while waitlisted), from "
        "`joinEarlyMinutes` before the start until the end, and any time while the class is "
        "live; a cancelled, ended or not yet open class is `409 BOOKING_WINDOW_CLOSED`. The "
        "token subscribes and sends data; it publishes camera and microphone only when the "
        "app's `liveMembersCanPublish` setting is on. The identity is `user-<userId>`."
    ),
)
async def member_join(
    request: Request, class_id: ObjectId, session: DbSession
) -> Envelope[JoinOut]:
    caller = current_caller(request)
    answer = await rooms.join_as_member(
        session,
        caller.require_client(),
        caller.require_user_id(),
        _settings(request),
        class_id,
        now=utcnow(),
    )
    return ok(JoinOut.model_validate(answer.out()))


# --- participants --------------------------------------------------------------------------------


async def _participants(
    request: Request, class_id: int, session: DbSession, paging: Paging
) -> Envelope[Page[ParticipantOut]]:
    found = await rooms.list_participants(
        session, current_caller(request), _rooms(request), class_id
    )
    items = [ParticipantOut.model_validate(p) for p in found]
    return ok(paging.page_of(items[paging.offset : paging.offset + paging.limit], len(items)))


async def _remove(
    request: Request, class_id: int, identity: str, session: DbSession
) -> Envelope[RemovedOut]:
    answer = await rooms.remove_participant(
        session, current_caller(request), _rooms(request), class_id, identity
    )
    return ok(RemovedOut.model_validate(answer))


async def _mute(
    request: Request, class_id: int, identity: str, body: MuteIn, session: DbSession
) -> Envelope[MuteOut]:
    answer = await rooms.mute_track(
        session,
        current_caller(request),
        _rooms(request),
        class_id,
        identity,
        track_sid=body.track_sid,
        muted=body.muted,
    )
    return ok(MuteOut.model_validate(answer))


_LIST_TEXT = (
    "Who is in the class's LiveKit room now (trainer first, then by name) with their published "
    "tracks; an empty list when the room is not open." + _PROVIDER
)
_REMOVE_TEXT = "Disconnects the participant from the room (`404` when not in it)." + _PROVIDER
_MUTE_TEXT = (
    "Mutes (`muted: true`, the default) or unmutes one of the participant's published tracks "
    "(`trackSid` from the participants list; `404` when unknown)." + _PROVIDER
)


@router.get(
    "/trainer/live-classes/{class_id}/participants",
    response_model=Envelope[Page[ParticipantOut]],
    dependencies=[_TRAINER],
    summary="Participants in my live class's room",
    description=_LIST_TEXT,
)
async def trainer_participants(
    request: Request, class_id: ObjectId, session: DbSession, paging: Paging
) -> Envelope[Page[ParticipantOut]]:
    return await _participants(request, class_id, session, paging)


@router.post(
    "/trainer/live-classes/{class_id}/participants/{identity}/remove",
    response_model=Envelope[RemovedOut],
    dependencies=[_TRAINER],
    summary="Remove a participant from my live class's room",
    description=_REMOVE_TEXT,
)
async def trainer_remove(
    request: Request, class_id: ObjectId, identity: Identity, session: DbSession
) -> Envelope[RemovedOut]:
    return await _remove(request, class_id, identity, session)


@router.post(
    "/trainer/live-classes/{class_id}/participants/{identity}/mute",
    response_model=Envelope[MuteOut],
    dependencies=[_TRAINER],
    summary="Mute or unmute a participant's published track",
    description=_MUTE_TEXT,
)
async def trainer_mute(
    request: Request, class_id: ObjectId, identity: Identity, body: MuteIn, session: DbSession
) -> Envelope[MuteOut]:
    return await _mute(request, class_id, identity, body, session)


@router.get(
    "/manage/live-classes/{class_id}/participants",
    response_model=Envelope[Page[ParticipantOut]],
    dependencies=[_STAFF],
    summary="Participants in a live class's room",
    description=_LIST_TEXT,
)
async def staff_participants(
    request: Request, class_id: ObjectId, session: DbSession, paging: Paging
) -> Envelope[Page[ParticipantOut]]:
    return await _participants(request, class_id, session, paging)


@router.post(
    "/manage/live-classes/{class_id}/participants/{identity}/remove",
    response_model=Envelope[RemovedOut],
    dependencies=[_STAFF],
    summary="Remove a participant from a live class's room",
    description=_REMOVE_TEXT,
)
async def staff_remove(
    request: Request, class_id: ObjectId, identity: Identity, session: DbSession
) -> Envelope[RemovedOut]:
    return await _remove(request, class_id, identity, session)


@router.post(
    "/manage/live-classes/{class_id}/participants/{identity}/mute",
    response_model=Envelope[MuteOut],
    dependencies=[_STAFF],
    summary="Mute or unmute a participant's published track",
    description=_MUTE_TEXT,
)
async def staff_mute(
    request: Request, class_id: ObjectId, identity: Identity, body: MuteIn, session: DbSession
) -> Envelope[MuteOut]:
    return await _mute(request, class_id, identity, body, session)


# --- webhooks ------------------------------------------------------------------------------------


@router.post(
    "/webhooks/livekit",
    response_model=Envelope[WebhookOut],
    # LiveKit calls without an API key: the room named in the event names the client.
    dependencies=[allow(Auth.PUBLIC, platform_lookup=True)],
    tags=["webhooks"],
    summary="LiveKit's webhooks (attendance)",
    description=(
        "LiveKit POSTs `application/webhook+json` with `Authorization: <JWT>` signed with the "
        "LiveKit API key and secret, carrying the body's SHA-256; a bad signature, key or "
        "hash is `401 UNAUTHORIZED`. `participant_joined` / `participant_left` record "
        "attendance (first join, seconds present inside the class) and the member's live "
        "minutes; `room_finished` closes attendance and ends a live class. Events for rooms "
        "that are not live classes are answered `200` with `handled: false` (LiveKit retries "
        "other answers); redeliveries change nothing."
    ),
)
async def livekit_webhook(request: Request, session: DbSession) -> Envelope[WebhookOut]:
    body = await request.body()
    event = rooms.verify_webhook(_settings(request), body, request.headers.get("Authorization"))
    handled = await rooms.handle_webhook(session, event, now=utcnow())
    return ok(WebhookOut(event=event.event, handled=handled))
