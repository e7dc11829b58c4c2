"""Live classes for the demo studio: a few a day over the coming two weeks, some with only a
handful of seats (so the waitlist can be tried at once), relative to the moment ``stvos demo``
runs.

Written as rows (client scope) after coach connect has given the trainers their time zones.
Each class is a weekly template read at its local wall time in the trainer's zone, so its
(trainer, title, start) is deterministic: a class that already exists is never made twice, a
re-run the same day adds nothing, and a run days later only tops the schedule up to two weeks
ahead. A slot that would overlap another scheduled or live class of the trainer (one somebody
scheduled by hand) is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.clock import utcnow
from stvos.kit.policy import ClientContext
from stvos.live.schedule import BUSY, local_instant, new_room_name
from stvos.models import Category, LiveClass, LiveClassStatus, Trainer
from stvos.trainers.calendar import trainer_zone

DAYS_AHEAD = 14


@dataclass(frozen=True)
class LiveTemplate:
    trainer: str
    title: str
    category: str  # slug
    weekdays: tuple[int, ...]  # 0 = Monday
    at: time  # local wall time in the trainer's zone
    minutes: int
    capacity: int
    intensity: str
    description: str
    is_premium: bool = False


WEEKDAYS = (0, 1, 2, 3, 4)
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)

TEMPLATES: tuple[LiveTemplate, ...] = (
    LiveTemplate(
        "Coach Maya",
        "Live Strength Circuit",
        "strength",
        (0, 2, 4),
        time(7, 30),
        45,
        20,
        "medium",
        "Full-body strength in three rounds; dumbbells or a loaded backpack.",
    ),
    LiveTemplate(
        "Coach Maya",
        "Mobility Reset (small group)",
        "mobility",
        (1, 3),
        time(12, 15),
        30,
        4,
        "low",
        "Four seats, cameras on: Maya corrects your form as you go.",
    ),
    LiveTemplate(
        "Leo Hart",
        "HIIT Express",
        "hiit",
        WEEKDAYS,
        time(12, 30),
        25,
        3,
        "high",
        "A lunch-break burner for three; expect a waitlist.",
    ),
    LiveTemplate(
        "Priya Nair",
        "Evening Flow",
        "yoga",
        (0, 2, 6),
        time(18, 30),
        60,
        25,
        "low",
        "Slow vinyasa to close the day, ending in a long savasana.",
    ),
    LiveTemplate(
        "Elena Ruiz",
        "Pilates Core Live",
        "pilates",
        (1, 3, 5),
        time(17, 0),
        45,
        5,
        "medium",
        "Small-group mat Pilates, five seats.",
        is_premium=True,
    ),
    LiveTemplate(
        "Tom Becker",
        "Sunrise Ride",
        "cycling",
        EVERY_DAY,
        time(6, 30),
        40,
        30,
        "high",
        "Forty minutes to the beat before breakfast.",
    ),
    LiveTemplate(
        "Sam Okafor",
        "Ring Conditioning",
        "boxing",
        (1, 4),
        time(19, 0),  # New York wall time
        40,
        12,
        "high",
        "Footwork, combinations and core, straight from the Brooklyn club.",
    ),
)


async def ensure_demo_live_classes(
    session: AsyncSession, client: ClientContext, now: datetime | None = None
) -> int:
    """Top the demo schedule up to ``DAYS_AHEAD`` days from ``now``; answers how many live
    classes the studio has in all."""
    now = now or utcnow()
    horizon = now + timedelta(days=DAYS_AHEAD)
    names = sorted({t.trainer for t in TEMPLATES})
    trainers = {
        t.name: t for t in await session.scalars(select(Trainer).where(Trainer.name.in_(names)))
    }
    categories = {
        slug: key for key, slug in await session.execute(select(Category.id, Category.slug))
    }
    busy = (
        await session.execute(
            select(
                LiveClass.trainer_id, LiveClass.title, LiveClass.starts_at, LiveClass.ends_at
            ).where(
                LiveClass.trainer_id.in_([t.id for t in trainers.values()]),
                LiveClass.ends_at > now,
                LiveClass.starts_at < horizon + timedelta(days=1),
            )
        )
    ).all()
    taken = {(row.trainer_id, row.title, row.starts_at) for row in busy}
    occupied = [
        (row.trainer_id, row.starts_at, row.ends_at)
        for row in (
            await session.execute(
                select(LiveClass.trainer_id, LiveClass.starts_at, LiveClass.ends_at).where(
                    LiveClass.trainer_id.in_([t.id for t in trainers.values()]),
                    LiveClass.status.in_(BUSY),
                    LiveClass.ends_at > now,
                )
            )
        ).all()
    ]
    for template in TEMPLATES:
        trainer = trainers.get(template.trainer)
        if trainer is None:
            continue
        zone = trainer_zone(trainer, client)
        today = now.astimezone(zone).date()
        for offset in range(DAYS_AHEAD + 1):
            day = today + timedelta(days=offset)
            if day.weekday() not in template.weekdays:
                continue
            starts_at = local_instant(day, template.at, zone)
            ends_at = starts_at + timedelta(minutes=template.minutes)
            if not now < starts_at <= horizon or (trainer.id, template.title, starts_at) in taken:
                continue
            if any(t == trainer.id and s < ends_at and starts_at < e for t, s, e in occupied):
                continue
            session.add(
                LiveClass(
                    trainer_id=trainer.id,
                    category_id=categories.get(template.category),
                    title=template.title,
                    description=template.description,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    duration_minutes=template.minutes,
                    capacity=template.capacity,
                    intensity=template.intensity,
                    is_premium=template.is_premium,
                    status=LiveClassStatus.SCHEDULED.value,
                    registered_count=0,
                    waitlist_seq=0,
                    room_name=new_room_name(),
                )
            )
            taken.add((trainer.id, template.title, starts_at))
            occupied.append((trainer.id, starts_at, ends_at))
    await session.flush()
    return await session.scalar(select(func.count(LiveClass.id))) or 0
