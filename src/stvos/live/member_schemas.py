"""Wire models of the members' side of live classes: the schedule (``/live/classes``), one class,
and a member's registration (a seat or a place in the waitlist).

Shared with the content library's discover answer (``upcomingLive``) and the trainer catalogue's
``upcomingGroupClasses``: a class is always described by :class:`LiveClassOut`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from stvos.kit.schemas import ApiModel

LiveStatusName = Literal["scheduled", "live", "ended", "cancelled"]
RegistrationStatusName = Literal["registered", "waitlisted", "cancelled"]


class LiveTrainerRef(ApiModel):
    id: int
    name: str | None
    image_url: str | None


class LiveCategoryRef(ApiModel):
    id: int
    name: str


class MyRegistration(ApiModel):
    """The caller's own registration of a class (never another member's)."""

    status: RegistrationStatusName
    waitlist_position: int | None = Field(
        description="1-based place in the waitlist while waitlisted; null otherwise"
    )
    registered_at: datetime = Field(description="When the member first asked for a place")
    promoted_at: datetime | None = Field(
        description="When a freed seat passed to the member from the waitlist"
    )


class LiveClassOut(ApiModel):
    id: int
    title: str
    description: str | None
    status: LiveStatusName
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    capacity: int
    registered_count: int
    spots_left: int = Field(description="capacity - registeredCount, never below 0")
    waitlist_count: int = Field(description="Members waiting for a seat")
    intensity: str | None
    is_premium: bool
    trainer: LiveTrainerRef
    category: LiveCategoryRef | None
    series_id: int | None = Field(description="The weekly series the class belongs to, if any")
    registration: MyRegistration | None = Field(
        description="The caller's registration (null when they never registered, and on "
        "answers without a signed-in member)"
    )


class RegistrationOut(ApiModel):
    """The answer of registering and unregistering."""

    live_class_id: int
    status: RegistrationStatusName
    waitlist_position: int | None = Field(
        description="1-based place in the waitlist when waitlisted; null when registered"
    )
    registered_at: datetime
    promoted_at: datetime | None
    cancelled_at: datetime | None
    spots_left: int
    waitlist_count: int
