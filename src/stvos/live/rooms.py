"""Live classes on LiveKit: the room's life (start, end), join tokens, participant management,
and attendance from LiveKit's webhooks, which also feeds the watch-time ledger.

* **Start** (scheduled -> live) creates the room through RoomService ``CreateRoom`` before the
  status changes, so a LiveKit failure (503) leaves the class scheduled. The room keeps
  ``capacity + STAFF_SEATS`` participants (the trainer and studio staff need seats beyond the
  members'), and stays open, even empty, until a while after the scheduled end
  (``empty_timeout``), so a class nobody has joined yet is not closed under the trainer.
  **End** (live -> ended) deletes the room (an already gone room is fine) and closes everyone's
  attendance at that moment. With the embedded development settings no RoomService call is
  made (``managed: false``): a ``livekit-server --dev`` creates a room when the first
  participant connects.
* **Join**: registered members from ``join_early_minutes`` before the start until the end
  (any time while the class is live); they subscribe and send data, and publish camera and
  microphone only where the client's ``liveMembersCanPublish`` setting allows. The trainer
  publishes and administers the room.
* **Webhooks** arrive without a client: the class is found by its room name (unique across
  clients) and every statement then names that class's client explicitly.
  ``participant_joined`` opens a presence, ``participant_left`` closes it, adding the seconds
  inside the class's window (from its start to its end) to the attendance and to the member's
  watch ledger, split at UTC quarter hours. ``room_finished`` closes every open presence and
  ends a live class. Times are the events' ``createdAt``. LiveKit retries deliveries, so each
  handler is idempotent: a join while already present, a leave while absent, or an event older
  than the state it would change is ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from google.protobuf.json_format import ParseError
from livekit import api
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from stvos.config import LiveKitSettings
from stvos.integrations.livekit import (
    LiveKitNotFound,
    LiveKitRooms,
    LiveKitRoomService,
    ParticipantState,
    TrackInfo,
)
from stvos.kit.clock import utcnow
from stvos.kit.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from stvos.kit.policy import Caller, ClientContext
from stvos.kit.zones import quarter_hour_shares, zone_named
from stvos.live import schedule
from stvos.live.errors import LiveClassNotFound
from stvos.models import Client, Trainer, User
from stvos.models.client import LIVE_MEMBERS_CAN_PUBLISH
from stvos.models.live import (
    LiveAttendance,
    LiveClass,
    LiveClassStatus,
    LiveRegistration,
    RegistrationStatus,
)
from stvos.models.playback import WatchLedger

logger = logging.getLogger(__name__)

#: Seats beyond the members' capacity: the trainer, a co-host, studio staff.
STAFF_SEATS = 5
#: How long after the scheduled end an empty room may stay open.
EMPTY_GRACE = timedelta(minutes=15)
#: How long a room outlives its last participant (a trainer's dropped connection must not end
#: the class: LiveKit's default is 20 seconds).
DEPARTURE_TIMEOUT_SECONDS = 5 * 60
#: A join token may still be used this long after the scheduled end (a class running over).
TOKEN_MARGIN = timedelta(minutes=30)
#: The client setting that lets members publish camera and microphone in live classes.

USER_PREFIX = "user-"
TRAINER_PREFIX = "trainer-"


START_EARLY = timedelta(minutes=30)


class JoinWindowClosed(Conflict):
    code = "BOOKING_WINDOW_CLOSED"
    default_message = "This class's room is not open now"


class NotRegistered(Forbidden):
    default_message = "Register for this class (a seat, not the waitlist) to join it"


class ParticipantNotFound(NotFound):
    default_message = "No such participant (or track) in this class's room"


# --- the room's life ---------------------------------------------------------------------------


def room_out(live: LiveClass, *, managed: bool) -> dict[str, Any]:
    return {
        "live_class_id": live.id,
        "status": live.status,
        "room": live.room_name,
        "room_sid": live.room_sid,
        "managed": managed,
        "max_participants": live.capacity + STAFF_SEATS,
        "started_at": live.started_at,
        "ended_at": live.ended_at,
    }


async def start_class(
    session: AsyncSession,
    caller: Caller,
    rooms: LiveKitRoomService,
    class_id: int,
    *,
    now: datetime,
) -> dict[str, Any]:
    """scheduled -> live, creating the LiveKit room first (its failure leaves it scheduled)."""
    live = await schedule.class_for_trainer(session, caller, class_id, lock=True)
    schedule.check_transition(live, LiveClassStatus.LIVE)
    # A class goes live around its time, not days early (members plan by the schedule) nor
    # after its end.
    if now < live.starts_at - START_EARLY:
        minutes = int(START_EARLY.total_seconds() // 60)
        raise JoinWindowClosed(f"A class can start from {minutes} minutes before its time")
    if now >= live.ends_at:
        raise JoinWindowClosed("This class's time has passed; cancel it instead")
    if rooms.managed:
        open_for = max(live.ends_at - now, timedelta(0)) + EMPTY_GRACE
        info = await rooms.create_room(
            live.room_name,
            empty_timeout=int(open_for.total_seconds()),
            departure_timeout=DEPARTURE_TIMEOUT_SECONDS,
            max_participants=live.capacity + STAFF_SEATS,
            metadata={"liveClassId": live.id, "title": live.title},
        )
        live.room_sid = info.sid
    live.status = LiveClassStatus.LIVE.value
    live.started_at = now
    await session.flush()
    return room_out(live, managed=rooms.managed)


async def end_class(
    session: AsyncSession,
    caller: Caller,
    rooms: LiveKitRoomService,
    class_id: int,
    *,
    now: datetime,
) -> dict[str, Any]:
    """live -> ended: the room is deleted (already gone is fine) and attendance closed."""
    live = await schedule.class_for_trainer(session, caller, class_id, lock=True)
    schedule.check_transition(live, LiveClassStatus.ENDED)
    if rooms.managed:
        await rooms.delete_room(live.room_name)
    live.status = LiveClassStatus.ENDED.value
    live.ended_at = now
    await session.flush()
    await _close_open_attendance(session, live, now)
    return room_out(live, managed=rooms.managed)


# --- joining -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinAnswer:
    live: LiveClass
    token: Any  # RoomToken
    role: Literal["member", "trainer"]
    can_publish: bool

    def out(self) -> dict[str, Any]:
        return {
            "token": self.token.token,
            "url": self.token.url,
            "room": self.token.room,
            "identity": self.token.identity,
            "role": self.role,
            "can_publish": self.can_publish,
            "expires_at": self.token.expires_at,
            "live_class_id": self.live.id,
            "status": self.live.status,
        }


def _check_window(live: LiveClass, settings: LiveKitSettings, now: datetime) -> None:
    """Open from ``join_early_minutes`` before the start until the end; always while live."""
    if live.status == LiveClassStatus.LIVE.value:
        return
    if live.status == LiveClassStatus.CANCELLED.value:
        raise JoinWindowClosed("This class was cancelled")
    if live.status == LiveClassStatus.ENDED.value or now >= live.ends_at:
        raise JoinWindowClosed("This class has ended")
    opens = live.starts_at - timedelta(minutes=settings.join_early_minutes)
    if now < opens:
        raise JoinWindowClosed(
            f"The room opens {settings.join_early_minutes} minutes before the class starts"
        )


def _not_after(live: LiveClass, now: datetime) -> datetime:
    return max(live.ends_at, now) + TOKEN_MARGIN


async def join_as_member(
    session: AsyncSession,
    client: ClientContext,
    user_id: int,
    settings: LiveKitSettings,
    class_id: int,
    *,
    now: datetime,
) -> JoinAnswer:
    live = await session.scalar(
        select(LiveClass).where(LiveClass.id == class_id, LiveClass.client_id == client.id)
    )
    if live is None:
        raise LiveClassNotFound()
    found = (
        await session.execute(
            select(LiveRegistration.status, LiveRegistration.removed_at).where(
                LiveRegistration.client_id == client.id,
                LiveRegistration.live_class_id == live.id,
                LiveRegistration.user_id == user_id,
            )
        )
    ).one_or_none()
    registration, removed_at = found if found is not None else (None, None)
    if registration != RegistrationStatus.REGISTERED.value:
        if registration == RegistrationStatus.WAITLISTED.value:
            raise NotRegistered("You are on the waitlist; you can join once you have a seat")
        raise NotRegistered()
    if removed_at is not None:
        raise NotRegistered("The trainer removed you from this class's room")
    _check_window(live, settings, now)
    client_settings = await session.scalar(select(Client.settings).where(Client.id == client.id))
    can_publish = bool((client_settings or {}).get(LIVE_MEMBERS_CAN_PUBLISH, False))
    name = await session.scalar(select(User.name).where(User.id == user_id))
    token = LiveKitRooms(settings).room_token(
        room=live.room_name,
        identity=f"{USER_PREFIX}{user_id}",
        name=name or "Member",
        admin=False,
        can_publish=can_publish,
        metadata={"liveClassId": live.id, "role": "member"},
        not_after=_not_after(live, now),
        now=now,
    )
    return JoinAnswer(live, token, "member", can_publish)


async def join_as_trainer(
    session: AsyncSession,
    caller: Caller,
    settings: LiveKitSettings,
    class_id: int,
    *,
    now: datetime,
) -> JoinAnswer:
    live = await schedule.class_for_trainer(session, caller, class_id)
    _check_window(live, settings, now)
    trainer_name = await session.scalar(
        select(Trainer.name).where(
            Trainer.id == live.trainer_id, Trainer.client_id == live.client_id
        )
    )
    token = LiveKitRooms(settings).room_token(
        room=live.room_name,
        identity=f"{TRAINER_PREFIX}{live.trainer_id}",
        name=trainer_name or "Trainer",
        admin=True,
        can_publish=True,
        metadata={"liveClassId": live.id, "role": "trainer"},
        not_after=_not_after(live, now),
        now=now,
    )
    return JoinAnswer(live, token, "trainer", True)


# --- participants ------------------------------------------------------------------------------


def _user_id_of(identity: str) -> int | None:
    if identity.startswith(USER_PREFIX) and identity[len(USER_PREFIX) :].isdigit():
        number = int(identity[len(USER_PREFIX) :])
        return number if 0 < number < 2**63 else None
    return None


def _role_of(identity: str) -> str:
    if _user_id_of(identity) is not None:
        return "member"
    if identity.startswith(TRAINER_PREFIX):
        return "trainer"
    return "other"


def track_out(track: TrackInfo) -> dict[str, Any]:
    return {
        "sid": track.sid,
        "kind": track.kind,
        "source": track.source,
        "name": track.name,
        "muted": track.muted,
    }


def participant_out(state: ParticipantState) -> dict[str, Any]:
    return {
        "sid": state.sid,
        "identity": state.identity,
        "name": state.name,
        "role": _role_of(state.identity),
        "user_id": _user_id_of(state.identity),
        "state": state.state,
        "joined_at": state.joined_at,
        "is_publisher": state.is_publisher,
        "tracks": [track_out(t) for t in state.tracks],
    }


async def _managed_class(
    session: AsyncSession, caller: Caller, rooms: LiveKitRoomService, class_id: int
) -> LiveClass:
    live = await schedule.class_for_trainer(session, caller, class_id)
    rooms.require_managed()
    return live


async def list_participants(
    session: AsyncSession, caller: Caller, rooms: LiveKitRoomService, class_id: int
) -> list[dict[str, Any]]:
    """Who is in the room now, trainer first, then by name; no room yet is an empty list."""
    live = await _managed_class(session, caller, rooms, class_id)
    try:
        found = await rooms.list_participants(live.room_name)
    except LiveKitNotFound:
        return []
    order = {"trainer": 0, "member": 1, "other": 2}
    found.sort(key=lambda p: (order[_role_of(p.identity)], p.name.lower(), p.identity))
    return [participant_out(p) for p in found]


async def remove_participant(
    session: AsyncSession,
    caller: Caller,
    rooms: LiveKitRoomService,
    class_id: int,
    identity: str,
) -> dict[str, Any]:
    live = await _managed_class(session, caller, rooms, class_id)
    try:
        await rooms.remove_participant(live.room_name, identity)
    except LiveKitNotFound:
        raise ParticipantNotFound() from None
    # A removed member must not walk back in with a fresh token from the join route.
    user_id = _user_id_of(identity)
    if user_id is not None:
        await session.execute(
            update(LiveRegistration)
            .where(
                LiveRegistration.client_id == live.client_id,
                LiveRegistration.live_class_id == live.id,
                LiveRegistration.user_id == user_id,
            )
            .values(removed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return {"identity": identity, "removed": True}


async def mute_track(
    session: AsyncSession,
    caller: Caller,
    rooms: LiveKitRoomService,
    class_id: int,
    identity: str,
    *,
    track_sid: str,
    muted: bool,
) -> dict[str, Any]:
    live = await _managed_class(session, caller, rooms, class_id)
    try:
        track = await rooms.mute_track(live.room_name, identity, track_sid, muted)
    except LiveKitNotFound:
        raise ParticipantNotFound() from None
    return {"identity": identity, "track": track_out(track)}


# --- webhooks ----------------------------------------------------------------------------------


def verify_webhook(settings: LiveKitSettings, body: bytes, authorization: str | None) -> Any:
    """The :class:`api.WebhookEvent` of a delivery signed by our LiveKit (else 401)."""
    token = (authorization or "").strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()  # LiveKit sends the bare JWT; tolerate a Bearer prefix
    if not token:
        raise Unauthorized("A LiveKit webhook needs its signed Authorization header")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("The webhook body is not UTF-8 text") from None
    receiver = api.WebhookReceiver(
        api.TokenVerifier(settings.api_key, settings.api_secret.get_secret_value())
    )
    try:
        return receiver.receive(text, token)
    except ParseError:
        raise ValidationFailed("The webhook body is not a LiveKit event") from None
    except Exception as exc:  # bad signature, wrong key, expired, hash mismatch
        logger.info("LiveKit webhook refused: %s", exc)
        raise Unauthorized("The webhook signature is not valid") from None


def _event_time(event: Any, now: datetime) -> datetime:
    seconds = int(event.created_at)
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else now


async def handle_webhook(session: AsyncSession, event: Any, *, now: datetime) -> bool:
    """Apply one verified event; false when it is not ours or changes nothing."""
    kind = event.event
    if kind not in {"participant_joined", "participant_left", "room_finished"}:
        return False
    room_name = event.room.name if event.HasField("room") else ""
    if not room_name:
        return False
    # Platform scope: the room name is unique across clients and names the client.
    live = await session.scalar(
        select(LiveClass)
        .where(LiveClass.room_name == room_name)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if live is None:
        return False
    at = _event_time(event, now)
    if kind == "room_finished":
        return await _room_finished(session, live, event, at)
    identity = event.participant.identity if event.HasField("participant") else ""
    if not identity:
        return False
    if kind == "participant_joined":
        return await _joined(session, live, identity, at)
    return await _left(session, live, identity, at)


async def _attendance(
    session: AsyncSession, live: LiveClass, identity: str, at: datetime
) -> LiveAttendance | None:
    """The locked attendance row of ``identity``, made on its first join (race-free)."""
    user_id = _user_id_of(identity)
    if user_id is not None:
        user_id = await session.scalar(
            select(User.id).where(User.id == user_id, User.client_id == live.client_id)
        )
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(LiveAttendance)
        .values(
            client_id=live.client_id,
            live_class_id=live.id,
            identity=identity,
            user_id=user_id,
            first_joined_at=at,
            open_since=None,
            last_left_at=None,
            seconds_present=0,
            joins=0,
        )
        .on_conflict_do_nothing(index_elements=["client_id", "live_class_id", "identity"])
    )
    return await session.scalar(
        select(LiveAttendance)
        .where(
            LiveAttendance.client_id == live.client_id,
            LiveAttendance.live_class_id == live.id,
            LiveAttendance.identity == identity,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _joined(session: AsyncSession, live: LiveClass, identity: str, at: datetime) -> bool:
    if live.status == LiveClassStatus.CANCELLED.value:
        return False
    row = await _attendance(session, live, identity, at)
    assert row is not None
    if row.open_since is not None:
        return False  # already present: a redelivery (or a missed leave)
    if row.last_left_at is not None and at <= row.last_left_at:
        return False  # older than the last leave: a late redelivery
    if row.joins == 0 or at < row.first_joined_at:
        row.first_joined_at = at
    row.open_since = at
    row.joins += 1
    await session.flush()
    return True


def _counted(live: LiveClass, since: datetime, until: datetime) -> tuple[datetime, int]:
    """The end and whole seconds of the part of ``[since, until)`` inside the class's window
    (from its start, or its scheduled start, to its end when it has ended)."""
    start = live.started_at or live.starts_at
    end = min(until, live.ended_at) if live.ended_at is not None else until
    begin = max(since, start)
    if end <= begin:
        return end, 0
    return end, int((end - begin).total_seconds())


async def _close(session: AsyncSession, live: LiveClass, row: LiveAttendance, at: datetime) -> int:
    """Close ``row``'s open presence at ``at``; the counted seconds go to the ledger too."""
    assert row.open_since is not None
    end, seconds = _counted(live, row.open_since, at)
    row.open_since = None
    row.last_left_at = at
    row.seconds_present += seconds
    await session.flush()
    if seconds and row.user_id is not None:
        statement = await _ledger_upsert(session, live, row.user_id, end, seconds)
        if statement is not None:
            await session.execute(statement)
    return seconds


async def _left(session: AsyncSession, live: LiveClass, identity: str, at: datetime) -> bool:
    row = await session.scalar(
        select(LiveAttendance)
        .where(
            LiveAttendance.client_id == live.client_id,
            LiveAttendance.live_class_id == live.id,
            LiveAttendance.identity == identity,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None or row.open_since is None or at < row.open_since:
        return False  # never joined, already left (a redelivery), or older than the join
    await _close(session, live, row, at)
    return True


async def _close_open_attendance(session: AsyncSession, live: LiveClass, at: datetime) -> int:
    rows = (
        await session.scalars(
            select(LiveAttendance)
            .where(
                LiveAttendance.client_id == live.client_id,
                LiveAttendance.live_class_id == live.id,
                LiveAttendance.open_since.is_not(None),
            )
            .order_by(LiveAttendance.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    for row in rows:
        await _close(session, live, row, max(at, row.open_since or at))
    return len(rows)


async def _room_finished(session: AsyncSession, live: LiveClass, event: Any, at: datetime) -> bool:
    sid = event.room.sid
    if live.room_sid and sid and sid != live.room_sid:
        return False  # an earlier instance of the room (e.g. opened by early joiners)
    if live.started_at is not None and at < live.started_at:
        return False  # finished before this class started: a stale delivery
    closed = await _close_open_attendance(session, live, at)
    if live.status != LiveClassStatus.LIVE.value:
        return closed > 0
    schedule.check_transition(live, LiveClassStatus.ENDED)
    live.status = LiveClassStatus.ENDED.value
    live.ended_at = at
    await session.flush()
    return True


# --- the watch ledger ----------------------------------------------------------------------------


async def _ledger_upsert(
    session: AsyncSession, live: LiveClass, user_id: int, end: datetime, seconds: int
) -> Executable | None:
    """Add ``seconds`` present before ``end`` to the member's ledger rows of this class, one
    per UTC quarter hour, each on the client's local day of it."""
    zone_name = await session.scalar(select(Client.time_zone).where(Client.id == live.client_id))
    zone = _zone(zone_name)
    rows = [
        {
            "client_id": live.client_id,
            "user_id": user_id,
            "class_id": None,
            "live_class_id": live.id,
            "period_start": period,
            "day": period.astimezone(zone).date(),
            "watched_seconds": share,
            "completions": 0,
        }
        for period, share in quarter_hour_shares(end, seconds)
    ]
    if not rows:
        return None
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(WatchLedger).values(rows)
    return statement.on_conflict_do_update(
        index_elements=["client_id", "user_id", "live_class_id", "period_start"],
        set_={"watched_seconds": WatchLedger.watched_seconds + statement.excluded.watched_seconds},
    )


def _zone(name: str | None) -> ZoneInfo:
    return zone_named(name) or ZoneInfo("UTC")
