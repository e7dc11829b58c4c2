"""Trainers: profiles, specialisations, bookable services, availability and 1-on-1 bookings.

Availability is kept as the trainer keeps it: weekly rules in local wall time of the trainer's
IANA zone, date overrides (that day's hours replaced, or an empty list: blocked) and time-off
ranges in UTC. Slots are computed from these, never stored.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from stvos.kit.orm import (
    Base,
    BigId,
    IdMixin,
    TenantOwned,
    TimestampMixin,
    tenant_key,
    tenant_reference,
)


class Trainer(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "trainers"
    __table_args__ = (
        tenant_key("trainers"),
        # The use_alter breaks the users <-> trainers cycle when creating tables.
        tenant_reference("user_id", "users", use_alter=True),
        Index("ix_trainers_client_id_is_active", "client_id", "is_active"),
    )

    # The trainer's own login, once they accepted an invite.
    user_id: Mapped[int | None] = mapped_column(BigId, unique=True)
    name: Mapped[str] = mapped_column(String(120))
    bio: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2048))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # [{"name": ..., "issuer": ..., "year": ...}]: shown, not filtered.
    certifications: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # IANA zone of the weekly rules; None: the client's zone.
    time_zone: Mapped[str | None] = mapped_column(String(64))


class TrainerSpecialisation(IdMixin, TenantOwned, Base):
    """One specialisation of a trainer (a row each, so ``?specialisation=`` is an index hit)."""

    __tablename__ = "trainer_specialisations"
    __table_args__ = (
        tenant_reference("trainer_id", "trainers", ondelete="CASCADE"),
        UniqueConstraint("client_id", "trainer_id", "slug"),
        Index("ix_trainer_specialisations_client_id_slug", "client_id", "slug"),
    )

    trainer_id: Mapped[int] = mapped_column(BigId)
    slug: Mapped[str] = mapped_column(String(60))  # lower-case, hyphenated: the filter key
    name: Mapped[str] = mapped_column(String(60))  # as the studio wrote it


class ServiceMode(StrEnum):
    VIDEO = "video"
    IN_PERSON = "in_person"


class TrainerService(IdMixin, TimestampMixin, TenantOwned, Base):
    """Something bookable with a trainer: a 45-minute video session, a 60-minute PT slot."""

    __tablename__ = "trainer_services"
    __table_args__ = (
        tenant_key("trainer_services"),
        tenant_reference("trainer_id", "trainers", ondelete="CASCADE"),
        Index("ix_trainer_services_client_id_trainer_id", "client_id", "trainer_id"),
    )

    trainer_id: Mapped[int] = mapped_column(BigId)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    price_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    mode: Mapped[str] = mapped_column(String(16), default=ServiceMode.VIDEO.value)
    location: Mapped[str | None] = mapped_column(String(300))  # for in-person services
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=120)
    max_days_ahead: Mapped[int] = mapped_column(Integer, default=60)
    cancellation_window_hours: Mapped[int] = mapped_column(Integer, default=24)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class AvailabilityRule(IdMixin, TenantOwned, Base):
    """Weekly hours: on ``weekday`` (0 = Monday) from ``start_time`` to ``end_time``, local."""

    __tablename__ = "trainer_availability_rules"
    __table_args__ = (
        tenant_reference("trainer_id", "trainers", ondelete="CASCADE"),
        Index("ix_trainer_availability_rules_client_id_trainer_id", "client_id", "trainer_id"),
    )

    trainer_id: Mapped[int] = mapped_column(BigId)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)


class AvailabilityOverride(IdMixin, TenantOwned, Base):
    """One local date whose hours replace the weekly rules; no windows: the day is blocked."""

    __tablename__ = "trainer_availability_overrides"
    __table_args__ = (
        tenant_key("trainer_availability_overrides"),
        tenant_reference("trainer_id", "trainers", ondelete="CASCADE"),
        UniqueConstraint("client_id", "trainer_id", "day"),
    )

    trainer_id: Mapped[int] = mapped_column(BigId)
    day: Mapped[date] = mapped_column(Date)
    # [{"start": "HH:MM", "end": "HH:MM"}, ...] in the trainer's zone; [] blocks the day.
    windows: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(String(200))


class TimeOff(IdMixin, TenantOwned, Base):
    """A range the trainer is away (holiday, course), in UTC instants."""

    __tablename__ = "trainer_time_off"
    __table_args__ = (
        tenant_key("trainer_time_off"),
        tenant_reference("trainer_id", "trainers", ondelete="CASCADE"),
        Index(
            "ix_trainer_time_off_client_id_trainer_id_ends_at", "client_id", "trainer_id", "ends_at"
        ),
    )

    trainer_id: Mapped[int] = mapped_column(BigId)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    reason: Mapped[str | None] = mapped_column(String(200))


class BookingStatus(StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


class Booking(IdMixin, TimestampMixin, TenantOwned, Base):
    """A user's 1-on-1 session with a trainer.

    ``blocked_from``/``blocked_until`` is the stretch the booking takes from the trainer's
    calendar (its time plus the service's buffers). A partial unique index allows one confirmed
    booking per trainer and start; overlap is prevented by serialising bookings of one trainer
    (the trainer row is locked on PostgreSQL; SQLite's write transactions are serial).
    """

    __tablename__ = "bookings"
    __table_args__ = (
        tenant_key("bookings"),
        tenant_reference("trainer_id", "trainers", ondelete="CASCADE"),
        tenant_reference("service_id", "trainer_services", ondelete="CASCADE"),
        tenant_reference("user_id", "users", ondelete="CASCADE"),
        Index(
            "uq_bookings_confirmed_trainer_start",
            "client_id",
            "trainer_id",
            "starts_at",
            unique=True,
            sqlite_where=text("status = 'confirmed'"),
            postgresql_where=text("status = 'confirmed'"),
        ),
        Index(
            "ix_bookings_client_id_trainer_id_blocked_until",
            "client_id",
            "trainer_id",
            "blocked_until",
        ),
        Index("ix_bookings_client_id_user_id_starts_at", "client_id", "user_id", "starts_at"),
    )

    trainer_id: Mapped[int] = mapped_column(BigId)
    service_id: Mapped[int] = mapped_column(BigId)
    user_id: Mapped[int] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(16), default=BookingStatus.CONFIRMED.value)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    blocked_from: Mapped[datetime] = mapped_column()
    blocked_until: Mapped[datetime] = mapped_column()
    notes: Mapped[str | None] = mapped_column(String(2000))
    # What was booked, as it was then (the service may change later).
    service_name: Mapped[str] = mapped_column(String(120))
    mode: Mapped[str] = mapped_column(String(16))
    price_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    cancellation_window_hours: Mapped[int] = mapped_column(Integer, default=24)
    room_name: Mapped[str] = mapped_column(String(120))  # the LiveKit room of this booking
    cancelled_at: Mapped[datetime | None] = mapped_column()
    cancelled_by: Mapped[str | None] = mapped_column(String(16))  # user | trainer | staff
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    late_cancellation: Mapped[bool] = mapped_column(Boolean, default=False)
    rescheduled_from_id: Mapped[int | None] = mapped_column(BigId)
    completed_at: Mapped[datetime | None] = mapped_column()


class TrainerInvite(IdMixin, TenantOwned, Base):
    """A one-time code that lets a trainer create their account (``/invite/*``)."""

    __tablename__ = "trainer_invites"
    __table_args__ = (
        tenant_reference("trainer_id", "trainers"),
        tenant_reference("created_by_user_id", "users"),
        tenant_reference("accepted_by_user_id", "users"),
        Index("ix_trainer_invites_client_id_created_at", "client_id", "created_at"),
    )

    # Globally unique: /invite/check has no API key, so the code alone names the client.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(120))
    # Link to an existing trainer profile; when NULL, accepting creates one.
    trainer_id: Mapped[int | None] = mapped_column(BigId)
    created_by_user_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column()
    accepted_by_user_id: Mapped[int | None] = mapped_column(BigId)
    revoked_at: Mapped[datetime | None] = mapped_column()
