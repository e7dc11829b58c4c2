"""Wire models of the content library. No answer here carries a video URL: playback URLs are
only handed out, signed and short-lived, by ``/video/access/:classId``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from stvos.kit.schemas import ApiModel
from stvos.live.member_schemas import LiveClassOut

ClassSort = Literal["newest", "popular", "duration", "name"]
IntensityName = Literal["low", "medium", "high"]


class TrainerBrief(ApiModel):
    id: int
    name: str
    image: str | None


class CategoryBrief(ApiModel):
    id: int
    name: str


class ClassSummary(ApiModel):
    id: int
    name: str
    description: str | None
    thumbnail_url: str | None
    duration: int = Field(description="Minutes")
    intensity: IntensityName
    is_premium: bool
    equipment: list[str]
    tags: list[str]
    trainer: TrainerBrief | None
    category: CategoryBrief | None
    published_at: datetime | None


class ClassDetail(ClassSummary):
    related_classes: list[ClassSummary] = Field(
        description="Up to 6 other published classes: same category and trainer first, then "
        "same category, then same trainer; newest first within each"
    )


class ClassAnswer(ApiModel):
    class_: ClassDetail = Field(alias="class")


class CategoryOut(ApiModel):
    id: int
    name: str
    slug: str
    description: str | None
    image: str | None
    class_count: int = Field(description="Published classes in this category")


class ContinueWatching(ClassSummary):
    position: int = Field(description="Where to resume, in seconds")
    percent_watched: float


class DiscoverAnswer(ApiModel):
    featured: list[ClassSummary] = Field(description="Featured classes in the studio's order")
    continue_watching: list[ContinueWatching] = Field(
        description="Classes the user started and has not finished, most recent first"
    )
    upcoming_live: list[LiveClassOut] = Field(
        description="The next scheduled or live classes, soonest first (at most 10), with "
        "spotsLeft and the member's own registration; empty when live classes are off"
    )
    categories: list[CategoryOut]
    new_this_week: list[ClassSummary] = Field(description="Published in the last 7 days")


class VideoAccess(ApiModel):
    class_id: int
    url: str = Field(description="Signed playback URL; works until expiresAt")
    provider: str = Field(description="hls, mp4, vimeo or youtube")
    expires_at: datetime
