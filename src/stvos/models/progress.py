"""What members log about themselves: workouts, meals and water, one row per entry."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from stvos.kit.clock import utcnow
from stvos.kit.orm import Base, BigId, IdMixin, TenantOwned, tenant_reference


class ProgressKind(StrEnum):
    WORKOUT = "workout"
    NUTRITION = "nutrition"
    WATER = "water"


class ProgressEntry(IdMixin, TenantOwned, Base):
    """One logged workout, meal or glass of water.

    ``local_date`` is the calendar date in the member's time zone at the moment it happened,
    fixed at write time, so per-day summaries and streaks group by a plain column with no
    time-zone arithmetic in SQL. The typed numeric columns are what summaries add up; ``details``
    keeps the whole structured entry (exercises with their sets, meal items) as it was logged.
    """

    __tablename__ = "progress_entries"
    __table_args__ = (
        tenant_reference("user_id", "users", ondelete="CASCADE"),
        CheckConstraint("kind IN ('workout', 'nutrition', 'water')", name="kind"),
        Index(
            "ix_progress_entries_client_id_user_id_occurred_at",
            "client_id",
            "user_id",
            "occurred_at",
        ),
        Index(
            "ix_progress_entries_client_id_user_id_local_date",
            "client_id",
            "user_id",
            "local_date",
        ),
    )

    user_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column()
    local_date: Mapped[date] = mapped_column(Date)
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    calories_burned: Mapped[int | None] = mapped_column(Integer)
    calories_in: Mapped[int | None] = mapped_column(Integer)
    protein_g: Mapped[float | None] = mapped_column(Float)
    carbs_g: Mapped[float | None] = mapped_column(Float)
    fat_g: Mapped[float | None] = mapped_column(Float)
    water_ml: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
