"""Watching on-demand classes: playback sessions, per-class progress, the daily watch ledger."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Date,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from stvos.kit.orm import Base, BigId, IdMixin, TenantOwned, tenant_key, tenant_reference


class SessionStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"  # the app said so
    EXPIRED = "expired"  # no heartbeat for a while


class PlaybackSession(IdMixin, TenantOwned, Base):
    """One viewing of a class on one device, from start to end (or silence)."""

    __tablename__ = "playback_sessions"
    __table_args__ = (
        tenant_key("playback_sessions"),
        tenant_reference("user_id", "users", ondelete="CASCADE"),
        tenant_reference("class_id", "on_demand_classes", ondelete="CASCADE"),
        Index(
            "ix_playback_sessions_client_id_user_id_started_at",
            "client_id",
            "user_id",
            "started_at",
        ),
        # The idle sweep's: the active sessions only. No index may cover a column the heartbeat
        # changes (last_heartbeat_at, position...): its updates then stay on their page (HOT;
        # migration 0018, which also sets fillfactor 85 on PostgreSQL).
        Index(
            "ix_playback_sessions_active",
            "id",
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    user_id: Mapped[int] = mapped_column(BigId)
    class_id: Mapped[int] = mapped_column(BigId)
    device_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.ACTIVE.value)
    started_at: Mapped[datetime] = mapped_column()
    last_heartbeat_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    position_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # Seconds of watching credited to this session (never more than the wall time it lasted).
    credited_seconds: Mapped[int] = mapped_column(Integer, default=0)


class ClassProgress(IdMixin, TenantOwned, Base):
    """A user's progress through one class, across all their sessions and devices."""

    __tablename__ = "class_progress"
    __table_args__ = (
        UniqueConstraint("client_id", "user_id", "class_id"),
        tenant_reference("user_id", "users", ondelete="CASCADE"),
        tenant_reference("class_id", "on_demand_classes", ondelete="CASCADE"),
        # No index on last_watched_at (changed by every heartbeat): see migration 0018.
    )

    user_id: Mapped[int] = mapped_column(BigId)
    class_id: Mapped[int] = mapped_column(BigId)
    # One bit per 10-second stretch of the video that was actually watched (any session).
    covered: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    covered_buckets: Mapped[int] = mapped_column(Integer, default=0)
    # Where to resume; only the newest session (by server time of its start) moves it.
    resume_position: Mapped[int] = mapped_column(Integer, default=0)
    resume_session_id: Mapped[int | None] = mapped_column(BigId)
    last_watched_at: Mapped[datetime] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()


class WatchLedger(IdMixin, TenantOwned, Base):
    """Seconds watched and completions per user, class and UTC quarter hour.

    A quarter hour lies wholly inside one local day in every zone, so any zone's daily figures
    (a member's, a partner's, the studio's) are exact sums of these rows. ``day`` is the
    client's local day of the quarter hour, kept for the client-zone reads and as an index to
    narrow any window first. A row is an on-demand class's (``class_id``) or a live class's
    (``live_class_id``: minutes present in its room), never both.
    """

    __tablename__ = "watch_ledger"
    __table_args__ = (
        UniqueConstraint("client_id", "user_id", "class_id", "period_start"),
        UniqueConstraint("client_id", "user_id", "live_class_id", "period_start"),
        CheckConstraint("(class_id IS NULL) <> (live_class_id IS NULL)", name="one_class_kind"),
        tenant_reference("user_id", "users", ondelete="CASCADE"),
        tenant_reference("class_id", "on_demand_classes", ondelete="CASCADE"),
        tenant_reference("live_class_id", "live_classes", ondelete="CASCADE"),
        Index("ix_watch_ledger_client_id_day", "client_id", "day"),
        Index(
            "ix_watch_ledger_client_id_user_id_period_start", "client_id", "user_id", "period_start"
        ),
    )

    user_id: Mapped[int] = mapped_column(BigId)
    class_id: Mapped[int | None] = mapped_column(BigId)
    live_class_id: Mapped[int | None] = mapped_column(BigId)
    period_start: Mapped[datetime] = mapped_column()  # UTC, on a quarter hour
    day: Mapped[date] = mapped_column(Date)
    watched_seconds: Mapped[int] = mapped_column(Integer, default=0)
    completions: Mapped[int] = mapped_column(Integer, default=0)
