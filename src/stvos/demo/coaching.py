"""Coach connect for the demo studio: every demo trainer gets specialisations, certifications,
a time zone, one to three bookable services and weekly hours.

Written as rows directly (client scope), after the library has made the trainers. Idempotent:
a trainer's profile fields are filled only while it has no specialisations yet, services are
looked up by (trainer, name), and weekly hours are written only for a trainer with none; so a
second run adds nothing and never overwrites what someone changed in the portal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.models import AvailabilityRule, Trainer, TrainerService, TrainerSpecialisation
from stvos.trainers.catalog_schemas import slugify

# (weekday 0 = Monday, "HH:MM", "HH:MM") in the trainer's own zone.
Hours = tuple[tuple[int, str, str], ...]

WEEKDAYS_SPLIT: Hours = (
    *((day, "07:00", "12:00") for day in range(5)),
    *((day, "16:00", "20:00") for day in range(5)),
    (5, "09:00", "13:00"),
)
MORNINGS: Hours = (*((day, "06:30", "11:30") for day in range(6)),)
AFTERNOONS: Hours = (
    *((day, "12:00", "19:00") for day in (0, 1, 2, 3)),
    (6, "10:00", "14:00"),
)

VIDEO_PT = {
    "name": "1:1 Video PT",
    "description": "A 45-minute personal training session over video, planned around you.",
    "duration_minutes": 45,
    "price_minor": 4000,
    "buffer_after_minutes": 15,
    "min_notice_minutes": 12 * 60,
    "max_days_ahead": 60,
    "cancellation_window_hours": 24,
}
CHECK_IN = {
    "name": "Mobility check-in",
    "description": "30 minutes on video: assess, then a routine for the week ahead.",
    "duration_minutes": 30,
    "price_minor": 2500,
    "buffer_after_minutes": 10,
    "min_notice_minutes": 4 * 60,
    "max_days_ahead": 30,
    "cancellation_window_hours": 12,
}


def _in_person(name: str, location: str, price_minor: int) -> dict[str, Any]:
    return {
        "name": name,
        "description": "One hour in person; bring water and a towel.",
        "duration_minutes": 60,
        "price_minor": price_minor,
        "mode": "in_person",
        "location": location,
        "buffer_before_minutes": 15,
        "buffer_after_minutes": 15,
        "min_notice_minutes": 24 * 60,
        "max_days_ahead": 45,
        "cancellation_window_hours": 48,
    }


@dataclass(frozen=True)
class CoachPlan:
    specialisations: tuple[str, ...]
    certifications: tuple[dict[str, Any], ...]
    time_zone: str
    services: tuple[dict[str, Any], ...]
    hours: Hours


STUDIO = "Pulse Demo Studio, 1 Harbour Street, London"

PLANS: dict[str, CoachPlan] = {
    "Coach Maya": CoachPlan(
        ("Strength", "Mobility", "Pre & Post Natal"),
        (
            {"name": "Level 3 Personal Trainer", "issuer": "Active IQ", "year": 2017},
            {"name": "Pre & Post Natal Exercise", "issuer": "Burrell Education", "year": 2020},
        ),
        "Europe/London",
        (VIDEO_PT, CHECK_IN, _in_person("Studio PT", STUDIO, 5500)),
        WEEKDAYS_SPLIT,
    ),
    "Leo Hart": CoachPlan(
        ("HIIT", "Running"),
        ({"name": "Level 3 Personal Trainer", "issuer": "YMCA Awards", "year": 2018},),
        "Europe/London",
        (VIDEO_PT, {**CHECK_IN, "name": "Run technique review", "price_minor": 3000}),
        MORNINGS,
    ),
    "Priya Nair": CoachPlan(
        ("Yoga", "Meditation"),
        ({"name": "E-RYT 500", "issuer": "Yoga Alliance", "year": 2016},),
        "Europe/London",
        (
            {
                **VIDEO_PT,
                "name": "Private yoga (video)",
                "duration_minutes": 60,
                "price_minor": 4500,
            },
        ),
        AFTERNOONS,
    ),
    "Sam Okafor": CoachPlan(
        ("Boxing", "Conditioning"),
        (
            {"name": "Boxing Coach Level 2", "issuer": "USA Boxing", "year": 2015},
            {"name": "CPR/AED", "issuer": "American Red Cross", "year": 2025},
        ),
        "America/New_York",  # coaches from Brooklyn: his hours are New York wall time
        (
            {**VIDEO_PT, "name": "1:1 Pad work (video)", "price_minor": 4500},
            _in_person("Ring session", "Okafor Boxing Club, Brooklyn, NY", 7000),
        ),
        WEEKDAYS_SPLIT,
    ),
    "Elena Ruiz": CoachPlan(
        ("Pilates", "Barre"),
        ({"name": "Comprehensive Pilates Teacher", "issuer": "STOTT PILATES", "year": 2019},),
        "Europe/London",
        (
            {**VIDEO_PT, "name": "Private Pilates (video)", "price_minor": 4200},
            {**CHECK_IN, "name": "Posture check-in"},
        ),
        AFTERNOONS,
    ),
    "Tom Becker": CoachPlan(
        ("Cycling", "Endurance"),
        ({"name": "Indoor Cycling Instructor", "issuer": "Schwinn", "year": 2021},),
        "Europe/London",
        ({**CHECK_IN, "name": "Ride plan check-in", "price_minor": 2000},),
        MORNINGS,
    ),
}


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


async def _profile(session: AsyncSession, trainer: Trainer, plan: CoachPlan) -> None:
    has_any = await session.scalar(
        select(TrainerSpecialisation.id).where(TrainerSpecialisation.trainer_id == trainer.id)
    )
    if has_any is not None:
        return
    for name in plan.specialisations:
        session.add(TrainerSpecialisation(trainer_id=trainer.id, slug=slugify(name), name=name))
    if not trainer.certifications:
        trainer.certifications = [dict(c) for c in plan.certifications]
    if trainer.time_zone is None:
        trainer.time_zone = plan.time_zone


async def _services(session: AsyncSession, trainer: Trainer, plan: CoachPlan) -> None:
    have = set(
        await session.scalars(
            select(TrainerService.name).where(TrainerService.trainer_id == trainer.id)
        )
    )
    for spec in plan.services:
        if spec["name"] not in have:
            session.add(TrainerService(trainer_id=trainer.id, **spec))


async def _hours(session: AsyncSession, trainer: Trainer, plan: CoachPlan) -> None:
    has_any = await session.scalar(
        select(AvailabilityRule.id).where(AvailabilityRule.trainer_id == trainer.id).limit(1)
    )
    if has_any is not None:
        return
    for weekday, start, end in plan.hours:
        session.add(
            AvailabilityRule(
                trainer_id=trainer.id,
                weekday=weekday,
                start_time=_hhmm(start),
                end_time=_hhmm(end),
            )
        )


async def ensure_demo_coaching(session: AsyncSession) -> dict[str, int]:
    """Give the demo trainers (made by the library) their coach connect data; the counts."""
    trainers = list(await session.scalars(select(Trainer).where(Trainer.name.in_(list(PLANS)))))
    for trainer in trainers:
        plan = PLANS[trainer.name]
        await _profile(session, trainer, plan)
        await _services(session, trainer, plan)
        await _hours(session, trainer, plan)
    await session.flush()
    return {
        "services": await session.scalar(select(func.count(TrainerService.id))) or 0,
        "availabilityRules": await session.scalar(select(func.count(AvailabilityRule.id))) or 0,
        "trainersWithServices": await session.scalar(
            select(func.count(func.distinct(TrainerService.trainer_id)))
        )
        or 0,
    }
