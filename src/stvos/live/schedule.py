"""The live class schedule: one-off classes and weekly series, the class state machine, edits
and cancellation.

States: ``scheduled -> live -> ended`` and ``scheduled -> cancelled``; nothing else
(:func:`check_transition`). A status change is a conditional update (``... WHERE status = 'from'``)
so two requests racing (a trainer starting a class while staff cancel it) cannot both win.

Scheduling locks the trainer row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write
transactions are serial), then refuses a class that overlaps another scheduled or live class of
the same trainer: two concurrent requests cannot both book one trainer for the same hour.

A series is expanded at once, in one transaction, into dated classes at the chosen local wall
time in the trainer's zone (their own, else the studio's), so 07:00 stays 07:00 local across a
daylight-saving change. Edits of a class touch only that class.

Changing a class's capacity locks its row (the same row every seat-taking ``UPDATE`` touches):
it cannot go below the members registered, and a raise gives the new seats to the waitlist in
FIFO order at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.integrations.mail import Mail, Mailer
from stvos.kit.errors import Conflict, InvalidStateTransition, invalid_field
from stvos.kit.paging import fetch_page
from stvos.kit.policy import Caller, ClientContext
from stvos.kit.schemas import PageParams
from stvos.kit.zones import zone_named
from stvos.live import seats
from stvos.live.errors import CapacityBelowRegistered, LiveClassNotFound, TrainerBusy
from stvos.live.schedule_schemas import (
    ClassFields,
    LiveClassPatch,
    LiveStatusName,
    SeriesIn,
)
from stvos.models import (
    Category,
    Client,
    LiveClass,
    LiveClassSeries,
    LiveClassStatus,
    LiveRegistration,
    Role,
    Trainer,
    User,
)
from stvos.models.live import RegistrationStatus
from stvos.trainers.calendar import trainer_zone
from stvos.trainers.portal import my_trainer
from stvos.trainers.portal_schemas import WEEKDAYS, hhmm

# Legal moves of a class's status; everything else is INVALID_STATE_TRANSITION.
TRANSITIONS: dict[LiveClassStatus, frozenset[LiveClassStatus]] = {
    LiveClassStatus.SCHEDULED: frozenset({LiveClassStatus.LIVE, LiveClassStatus.CANCELLED}),
    LiveClassStatus.LIVE: frozenset({LiveClassStatus.ENDED}),
    LiveClassStatus.ENDED: frozenset(),
    LiveClassStatus.CANCELLED: frozenset(),
}
# Classes that occupy their trainer (for the overlap rule).
BUSY = (LiveClassStatus.SCHEDULED.value, LiveClassStatus.LIVE.value)
MAX_SERIES_CLASSES = 200
SERIES_MONTHS_AHEAD = 6
MAX_DAYS_AHEAD = 366  # a one-off class further out is a data-entry mistake
SEATED = (RegistrationStatus.REGISTERED.value, RegistrationStatus.WAITLISTED.value)


def new_room_name() -> str:
    """An opaque, unguessable LiveKit room name, fixed when the class is scheduled."""
    return "lc_" + secrets.token_urlsafe(12)


# --- the state machine ------------------------------------------------------------------------


def check_transition(live_class: LiveClass, to: LiveClassStatus) -> None:
    """Raise ``INVALID_STATE_TRANSITION`` unless ``live_class`` may move to ``to``."""
    current = LiveClassStatus(live_class.status)
    if to not in TRANSITIONS[current]:
        raise InvalidStateTransition(
            f"A {current.value} class cannot become {to.value}",
            details={"status": current.value, "to": to.value},
        )


async def move_to(
    session: AsyncSession, live_class: LiveClass, to: LiveClassStatus, **values: Any
) -> None:
    """Change the status (and ``values``) only if it is still what ``live_class`` says: a
    conditional update, so a concurrent change makes this one ``INVALID_STATE_TRANSITION``."""
    check_transition(live_class, to)
    moved = await session.scalar(
        update(LiveClass)
        .where(LiveClass.id == live_class.id, LiveClass.status == live_class.status)
        .values(status=to.value, **values)
        .returning(LiveClass.id)
        .execution_options(synchronize_session=False)
    )
    if moved is None:
        await session.refresh(live_class)
        check_transition(live_class, to)  # raises: someone else moved it first
        raise InvalidStateTransition()  # pragma: no cover - the check above always raises
    await session.refresh(live_class)


# --- finding classes --------------------------------------------------------------------------


def _one(class_id: int, *, lock: bool) -> Select[LiveClass]:
    query = select(LiveClass).where(LiveClass.id == class_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return query


async def get_class(session: AsyncSession, class_id: int, *, lock: bool = False) -> LiveClass:
    """Any class of the caller's client (studio staff)."""
    live = await session.scalar(_one(class_id, lock=lock))
    if live is None:
        raise LiveClassNotFound()
    return live


async def class_for_trainer(
    session: AsyncSession, caller: Caller, class_id: int, *, lock: bool = False
) -> LiveClass:
    """The class if the caller is studio staff or the class's own trainer; else 404 (and 403
    FORBIDDEN for a trainer login the studio has not linked to a profile)."""
    if caller.role == Role.CLIENT_ADMIN.value:
        return await get_class(session, class_id, lock=lock)
    trainer = await my_trainer(session, caller.require_user_id())
    live = await session.scalar(_one(class_id, lock=lock).where(LiveClass.trainer_id == trainer.id))
    if live is None:
        raise LiveClassNotFound()
    return live


async def list_classes(
    session: AsyncSession,
    paging: PageParams,
    *,
    trainer_id: int | None = None,
    status: LiveStatusName | None = None,
    starts_from: datetime | None = None,
    starts_before: datetime | None = None,
) -> tuple[list[LiveClass], int]:
    """Classes by start (then id), filtered; ``starts_from <= startsAt < starts_before``."""
    query = select(LiveClass)
    if trainer_id is not None:
        query = query.where(LiveClass.trainer_id == trainer_id)
    if status is not None:
        query = query.where(LiveClass.status == status)
    if starts_from is not None:
        query = query.where(LiveClass.starts_at >= starts_from)
    if starts_before is not None:
        query = query.where(LiveClass.starts_at < starts_before)
    return await fetch_page(session, query, paging, LiveClass.starts_at, LiveClass.id)


# --- references -------------------------------------------------------------------------------


async def trainer_for_schedule(
    session: AsyncSession, trainer_id: int, *, field: str = "trainerId"
) -> Trainer:
    """The studio's active trainer ``trainer_id``, locked (400 when there is none)."""
    trainer = await session.scalar(
        select(Trainer)
        .where(Trainer.id == trainer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if trainer is None:
        raise invalid_field(field, "No such trainer in this app")
    if not trainer.is_active:
        raise invalid_field(field, "This trainer is not active")
    return trainer


async def _lock_trainer(session: AsyncSession, trainer_id: int) -> None:
    await session.execute(select(Trainer.id).where(Trainer.id == trainer_id).with_for_update())


async def _check_category(session: AsyncSession, category_id: int | None) -> None:
    if category_id is None:
        return
    found = await session.scalar(select(Category.id).where(Category.id == category_id))
    if found is None:
        raise invalid_field("categoryId", "No such category in this app")


async def _check_trainer_free(
    session: AsyncSession,
    trainer_id: int,
    spans: Sequence[tuple[datetime, datetime]],
    *,
    but: int | None = None,
) -> None:
    """409 when any span overlaps another scheduled or live class of the trainer (touching is
    fine). One query over the whole range; the caller holds the trainer's lock."""
    if not spans:
        return
    low = min(start for start, _ in spans)
    high = max(end for _, end in spans)
    query = select(LiveClass.id, LiveClass.title, LiveClass.starts_at, LiveClass.ends_at).where(
        LiveClass.trainer_id == trainer_id,
        LiveClass.status.in_(BUSY),
        LiveClass.starts_at < high,
        LiveClass.ends_at > low,
    )
    if but is not None:
        query = query.where(LiveClass.id != but)
    taken = (await session.execute(query)).all()
    clashes = []
    for row in taken:
        if any(start < row.ends_at and row.starts_at < end for start, end in spans):
            clashes.append(
                {
                    "id": row.id,
                    "title": row.title,
                    "startsAt": row.starts_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                    "endsAt": row.ends_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                }
            )
    if clashes:
        raise TrainerBusy(details={"conflicts": clashes[:20]})


# --- scheduling -------------------------------------------------------------------------------


def local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local ``wall`` on ``day`` (RFC 5545 rules): a time in a
    spring-forward gap is read with the offset before the gap, so it lands after the gap
    (01:30 on a 01:00 -> 02:00 change is 02:30); a repeated time is its first occurrence."""
    return datetime.combine(day, wall).replace(tzinfo=zone, fold=0).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has no such day)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def expand_series(series: SeriesIn, zone: ZoneInfo, now: datetime) -> list[datetime]:
    """The starts (UTC) of a series: every chosen weekday in range, past ones left out.

    Raises 400 for a range that starts in the past, ends too far ahead, is empty, or is too
    long."""
    today = now.astimezone(zone).date()
    if series.starts_on < today:
        raise invalid_field("series.startsOn", "must not be in the past")
    last = add_months(today, SERIES_MONTHS_AHEAD)
    if series.until > last:
        raise invalid_field("series.until", f"must be at most {SERIES_MONTHS_AHEAD} months ahead")
    chosen = set(series.weekdays)
    starts: list[datetime] = []
    day = series.starts_on
    while day <= series.until:
        if day.weekday() in chosen:
            start = local_instant(day, series.local_time, zone)
            if start > now:
                starts.append(start)
        day += timedelta(days=1)
    if not starts:
        raise invalid_field("series", "has no dates in the future")
    if len(starts) > MAX_SERIES_CLASSES:
        raise invalid_field("series", f"would make more than {MAX_SERIES_CLASSES} classes")
    return starts


def _check_one_off(starts_at: datetime, now: datetime, field: str = "startsAt") -> datetime:
    start = starts_at.astimezone(UTC).replace(microsecond=0)
    if start <= now:
        raise invalid_field(field, "must be in the future")
    if start > now + timedelta(days=MAX_DAYS_AHEAD):
        raise invalid_field(field, f"must be within {MAX_DAYS_AHEAD} days")
    return start


async def schedule(
    session: AsyncSession,
    client: ClientContext,
    trainer: Trainer,
    body: ClassFields,
    *,
    created_by: int | None,
    now: datetime,
) -> tuple[LiveClassSeries | None, list[LiveClass]]:
    """Schedule one class or a whole series for ``trainer`` (locked by the caller)."""
    await _check_category(session, body.category_id)
    zone = trainer_zone(trainer, client)
    series_row: LiveClassSeries | None = None
    if body.series is not None:
        starts = expand_series(body.series, zone, now)
    else:
        assert body.starts_at is not None  # the schema asks for exactly one
        starts = [_check_one_off(body.starts_at, now)]
    length = timedelta(minutes=body.duration_minutes)
    await _check_trainer_free(session, trainer.id, [(s, s + length) for s in starts])
    if body.series is not None:
        series_row = LiveClassSeries(
            trainer_id=trainer.id,
            category_id=body.category_id,
            title=body.title,
            description=body.description,
            weekdays=list(body.series.weekdays),
            local_start_time=body.series.local_time,
            time_zone=zone.key,
            starts_on=body.series.starts_on,
            until=body.series.until,
            duration_minutes=body.duration_minutes,
            capacity=body.capacity,
            intensity=body.intensity,
            is_premium=body.is_premium,
            created_by_user_id=created_by,
        )
        session.add(series_row)
        await session.flush()
    classes = [
        LiveClass(
            series_id=series_row.id if series_row else None,
            trainer_id=trainer.id,
            category_id=body.category_id,
            title=body.title,
            description=body.description,
            starts_at=start,
            ends_at=start + length,
            duration_minutes=body.duration_minutes,
            capacity=body.capacity,
            intensity=body.intensity,
            is_premium=body.is_premium,
            status=LiveClassStatus.SCHEDULED.value,
            registered_count=0,
            waitlist_seq=0,
            room_name=new_room_name(),
        )
        for start in starts
    ]
    session.add_all(classes)
    await session.flush()
    return series_row, classes


# --- edits ------------------------------------------------------------------------------------


async def update_class(
    session: AsyncSession,
    mailer: Mailer,
    client: ClientContext,
    live: LiveClass,
    body: LiveClassPatch,
    *,
    now: datetime,
) -> LiveClass:
    """Change a scheduled class (``live`` was loaded with its row locked)."""
    if live.status != LiveClassStatus.SCHEDULED.value:
        raise InvalidStateTransition(
            f"Only a scheduled class can be changed; this one is {live.status}",
            details={"status": live.status},
        )
    sent = body.model_fields_set
    if "category_id" in sent:
        await _check_category(session, body.category_id)
        live.category_id = body.category_id
    if "title" in sent and body.title is not None:
        live.title = body.title
    if "description" in sent:
        live.description = body.description
    if "intensity" in sent:
        live.intensity = body.intensity
    if "is_premium" in sent and body.is_premium is not None:
        live.is_premium = body.is_premium
    if "starts_at" in sent or "duration_minutes" in sent:
        starts_at = live.starts_at
        if body.starts_at is not None:
            starts_at = _check_one_off(body.starts_at, now)
        minutes = body.duration_minutes or live.duration_minutes
        ends_at = starts_at + timedelta(minutes=minutes)
        await _lock_trainer(session, live.trainer_id)
        await _check_trainer_free(session, live.trainer_id, [(starts_at, ends_at)], but=live.id)
        live.starts_at, live.ends_at, live.duration_minutes = starts_at, ends_at, minutes
    if "capacity" in sent and body.capacity is not None:
        if body.capacity < live.registered_count:
            raise CapacityBelowRegistered(
                f"{live.registered_count} members are registered; the capacity cannot be lower",
                details={"registeredCount": live.registered_count},
            )
        live.capacity = body.capacity
        if live.capacity > live.registered_count:
            free = live.capacity - live.registered_count
            live.registered_count += len(
                await seats.promote_waiting(session, mailer, live, free, now)
            )
    await session.flush()
    await session.refresh(live)
    return live


async def delete_class(session: AsyncSession, live: LiveClass) -> None:
    """Delete a scheduled class nobody ever registered for (else: cancel it)."""
    if live.status != LiveClassStatus.SCHEDULED.value:
        raise InvalidStateTransition(
            f"Only a scheduled class can be deleted; this one is {live.status}",
            details={"status": live.status},
        )
    anyone = await session.scalar(
        select(LiveRegistration.id).where(LiveRegistration.live_class_id == live.id).limit(1)
    )
    if anyone is not None:
        raise Conflict("Members registered for this class: cancel it instead, so they are told")
    await session.execute(
        delete(LiveClass)
        .where(LiveClass.id == live.id)
        .execution_options(synchronize_session=False)
    )
    session.expunge(live)


# --- cancellation -----------------------------------------------------------------------------


def _member_zone(profile: dict[str, Any] | None, client_zone: str | None) -> ZoneInfo:
    wanted = (profile or {}).get("time_zone")
    return (
        zone_named(wanted if isinstance(wanted, str) else None)
        or zone_named(client_zone)
        or ZoneInfo("UTC")
    )


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone).strftime('%a %d %b %Y, %H:%M')} ({zone.key})"


async def cancel_class(
    session: AsyncSession,
    mailer: Mailer,
    live: LiveClass,
    *,
    reason: str,
    now: datetime,
) -> int:
    """Cancel a scheduled class: every seat and waitlist place is cancelled and each of those
    members is mailed (the outbox, in this transaction). Answers how many were mailed."""
    await move_to(
        session,
        live,
        LiveClassStatus.CANCELLED,
        cancelled_at=now,
        cancel_reason=reason,
        registered_count=0,
        updated_at=now,
    )
    rows = (
        await session.execute(
            select(LiveRegistration, User.email, User.name, User.profile, Client.time_zone)
            .join(User, User.id == LiveRegistration.user_id)
            .join(Client, Client.id == LiveRegistration.client_id)
            .where(
                LiveRegistration.live_class_id == live.id,
                LiveRegistration.status.in_(SEATED),
            )
            .order_by(LiveRegistration.id)
        )
    ).all()
    trainer_name = await session.scalar(select(Trainer.name).where(Trainer.id == live.trainer_id))
    notified = 0
    for registration, email, name, profile, client_zone in rows:
        was_waiting = registration.status == RegistrationStatus.WAITLISTED.value
        registration.status = RegistrationStatus.CANCELLED.value
        registration.cancelled_at = now
        if not email:
            continue
        when = local_text(live.starts_at, _member_zone(profile, client_zone))
        lines = [
            f"Hello {name or email},",
            "",
            f"The live class {live.title!r} with {trainer_name} on {when} has been cancelled.",
            f"Reason: {reason}",
        ]
        if was_waiting:
            lines.append("You were on its waitlist; your place has been released.")
        else:
            lines.append("Your seat has been released; nothing more is needed from you.")
        lines.append("Other live classes are in the app's schedule.")
        await mailer.send(
            session,
            Mail(
                to=email,
                subject=f"Cancelled: {live.title} on {when}"[:255],
                body_text="\n".join(lines) + "\n",
                template="live_class_cancelled",
            ),
        )
        notified += 1
    await session.flush()
    return notified


# --- answers ----------------------------------------------------------------------------------


async def class_views(
    session: AsyncSession, client: ClientContext, classes: Sequence[LiveClass]
) -> list[dict[str, Any]]:
    """The answer shape of ``classes``: three queries whatever their number."""
    if not classes:
        return []
    trainer_ids = {c.trainer_id for c in classes}
    category_ids = {c.category_id for c in classes if c.category_id is not None}
    trainers = {
        t.id: t for t in await session.scalars(select(Trainer).where(Trainer.id.in_(trainer_ids)))
    }
    categories: dict[int, str] = {}
    if category_ids:
        rows = await session.execute(
            select(Category.id, Category.name).where(Category.id.in_(category_ids))
        )
        categories = {key: name for key, name in rows}
    waiting: dict[int, int] = dict(
        (
            await session.execute(
                select(LiveRegistration.live_class_id, func.count(LiveRegistration.id))
                .where(
                    LiveRegistration.live_class_id.in_([c.id for c in classes]),
                    LiveRegistration.status == RegistrationStatus.WAITLISTED.value,
                )
                .group_by(LiveRegistration.live_class_id)
            )
        ).all()
    )
    views = []
    for live in classes:
        trainer = trainers[live.trainer_id]
        zone = trainer_zone(trainer, client)
        category_name = categories.get(live.category_id) if live.category_id else None
        views.append(
            {
                "id": live.id,
                "series_id": live.series_id,
                "title": live.title,
                "description": live.description,
                "trainer": {"id": trainer.id, "name": trainer.name, "image_url": trainer.image_url},
                "category": (
                    {"id": live.category_id, "name": category_name}
                    if category_name is not None
                    else None
                ),
                "starts_at": live.starts_at,
                "ends_at": live.ends_at,
                "duration_minutes": live.duration_minutes,
                "time_zone": zone.key,
                "local_start": live.starts_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
                "capacity": live.capacity,
                "registered_count": live.registered_count,
                "spots_left": max(live.capacity - live.registered_count, 0),
                "waitlist_count": waiting.get(live.id, 0),
                "intensity": live.intensity,
                "is_premium": live.is_premium,
                "status": live.status,
                "started_at": live.started_at,
                "ended_at": live.ended_at,
                "cancelled_at": live.cancelled_at,
                "cancel_reason": live.cancel_reason,
                "created_at": live.created_at,
                "updated_at": live.updated_at,
            }
        )
    return views


def series_view(series: LiveClassSeries) -> dict[str, Any]:
    return {
        "id": series.id,
        "weekdays": list(series.weekdays),
        "days": [WEEKDAYS[day] for day in series.weekdays],
        "local_time": hhmm(series.local_start_time),
        "time_zone": series.time_zone,
        "starts_on": series.starts_on,
        "until": series.until,
    }
