"""Live and group classes: a schedule (one-off or weekly series), seats with a FIFO waitlist,
LiveKit rooms, and attendance recorded from LiveKit's webhooks."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, Text, Time, UniqueConstraint
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


class LiveClassStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


class LiveClassSeries(IdMixin, TimestampMixin, TenantOwned, Base):
    """A weekly schedule (chosen weekdays at one local time, until a date) and the template its
    dated classes were expanded from, in the trainer's time zone."""

    __tablename__ = "live_class_series"
    __table_args__ = (
        tenant_key("live_class_series"),
        tenant_reference("trainer_id", "trainers", ondelete="CASCADE"),
        tenant_reference("category_id", "categories", ondelete="SET NULL"),
    )

    trainer_id: Mapped[int] = mapped_column(BigId)
    category_id: Mapped[int | None] = mapped_column(BigId)
    title: Mapped[str] = mapped_column(String(160))
    description: Mapped[str | None] = mapped_column(Text)
    weekdays: Mapped[list[int]] = mapped_column(JSON)  # 0 = Monday
    local_start_time: Mapped[time] = mapped_column(Time)
    time_zone: Mapped[str] = mapped_column(String(64))  # the trainer's when expanded
    starts_on: Mapped[date] = mapped_column(Date)
    until: Mapped[date] = mapped_column(Date)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    intensity: Mapped[str | None] = mapped_column(String(16))
    is_premium: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_user_id: Mapped[int | None] = mapped_column(BigId)


class LiveClass(IdMixin, TimestampMixin, TenantOwned, Base):
    """One dated live class.

    ``registered_count`` and ``waitlist_seq`` are counters changed only by conditional
    ``UPDATE ... RETURNING`` statements, so concurrent registrations take exactly ``capacity``
    seats and queue the rest in arrival order, on either database.
    """

    __tablename__ = "live_classes"
    __table_args__ = (
        tenant_key("live_classes"),
        tenant_reference("trainer_id", "trainers", ondelete="CASCADE"),
        tenant_reference("category_id", "categories", ondelete="SET NULL"),
        tenant_reference("series_id", "live_class_series", ondelete="SET NULL"),
        UniqueConstraint("room_name", name="uq_live_classes_room_name"),
        Index("ix_live_classes_client_id_starts_at", "client_id", "starts_at"),
        Index(
            "ix_live_classes_client_id_trainer_id_starts_at", "client_id", "trainer_id", "starts_at"
        ),
    )

    series_id: Mapped[int | None] = mapped_column(BigId)
    trainer_id: Mapped[int] = mapped_column(BigId)
    category_id: Mapped[int | None] = mapped_column(BigId)
    title: Mapped[str] = mapped_column(String(160))
    description: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    duration_minutes: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    intensity: Mapped[str | None] = mapped_column(String(16))
    is_premium: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=LiveClassStatus.SCHEDULED.value)
    registered_count: Mapped[int] = mapped_column(Integer, default=0)
    waitlist_seq: Mapped[int] = mapped_column(Integer, default=0)
    # The LiveKit room: named when scheduled (opaque), created when the class starts.
    room_name: Mapped[str] = mapped_column(String(120))
    room_sid: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()
    cancel_reason: Mapped[str | None] = mapped_column(String(500))


class RegistrationStatus(StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"  # unregistered (or the class was cancelled)


class LiveRegistration(IdMixin, TenantOwned, Base):
    """A member's seat or place in the queue of one live class (one row per member and class)."""

    __tablename__ = "live_class_registrations"
    __table_args__ = (
        tenant_key("live_class_registrations"),
        tenant_reference("live_class_id", "live_classes", ondelete="CASCADE"),
        tenant_reference("user_id", "users", ondelete="CASCADE"),
        UniqueConstraint("client_id", "live_class_id", "user_id"),
        Index(
            "ix_live_class_registrations_class_status_seq",
            "client_id",
            "live_class_id",
            "status",
            "waitlist_seq",
        ),
    )

    live_class_id: Mapped[int] = mapped_column(BigId)
    user_id: Mapped[int] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(16))
    waitlist_seq: Mapped[int | None] = mapped_column(Integer)  # FIFO order while waitlisted
    registered_at: Mapped[datetime] = mapped_column()  # when the row was made (either status)
    promoted_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()
    # Removed from the room by the trainer or staff: the seat stays, the room stays closed.
    removed_at: Mapped[datetime | None] = mapped_column()


class LiveAttendance(IdMixin, TenantOwned, Base):
    """Presence in a live class's room, from LiveKit's participant webhooks (one row per
    participant identity). ``open_since`` is set while the participant is in the room."""

    __tablename__ = "live_class_attendance"
    __table_args__ = (
        tenant_key("live_class_attendance"),
        tenant_reference("live_class_id", "live_classes", ondelete="CASCADE"),
        tenant_reference("user_id", "users", ondelete="CASCADE"),
        UniqueConstraint("client_id", "live_class_id", "identity"),
    )

    live_class_id: Mapped[int] = mapped_column(BigId)
    identity: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(BigId)  # None: the trainer or staff
    first_joined_at: Mapped[datetime] = mapped_column()
    open_since: Mapped[datetime | None] = mapped_column()
    last_left_at: Mapped[datetime | None] = mapped_column()
    seconds_present: Mapped[int] = mapped_column(Integer, default=0)
    joins: Mapped[int] = mapped_column(Integer, default=0)
