"""A fake LiveKit RoomService speaking Twirp, for tests of the real SDK client.

It listens on ``127.0.0.1`` on an ephemeral port, in its own thread with its own event loop
(an SDK call must never wait on a server running on the caller's loop), and answers
``POST /twirp/livekit.RoomService/<Method>`` exactly as LiveKit does:

* the request body is binary protobuf (the SDK always sends ``application/protobuf``);
* ``Authorization: Bearer <jwt>`` is verified with the SDK's own :class:`api.TokenVerifier`
  and the grant LiveKit requires for the method is asserted (``roomCreate``, ``roomList``,
  or ``roomAdmin`` on the request's room);
* success answers the response message serialised as protobuf; an error answers Twirp's JSON
  ``{"code", "msg"}`` with the matching HTTP status, which the SDK raises as ``ServerError``.

Rooms and participants are kept in memory. Tests seed participants (and tracks) with
:meth:`FakeLiveKit.seed_participant`, make the next call of a method fail with
:meth:`FakeLiveKit.fail_next`, and read what was called from :attr:`FakeLiveKit.calls`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from google.protobuf.message import Message
from livekit import api
from livekit.api.access_token import Claims

TWIRP_STATUS = {
    "invalid_argument": 400,
    "malformed": 400,
    "unauthenticated": 401,
    "permission_denied": 403,
    "not_found": 404,
    "bad_route": 404,
    "already_exists": 409,
    "failed_precondition": 412,
    "resource_exhausted": 429,
    "internal": 500,
    "unimplemented": 501,
    "unavailable": 503,
}


class TwirpFailure(Exception):
    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


@dataclass
class FakeRoom:
    room: Any  # api.Room
    participants: dict[str, Any] = field(default_factory=dict)  # identity -> ParticipantInfo


@dataclass(frozen=True)
class Call:
    method: str
    request: Any
    claims: Claims


class FakeLiveKit:
    """The in-memory server state and its aiohttp app; run it with :func:`running_fake_livekit`."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.rooms: dict[str, FakeRoom] = {}
        self.calls: list[Call] = []
        self._failures: dict[str, str] = {}
        self._lock = threading.Lock()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- test hooks --------------------------------------------------------------------------

    def add_room(self, name: str, *, max_participants: int = 0) -> Any:
        with self._lock:
            return self._create(api.CreateRoomRequest(name=name, max_participants=max_participants))

    def seed_participant(
        self,
        room: str,
        identity: str,
        *,
        name: str = "",
        tracks: list[tuple[str, str]] | None = None,
    ) -> Any:
        """Put ``identity`` into ``room`` (created if missing), publishing ``tracks``
        (``(track_sid, "audio"|"video")``)."""
        with self._lock:
            if room not in self.rooms:
                self._create(api.CreateRoomRequest(name=room))
            fake = self.rooms[room]
            info = api.ParticipantInfo(
                sid="PA_" + secrets.token_hex(6),
                identity=identity,
                name=name,
                state=api.ParticipantInfo.State.ACTIVE,
                joined_at=int(time.time()),
                is_publisher=bool(tracks),
            )
            for sid, kind in tracks or []:
                audio = kind == "audio"
                info.tracks.append(
                    api.TrackInfo(
                        sid=sid,
                        type=api.TrackType.AUDIO if audio else api.TrackType.VIDEO,
                        source=api.TrackSource.MICROPHONE if audio else api.TrackSource.CAMERA,
                        name=kind,
                        muted=False,
                    )
                )
            fake.participants[identity] = info
            fake.room.num_participants = len(fake.participants)
            return info

    def fail_next(self, method: str, code: str = "internal") -> None:
        """The next call of ``method`` answers the Twirp error ``code``."""
        with self._lock:
            self._failures[method] = code

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    # --- the protocol ------------------------------------------------------------------------

    def _create(self, request: Any) -> Any:
        existing = self.rooms.get(request.name)
        if existing is not None:
            return existing.room
        room = api.Room(
            sid="RM_" + secrets.token_hex(6),
            name=request.name,
            empty_timeout=request.empty_timeout,
            departure_timeout=request.departure_timeout,
            max_participants=request.max_participants,
            metadata=request.metadata,
            creation_time=int(time.time()),
        )
        self.rooms[request.name] = FakeRoom(room)
        return room

    def _room(self, name: str) -> FakeRoom:
        found = self.rooms.get(name)
        if found is None:
            raise TwirpFailure("not_found", "requested room does not exist")
        return found

    def _participant(self, room: str, identity: str) -> Any:
        found = self._room(room).participants.get(identity)
        if found is None:
            raise TwirpFailure("not_found", "participant not found")
        return found

    def _create_room(self, request: Any) -> Message:
        if not request.name:
            raise TwirpFailure("invalid_argument", "room name is required")
        room: Message = self._create(request)
        return room

    def _list_rooms(self, request: Any) -> Message:
        names = set(request.names)
        rooms = [r.room for n, r in self.rooms.items() if not names or n in names]
        return api.ListRoomsResponse(rooms=rooms)

    def _delete_room(self, request: Any) -> Message:
        self._room(request.room)
        del self.rooms[request.room]
        return api.DeleteRoomResponse()

    def _list_participants(self, request: Any) -> Message:
        room = self._room(request.room)
        return api.ListParticipantsResponse(participants=list(room.participants.values()))

    def _get_participant(self, request: Any) -> Message:
        info: Message = self._participant(request.room, request.identity)
        return info

    def _remove_participant(self, request: Any) -> Message:
        room = self._room(request.room)
        self._participant(request.room, request.identity)
        del room.participants[request.identity]
        room.room.num_participants = len(room.participants)
        return api.RemoveParticipantResponse()

    def _mute(self, request: Any) -> Message:
        info = self._participant(request.room, request.identity)
        for track in info.tracks:
            if track.sid == request.track_sid:
                track.muted = request.muted
                return api.MuteRoomTrackResponse(track=track)
        raise TwirpFailure("not_found", "track not found")

    def _methods(self) -> dict[str, tuple[type[Message], Callable[[Any], Message], str]]:
        # method -> (request type, handler, the grant LiveKit checks)
        return {
            "CreateRoom": (api.CreateRoomRequest, self._create_room, "roomCreate"),
            "ListRooms": (api.ListRoomsRequest, self._list_rooms, "roomList"),
            "DeleteRoom": (api.DeleteRoomRequest, self._delete_room, "roomCreate"),
            "ListParticipants": (api.ListParticipantsRequest, self._list_participants, "roomAdmin"),
            "GetParticipant": (api.RoomParticipantIdentity, self._get_participant, "roomAdmin"),
            "RemoveParticipant": (
                api.RoomParticipantIdentity,
                self._remove_participant,
                "roomAdmin",
            ),
            "MutePublishedTrack": (api.MuteRoomTrackRequest, self._mute, "roomAdmin"),
        }

    def _authorise(self, request: web.Request, grant: str, room: str | None) -> Claims:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise TwirpFailure("unauthenticated", "authorization header missing")
        try:
            claims = api.TokenVerifier(self.api_key, self.api_secret).verify(header[7:])
        except Exception as exc:  # any verification failure
            raise TwirpFailure("unauthenticated", f"invalid token: {exc}") from exc
        video = claims.video
        allowed = {
            "roomCreate": bool(video and video.room_create),
            "roomList": bool(video and video.room_list),
            "roomAdmin": bool(video and video.room_admin and video.room == room),
        }[grant]
        if not allowed:
            raise TwirpFailure("permission_denied", f"{grant} grant required")
        return claims

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            known = self._methods().get(method)
            if known is None:
                raise TwirpFailure("bad_route", f"no handler for {method}")
            request_type, handler, grant = known
            if request.content_type != "application/protobuf":
                raise TwirpFailure("malformed", "expected application/protobuf")
            try:
                message: Any = request_type.FromString(await request.read())
            except Exception as exc:
                raise TwirpFailure("malformed", "body is not a protobuf message") from exc
            room = getattr(message, "room", None) if grant == "roomAdmin" else None
            claims = self._authorise(request, grant, room)
            with self._lock:
                self.calls.append(Call(method, message, claims))
                failure = self._failures.pop(method, None)
                if failure is not None:
                    raise TwirpFailure(failure, f"injected {failure}")
                answer = handler(message)
                body = answer.SerializeToString()
        except TwirpFailure as failure:
            return web.Response(
                status=TWIRP_STATUS.get(failure.code, 500),
                text=json.dumps({"code": failure.code, "msg": failure.msg}),
                content_type="application/json",
            )
        return web.Response(body=body, content_type="application/protobuf")

    def app(self) -> web.Application:
        application = web.Application()
        application.router.add_post("/twirp/livekit.RoomService/{method}", self.handle)
        return application


@contextmanager
def running_fake_livekit(api_key: str, api_secret: str) -> Iterator[FakeLiveKit]:
    """Serve a :class:`FakeLiveKit` on 127.0.0.1 (ephemeral port) in a thread of its own."""
    fake = FakeLiveKit(api_key, api_secret)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(fake.app(), access_log=None)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        fake.port = sockets[0].getsockname()[1]

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="fake-livekit", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the fake LiveKit server did not start")
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
