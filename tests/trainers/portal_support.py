"""Test helpers of the trainer portal and video joins: trainers with a profile and services,
and bookings written as rows (so these tests do not depend on the member booking endpoint)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Booking, Trainer, TrainerService
from tests.support.factories import TestClient, TestUser, make_user


@dataclass(frozen=True)
class Coach:
    """A signed-in trainer with a profile, a video service and an in-person service."""

    user: TestUser
    trainer_id: int
    video_service_id: int
    in_person_service_id: int

    @property
    def headers(self) -> dict[str, str]:
        return self.user.headers


async def make_coach(
    http: httpx.AsyncClient,
    db: Database,
    client: TestClient,
    email: str,
    *,
    name: str = "Tina Trainer",
    time_zone: str | None = None,
) -> Coach:
    user = await make_user(http, db, client, email, role="trainer", name=name)
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        trainer = Trainer(user_id=user.id, name=name, time_zone=time_zone, certifications=[])
        session.add(trainer)
        await session.flush()
        video = TrainerService(
            trainer_id=trainer.id,
            name="Video PT",
            duration_minutes=60,
            price_minor=4500,
            currency="GBP",
            mode="video",
            buffer_before_minutes=0,
            buffer_after_minutes=15,
            min_notice_minutes=0,
            max_days_ahead=60,
            cancellation_window_hours=24,
        )
        studio = TrainerService(
            trainer_id=trainer.id,
            name="Studio PT",
            duration_minutes=60,
            price_minor=6000,
            currency="GBP",
            mode="in_person",
            location="Studio 1",
            buffer_before_minutes=0,
            buffer_after_minutes=0,
            min_notice_minutes=0,
            max_days_ahead=60,
            cancellation_window_hours=24,
        )
        session.add_all([video, studio])
        await session.flush()
        return Coach(user, trainer.id, video.id, studio.id)


async def add_booking(
    db: Database,
    client: TestClient,
    coach: Coach,
    user_id: int,
    starts_at: datetime,
    *,
    minutes: int = 60,
    status: str = "confirmed",
    in_person: bool = False,
    **fields: Any,
) -> int:
    """A booking row as the booking engine writes it (buffers: 15 minutes after, video)."""
    ends_at = starts_at + timedelta(minutes=minutes)
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        booking = Booking(
            trainer_id=coach.trainer_id,
            service_id=coach.in_person_service_id if in_person else coach.video_service_id,
            user_id=user_id,
            status=status,
            starts_at=starts_at,
            ends_at=ends_at,
            blocked_from=starts_at,
            blocked_until=ends_at + timedelta(minutes=0 if in_person else 15),
            service_name="Studio PT" if in_person else "Video PT",
            mode="in_person" if in_person else "video",
            price_minor=6000 if in_person else 4500,
            currency="GBP",
            cancellation_window_hours=24,
            room_name="",
            **fields,
        )
        session.add(booking)
        await session.flush()
        if not booking.room_name:
            booking.room_name = f"booking-{client.id}-{booking.id}"
            await session.flush()
        return booking.id


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["code"] == code, body
    return body


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]
