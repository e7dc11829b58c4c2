"""Wire models of /progress/*."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from stvos.kit.schemas import ApiModel, RequestModel

MealType = Literal["breakfast", "lunch", "dinner", "snack"]
KindName = Literal["workout", "nutrition", "water"]

# Plausibility limits, enforced by the service with messages naming the field.
MAX_ITEM_KCAL = 5000
MAX_SNACK_KCAL = 3000


class SetIn(RequestModel):
    reps: int = Field(ge=1, le=500)
    weight_kg: float | None = Field(default=None, ge=0, le=1000, description="kilograms")


class ExerciseIn(RequestModel):
    name: str = Field(min_length=1, max_length=120)
    sets: list[SetIn] = Field(default_factory=list, max_length=50)


class WorkoutIn(RequestModel):
    """A finished workout: a name or the reference of the plan it followed (at least one)."""

    name: str | None = Field(default=None, min_length=1, max_length=160)
    plan_reference: str | None = Field(default=None, min_length=1, max_length=160)
    exercises: list[ExerciseIn] = Field(default_factory=list, max_length=50)
    duration_minutes: int = Field(ge=1, le=600)
    calories_burned: int | None = Field(default=None, ge=0, le=5000)
    performed_at: AwareDatetime | None = Field(
        default=None, description="When it happened (ISO-8601 with a zone); default now"
    )


class FoodItemIn(RequestModel):
    name: str = Field(min_length=1, max_length=120)
    grams: float = Field(gt=0, le=5000)
    calories: float = Field(ge=0, description="kcal")
    protein_g: float = Field(default=0, ge=0, le=5000)
    carbs_g: float = Field(default=0, ge=0, le=5000)
    fat_g: float = Field(default=0, ge=0, le=5000)


class NutritionIn(RequestModel):
    meal_type: MealType
    items: list[FoodItemIn] = Field(min_length=1, max_length=50)
    logged_at: AwareDatetime | None = Field(
        default=None, description="When it was eaten (ISO-8601 with a zone); default now"
    )


class WaterIn(RequestModel):
    ml: int = Field(ge=1, le=5000)
    logged_at: AwareDatetime | None = Field(
        default=None, description="When it was drunk (ISO-8601 with a zone); default now"
    )


class EntryOut(ApiModel):
    """One logged entry; the numbers are typed, ``details`` holds the structured entry."""

    id: int
    kind: KindName
    occurred_at: datetime
    local_date: date
    duration_minutes: int | None = None
    calories_burned: int | None = None
    calories_in: int | None = None
    protein_g: float | None = None
    carbs_g: float | None = None
    fat_g: float | None = None
    water_ml: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class DayTotals(ApiModel):
    workouts: int = 0
    active_minutes: int = 0
    calories_burned: int = 0
    calories_in: int = 0
    water_ml: int = 0


class DayOut(DayTotals):
    day: date = Field(alias="date")


class Streaks(ApiModel):
    current: int
    longest: int


class SummaryOut(ApiModel):
    from_: date = Field(alias="from")
    to: date
    time_zone: str
    days: list[DayOut]
    totals: DayTotals
    streaks: Streaks
