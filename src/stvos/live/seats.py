"""Members and live classes: the schedule, one class, seats and the FIFO waitlist.

Exactly ``capacity`` seats, on either database, however many registrations race:

* taking a seat is one conditional statement, ``UPDATE live_classes SET registered_count =
  registered_count + 1 WHERE id = :id AND registered_count < capacity AND <open> RETURNING``;
  no row means the class is full (or closed), and a queue number is taken the same way
  (``waitlist_seq = waitlist_seq + 1 ... RETURNING``), so waiting members are numbered in the
  order their requests reached the class row;
* either statement leaves the class row write-locked until the transaction ends (PostgreSQL;
  SQLite's ``BEGIN IMMEDIATE`` write transactions take turns anyway), so everything after it in
  the same request (re-reading the member's own registration, inserting it) is serialised per
  class: a member's two concurrent requests make one registration, and the second gives back
  what it took;
* unregistering locks the class row first (``SELECT ... FOR UPDATE``), then passes a freed seat
  to the waiting member with the lowest number without touching ``registered_count`` (the seat
  changes hands), or gives the seat back when nobody waits. Plain ``FOR UPDATE`` rather than
  ``SKIP LOCKED``: promotions must queue behind each other, never skip the first in line.

A waitlist position is ``1 +`` the number of waiting members with a lower number, so leaving
the queue moves everybody behind up by one. Registering is open while a class is scheduled or
live and has not ended; the waitlist only while it is scheduled (a full class in progress
answers ``CLASS_FULL``). Premium classes need premium access (``PREMIUM_REQUIRED``).

Every answer is built with a constant number of statements, whatever the page size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from stvos.accounts.service import user_zone
from stvos.content.errors import PremiumRequired
from stvos.integrations.mail import Mail, Mailer
from stvos.kit.errors import InvalidStateTransition, NotFound, invalid_field
from stvos.kit.paging import fetch_page
from stvos.kit.schemas import PageParams
from stvos.kit.zones import local_midnight
from stvos.live.errors import ClassFull, LiveClassNotFound
from stvos.live.member_schemas import (
    LiveCategoryRef,
    LiveClassOut,
    LiveTrainerRef,
    MyRegistration,
    RegistrationOut,
)
from stvos.models import Category, Trainer, User
from stvos.models.live import LiveClass, LiveClassStatus, LiveRegistration, RegistrationStatus

DEFAULT_WINDOW = timedelta(days=14)
MAX_WINDOW = timedelta(days=62)
UPCOMING_LIMIT = 10
FEATURE = "live_classes"

OPEN_STATUSES = (LiveClassStatus.SCHEDULED.value, LiveClassStatus.LIVE.value)
_REGISTERED = RegistrationStatus.REGISTERED.value
_WAITLISTED = RegistrationStatus.WAITLISTED.value
_CANCELLED = RegistrationStatus.CANCELLED.value
ACTIVE = frozenset({_REGISTERED, _WAITLISTED})
_ORDER = (LiveClass.starts_at.asc(), LiveClass.id.asc())


class NotRegistered(NotFound):
    default_message = "You are not registered for this class"


# --- describing classes: constant statements per page -----------------------------------------


async def _waitlist_counts(session: AsyncSession, ids: Sequence[int]) -> dict[int, int]:
    rows = await session.execute(
        select(LiveRegistration.live_class_id, func.count(LiveRegistration.id))
        .where(
            LiveRegistration.live_class_id.in_(ids),
            LiveRegistration.status == _WAITLISTED,
        )
        .group_by(LiveRegistration.live_class_id)
    )
    return {class_id: count for class_id, count in rows}


async def _ahead_of(session: AsyncSession, user_id: int, ids: Sequence[int]) -> dict[int, int]:
    """Per class where ``user_id`` waits: how many wait ahead of them. One statement."""
    me = aliased(LiveRegistration)
    other = aliased(LiveRegistration)
    rows = await session.execute(
        select(me.live_class_id, func.count(other.id))
        .select_from(me)
        .join(
            other,
            and_(
                other.live_class_id == me.live_class_id,
                other.status == _WAITLISTED,
                other.waitlist_seq < me.waitlist_seq,
            ),
        )
        .where(me.user_id == user_id, me.status == _WAITLISTED, me.live_class_id.in_(ids))
        .group_by(me.live_class_id)
    )
    return {class_id: count for class_id, count in rows}


def _mine_out(registration: LiveRegistration, ahead: int) -> MyRegistration:
    waiting = registration.status == _WAITLISTED
    return MyRegistration(
        status=registration.status,  # validated by the Literal
        waitlist_position=ahead + 1 if waiting else None,
        registered_at=registration.registered_at,
        promoted_at=registration.promoted_at,
    )


def _class_out(
    c: LiveClass,
    *,
    trainer: LiveTrainerRef,
    category: LiveCategoryRef | None,
    waitlist_count: int,
    registration: LiveRegistration | None,
    ahead: int,
) -> LiveClassOut:
    """One class on the wire; :func:`describe` and :func:`upcoming` differ only in how they
    fetch the parts."""
    return LiveClassOut(
        id=c.id,
        title=c.title,
        description=c.description,
        status=c.status,  # validated by the Literal
        starts_at=c.starts_at,
        ends_at=c.ends_at,
        duration_minutes=c.duration_minutes,
        capacity=c.capacity,
        registered_count=c.registered_count,
        spots_left=max(c.capacity - c.registered_count, 0),
        waitlist_count=waitlist_count,
        intensity=c.intensity,
        is_premium=c.is_premium,
        trainer=trainer,
        category=category,
        series_id=c.series_id,
        registration=_mine_out(registration, ahead) if registration else None,
    )


async def describe(
    session: AsyncSession, classes: Sequence[LiveClass], user_id: int | None
) -> list[LiveClassOut]:
    """Wire descriptions of ``classes`` (with ``user_id``'s registrations when given): at most
    five statements, whatever their number."""
    if not classes:
        return []
    ids = [c.id for c in classes]
    trainer_rows = await session.execute(
        select(Trainer.id, Trainer.name, Trainer.image_url).where(
            Trainer.id.in_({c.trainer_id for c in classes})
        )
    )
    trainers = {
        r.id: LiveTrainerRef(id=r.id, name=r.name, image_url=r.image_url) for r in trainer_rows
    }
    categories: dict[int, LiveCategoryRef] = {}
    category_ids = {c.category_id for c in classes if c.category_id is not None}
    if category_ids:
        rows = await session.execute(
            select(Category.id, Category.name).where(Category.id.in_(category_ids))
        )
        categories = {r.id: LiveCategoryRef(id=r.id, name=r.name) for r in rows}
    waiting = await _waitlist_counts(session, ids)
    mine: dict[int, LiveRegistration] = {}
    ahead: dict[int, int] = {}
    if user_id is not None:
        mine = {
            r.live_class_id: r
            for r in await session.scalars(
                select(LiveRegistration).where(
                    LiveRegistration.user_id == user_id, LiveRegistration.live_class_id.in_(ids)
                )
            )
        }
        if any(r.status == _WAITLISTED for r in mine.values()):
            ahead = await _ahead_of(session, user_id, ids)
    return [
        _class_out(
            c,
            trainer=trainers.get(c.trainer_id)
            or LiveTrainerRef(id=c.trainer_id, name=None, image_url=None),
            category=categories.get(c.category_id) if c.category_id is not None else None,
            waitlist_count=waiting.get(c.id, 0),
            registration=mine.get(c.id),
            ahead=ahead.get(c.id, 0),
        )
        for c in classes
    ]


# --- the schedule -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleFilters:
    from_text: str | None = None
    to_text: str | None = None
    category_id: int | None = None
    trainer_id: int | None = None
    has_space: bool | None = None
    status: str | None = None  # one status; None: scheduled and live


def _edge(text: str, field: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """A date (``YYYY-MM-DD`` in ``zone``; ``to`` includes its day) or an ISO-8601 instant."""
    text = text.strip()
    message = "must be a date (YYYY-MM-DD) or an ISO-8601 instant"
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise invalid_field(field, message) from None
        return local_midnight(day + timedelta(days=1) if end else day, zone)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid_field(field, message) from None
    if moment.tzinfo is None:
        raise invalid_field(field, "an instant needs a zone: end it with Z or an offset")
    return moment.astimezone(UTC)


def schedule_window(
    from_text: str | None, to_text: str | None, zone: ZoneInfo, now: datetime
) -> tuple[datetime, datetime]:
    """``[start, end)``: defaults to now and 14 days on; 400 when empty or over 62 days."""
    start = _edge(from_text, "from", zone, end=False) if from_text else now
    end = _edge(to_text, "to", zone, end=True) if to_text else start + DEFAULT_WINDOW
    if end <= start:
        raise invalid_field("to", "must be after from")
    if end - start > MAX_WINDOW:
        raise invalid_field("to", "the window can be at most 62 days long")
    return start, end


async def list_classes(
    session: AsyncSession,
    user_id: int,
    filters: ScheduleFilters,
    paging: PageParams,
    now: datetime,
) -> tuple[list[LiveClassOut], int]:
    """Classes overlapping the window (a class in progress counts), soonest first."""
    needs_zone = any(t and len(t.strip()) == 10 for t in (filters.from_text, filters.to_text))
    zone = await user_zone(session, user_id) if needs_zone else ZoneInfo("UTC")
    start, end = schedule_window(filters.from_text, filters.to_text, zone, now)
    statuses = (filters.status,) if filters.status else OPEN_STATUSES
    query = select(LiveClass).where(
        LiveClass.starts_at < end, LiveClass.ends_at > start, LiveClass.status.in_(statuses)
    )
    if filters.category_id is not None:
        query = query.where(LiveClass.category_id == filters.category_id)
    if filters.trainer_id is not None:
        query = query.where(LiveClass.trainer_id == filters.trainer_id)
    if filters.has_space is not None:
        space = LiveClass.registered_count < LiveClass.capacity
        query = query.where(space if filters.has_space else ~space)
    classes, total = await fetch_page(session, query, paging, *_ORDER)
    return await describe(session, classes, user_id), total


async def _class(session: AsyncSession, class_id: int, *, lock: bool = False) -> LiveClass:
    """The live class ``class_id`` of the caller's client, read afresh; with ``lock`` its row
    is locked for the rest of the transaction (PostgreSQL)."""
    query = select(LiveClass).where(LiveClass.id == class_id)
    if lock:
        query = query.with_for_update()
    found = await session.scalar(query.execution_options(populate_existing=True))
    if found is None:
        raise LiveClassNotFound()
    return found


async def get_class(session: AsyncSession, user_id: int, class_id: int) -> LiveClassOut:
    """One class in any status (a cancelled one says so), with the caller's registration."""
    (answer,) = await describe(session, [await _class(session, class_id)], user_id)
    return answer


@cache
def _upcoming_query(for_member: bool, for_trainer: bool) -> Select[Any]:
    """The statement of :func:`upcoming`, built once per shape: its values are bind parameters
    (``now``, ``limit`` and, by shape, ``user_id`` and ``trainer_id``). Building it per request
    (three aliases, their column proxies, the subqueries) cost more CPU than running it."""
    waiting = aliased(LiveRegistration)
    waitlist_count = (
        select(func.count(waiting.id))
        .where(waiting.live_class_id == LiveClass.id, waiting.status == _WAITLISTED)
        .scalar_subquery()
    )
    query = (
        select(
            LiveClass,
            Trainer.name.label("trainer_name"),
            Trainer.image_url.label("trainer_image"),
            Trainer.id.label("trainer_found"),
            Category.id.label("category_found"),
            Category.name.label("category_name"),
            waitlist_count.label("waitlist_count"),
        )
        .outerjoin(Trainer, Trainer.id == LiveClass.trainer_id)
        .outerjoin(Category, Category.id == LiveClass.category_id)
        .where(LiveClass.status.in_(OPEN_STATUSES), LiveClass.ends_at > bindparam("now"))
    )
    if for_member:
        mine = aliased(LiveRegistration)
        ahead = aliased(LiveRegistration)
        ahead_count = (
            select(func.count(ahead.id))
            .where(
                ahead.live_class_id == LiveClass.id,
                ahead.status == _WAITLISTED,
                ahead.waitlist_seq < mine.waitlist_seq,
            )
            .scalar_subquery()
        )
        query = query.add_columns(mine, ahead_count.label("ahead")).outerjoin(
            mine, and_(mine.live_class_id == LiveClass.id, mine.user_id == bindparam("user_id"))
        )
    if for_trainer:
        query = query.where(LiveClass.trainer_id == bindparam("trainer_id"))
    return query.order_by(*_ORDER).limit(bindparam("limit", type_=Integer))


async def upcoming(
    session: AsyncSession,
    *,
    now: datetime,
    user_id: int | None = None,
    trainer_id: int | None = None,
    limit: int = UPCOMING_LIMIT,
) -> list[LiveClassOut]:
    """The next scheduled or live (not yet ended) classes, soonest first: one statement, the
    same descriptions :func:`describe` builds (trainer and category joined in, the waitlist
    counted, and with ``user_id`` that member's registration and how many wait ahead)."""
    query = _upcoming_query(user_id is not None, trainer_id is not None)
    params: dict[str, Any] = {"now": now, "limit": limit}
    if user_id is not None:
        params["user_id"] = user_id
    if trainer_id is not None:
        params["trainer_id"] = trainer_id
    rows = await session.execute(query, params)
    out = []
    for row in rows:
        c: LiveClass = row[0]
        found_trainer = row.trainer_found is not None
        out.append(
            _class_out(
                c,
                trainer=LiveTrainerRef(
                    id=c.trainer_id,
                    name=row.trainer_name if found_trainer else None,
                    image_url=row.trainer_image if found_trainer else None,
                ),
                category=LiveCategoryRef(id=row.category_found, name=row.category_name)
                if row.category_found is not None
                else None,
                waitlist_count=row.waitlist_count or 0,
                registration=row[7] if user_id is not None else None,
                ahead=row.ahead or 0 if user_id is not None else 0,
            )
        )
    return out


# --- registering ------------------------------------------------------------------------------


def _open_for(now: datetime) -> ColumnElement[bool]:
    return and_(LiveClass.status.in_(OPEN_STATUSES), LiveClass.ends_at > now)


async def _my_registration(
    session: AsyncSession, class_id: int, user_id: int
) -> LiveRegistration | None:
    """The member's row for the class, read afresh (not from the identity map)."""
    found: LiveRegistration | None = await session.scalar(
        select(LiveRegistration)
        .where(LiveRegistration.live_class_id == class_id, LiveRegistration.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    return found


async def _registration_out(
    session: AsyncSession, live: LiveClass, registration: LiveRegistration
) -> RegistrationOut:
    waiting = (await _waitlist_counts(session, [live.id])).get(live.id, 0)
    position = None
    if registration.status == _WAITLISTED:
        ahead = await session.scalar(
            select(func.count(LiveRegistration.id)).where(
                LiveRegistration.live_class_id == live.id,
                LiveRegistration.status == _WAITLISTED,
                LiveRegistration.waitlist_seq < registration.waitlist_seq,
            )
        )
        position = (ahead or 0) + 1
    return RegistrationOut(
        live_class_id=live.id,
        status=registration.status,  # validated by the Literal
        waitlist_position=position,
        registered_at=registration.registered_at,
        promoted_at=registration.promoted_at,
        cancelled_at=registration.cancelled_at,
        spots_left=max(live.capacity - live.registered_count, 0),
        waitlist_count=waiting,
    )


def _closed(live: LiveClass, now: datetime) -> InvalidStateTransition:
    if live.status in OPEN_STATUSES:  # still open by status, but its time is over
        return InvalidStateTransition("This class is over; registration is closed")
    return InvalidStateTransition(f"A {live.status} class cannot be registered for")


async def _require_premium(session: AsyncSession, user_id: int, now: datetime) -> None:
    until = await session.scalar(select(User.premium_until).where(User.id == user_id))
    if until is None or until <= now:
        raise PremiumRequired("This is a premium class; premium access is required")


async def register(
    session: AsyncSession, user_id: int, class_id: int, now: datetime
) -> tuple[RegistrationOut, bool]:
    """A seat, else a place in the waitlist. Answers ``(registration, created)``; a member
    already registered or waiting gets their registration back with ``created`` False."""
    live = await _class(session, class_id)
    mine = await _my_registration(session, class_id, user_id)
    if mine is not None and mine.status in ACTIVE:
        return await _registration_out(session, live, mine), False
    if live.status not in OPEN_STATUSES or now >= live.ends_at:
        raise _closed(live, now)
    if live.is_premium:
        await _require_premium(session, user_id, now)

    seat = await session.scalar(
        update(LiveClass)
        .where(
            LiveClass.id == class_id,
            LiveClass.registered_count < LiveClass.capacity,
            _open_for(now),
        )
        .values(registered_count=LiveClass.registered_count + 1)
        .returning(LiveClass.registered_count)
        .execution_options(synchronize_session=False)
    )
    seq: int | None = None
    if seat is None:
        seq = await session.scalar(
            update(LiveClass)
            .where(
                LiveClass.id == class_id,
                LiveClass.status == LiveClassStatus.SCHEDULED.value,
                LiveClass.ends_at > now,
            )
            .values(waitlist_seq=LiveClass.waitlist_seq + 1)
            .returning(LiveClass.waitlist_seq)
            .execution_options(synchronize_session=False)
        )
        if seq is None:
            live = await _class(session, class_id)
            if live.status == LiveClassStatus.LIVE.value and now < live.ends_at:
                raise ClassFull("This class is in progress and full")
            raise _closed(live, now)

    # The class row is ours until commit: a concurrent request of the same member has either
    # committed (and is seen now) or waits behind us.
    mine = await _my_registration(session, class_id, user_id)
    if mine is not None and mine.status in ACTIVE:
        if seat is not None:  # give back the seat this request took
            await session.execute(
                update(LiveClass)
                .where(LiveClass.id == class_id)
                .values(registered_count=LiveClass.registered_count - 1)
                .execution_options(synchronize_session=False)
            )
        return await _registration_out(session, await _class(session, class_id), mine), False
    if mine is None:  # a member who unregistered before gets their row back
        mine = LiveRegistration(live_class_id=class_id, user_id=user_id)
        session.add(mine)
    mine.status = _REGISTERED if seat is not None else _WAITLISTED
    mine.waitlist_seq = seq
    mine.registered_at = now
    mine.promoted_at = None
    mine.cancelled_at = None
    await session.flush()
    return await _registration_out(session, await _class(session, class_id), mine), True


# --- unregistering and promotion --------------------------------------------------------------


async def promote_waiting(
    session: AsyncSession, mailer: Mailer, live: LiveClass, seats: int, now: datetime
) -> list[LiveRegistration]:
    """Give up to ``seats`` freed or new seats to the first members waiting, in queue order,
    and tell each by mail. The caller holds the class row's lock and adjusts its counter."""
    first = list(
        await session.scalars(
            select(LiveRegistration)
            .where(
                LiveRegistration.live_class_id == live.id, LiveRegistration.status == _WAITLISTED
            )
            .order_by(LiveRegistration.waitlist_seq.asc(), LiveRegistration.id.asc())
            .limit(max(seats, 0))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    for registration in first:
        registration.status = _REGISTERED
        registration.promoted_at = now
    await session.flush()
    for registration in first:
        await _mail_promotion(session, mailer, live, registration.user_id)
    return first


async def _mail_promotion(
    session: AsyncSession, mailer: Mailer, live: LiveClass, user_id: int
) -> None:
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        return
    zone = await user_zone(session, user_id)
    when = live.starts_at.astimezone(zone).strftime("%a %d %b %Y, %H:%M")
    lines = [
        f"Hello {user.name or ''}".rstrip() + ",",
        "",
        f"A seat came free in {live.title} on {when} ({zone.key}) and it is now yours.",
        "If you can no longer come, please unregister so the next person can take it.",
    ]
    await mailer.send(
        session,
        Mail(
            to=user.email,
            subject=f"You have a seat: {live.title} on {when}"[:255],
            body_text="\n".join(lines) + "\n",
            template="live_class_promoted",
        ),
    )


async def unregister(
    session: AsyncSession, mailer: Mailer, user_id: int, class_id: int, now: datetime
) -> RegistrationOut:
    """Give up a seat (it passes to the first waiting member, in this transaction) or a place
    in the waitlist. ``404`` when the member holds neither."""
    live = await _class(session, class_id, lock=True)
    mine = await _my_registration(session, class_id, user_id)
    if mine is None or mine.status not in ACTIVE:
        raise NotRegistered()
    if live.status not in OPEN_STATUSES or now >= live.ends_at:
        raise InvalidStateTransition(f"A {live.status} class can no longer be unregistered from")
    held_seat = mine.status == _REGISTERED
    mine.status = _CANCELLED
    mine.cancelled_at = now
    promoted: list[LiveRegistration] = []
    if held_seat:
        # A seat passes on only while seats are not over-booked (capacity may have shrunk).
        if live.registered_count <= live.capacity:
            promoted = await promote_waiting(session, mailer, live, 1, now)
        if not promoted:
            await session.execute(
                update(LiveClass)
                .where(LiveClass.id == class_id, LiveClass.registered_count > 0)
                .values(registered_count=LiveClass.registered_count - 1)
                .execution_options(synchronize_session=False)
            )
    await session.flush()
    return await _registration_out(session, await _class(session, class_id), mine)
