"""Wire models of the studio back office's content: categories, platform categories, classes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, HttpUrl, field_validator

from stvos.kit.schemas import ApiModel, RequestModel

Slug = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
VideoProviderName = Literal["hls", "mp4", "vimeo", "youtube"]
IntensityName = Literal["low", "medium", "high"]
ClassState = Literal["draft", "scheduled", "published"]
DbId = Annotated[int, Field(ge=1, le=2**63 - 1)]


def _url_text(value: HttpUrl | None) -> HttpUrl | None:
    if value is not None and len(str(value)) > 2048:
        raise ValueError("URL should have at most 2048 characters")
    return value


Url = Annotated[HttpUrl, AfterValidator(_url_text)]
Label = Annotated[str, Field(min_length=1, max_length=40)]
Labels = Annotated[list[Label], Field(max_length=20)]


def _not_null(value: object) -> object:
    """Runs only on values sent (defaults are not validated): an explicit null is refused."""
    if value is None:
        raise ValueError("This field may not be null")
    return value


def _labels(value: list[str] | None) -> list[str] | None:
    """Lower-cased, without duplicates, in the order given."""
    if value is None:
        return None
    return list(dict.fromkeys(v.strip().lower() for v in value))


# --- categories -------------------------------------------------------------------------------


class CategoryIn(RequestModel):
    name: str = Field(min_length=1, max_length=80)
    slug: Slug | None = Field(default=None, description="Derived from the name when left out")
    description: str | None = Field(default=None, max_length=5000)
    image_url: Url | None = None
    sort_order: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    is_active: bool = True


class CategoryPatch(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    slug: Slug | None = None
    description: str | None = Field(default=None, max_length=5000)
    image_url: Url | None = None
    sort_order: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)
    is_active: bool | None = None

    refuse_nulls = field_validator("name", "slug", "sort_order", "is_active")(_not_null)


class ManagedCategory(ApiModel):
    id: int
    name: str
    slug: str
    description: str | None
    image_url: str | None
    sort_order: int
    is_active: bool
    platform_category_id: int | None = Field(
        description="The platform category this one was enabled from, if any"
    )
    class_count: int = Field(description="Classes in this category, drafts included")
    created_at: datetime
    updated_at: datetime


class PlatformCategoryOut(ApiModel):
    id: int
    name: str
    slug: str
    description: str | None
    image_url: str | None
    enabled: bool = Field(description="Whether this app switched it on")
    category_id: int | None = Field(description="This app's category made from it, if enabled")


class EnableIn(RequestModel):
    sort_order: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)


# --- classes ----------------------------------------------------------------------------------


class ClassIn(RequestModel):
    name: str = Field(min_length=1, max_length=160)
    description: str | None = Field(default=None, max_length=10_000)
    thumbnail_url: Url | None = None
    video_url: Url = Field(description="http(s) URL of the video or stream")
    video_provider: VideoProviderName = "hls"
    duration: int = Field(ge=1, le=600, description="Minutes")
    intensity: IntensityName = "medium"
    is_premium: bool = False
    equipment: Labels = Field(default_factory=list)
    tags: Labels = Field(default_factory=list)
    trainer_id: DbId | None = None
    category_id: DbId | None = None

    normalise_labels = field_validator("equipment", "tags")(_labels)


class ClassPatch(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=160)
    description: str | None = Field(default=None, max_length=10_000)
    thumbnail_url: Url | None = None
    video_url: Url | None = None
    video_provider: VideoProviderName | None = None
    duration: int | None = Field(default=None, ge=1, le=600)
    intensity: IntensityName | None = None
    is_premium: bool | None = None
    equipment: Labels | None = None
    tags: Labels | None = None
    trainer_id: DbId | None = Field(default=None, description="null removes the trainer")
    category_id: DbId | None = Field(default=None, description="null removes the category")

    refuse_nulls = field_validator(
        "name",
        "video_url",
        "video_provider",
        "duration",
        "intensity",
        "is_premium",
        "equipment",
        "tags",
    )(_not_null)
    normalise_labels = field_validator("equipment", "tags")(_labels)


class PublishIn(RequestModel):
    publish_at: AwareDatetime | None = Field(
        default=None, description="When it goes live; in the future it is scheduled; default now"
    )


class FeaturedIn(RequestModel):
    class_ids: list[DbId] = Field(max_length=50, description="The featured classes, in order")

    @field_validator("class_ids")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("A class may appear only once")
        return value


class Named(ApiModel):
    id: int
    name: str


class ManagedClass(ApiModel):
    id: int
    name: str
    description: str | None
    thumbnail_url: str | None
    video_url: str
    video_provider: str
    duration: int = Field(description="Minutes")
    intensity: str
    is_premium: bool
    equipment: list[str]
    tags: list[str]
    trainer: Named | None
    category: Named | None
    status: ClassState = Field(description="scheduled: published with a publish time ahead")
    published_at: datetime | None
    is_featured: bool
    featured_order: int | None = Field(description="1-based position among featured classes")
    play_count: int
    created_at: datetime
    updated_at: datetime


class Deleted(ApiModel):
    id: int
    deleted: Literal[True] = True
