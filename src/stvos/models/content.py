"""The on-demand library: categories (a client's own, or platform ones it switched on) and
classes with their video source, trainer and category; each category's count of published
classes, kept by the database."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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


class Intensity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class VideoProvider(StrEnum):
    HLS = "hls"
    MP4 = "mp4"
    VIMEO = "vimeo"
    YOUTUBE = "youtube"


class ClassStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class PlatformCategory(IdMixin, TimestampMixin, Base):
    """A category offered to every client (e.g. Yoga); a client switches it on for itself.

    Not tenant-owned: readable by every client, written by platform admins only.
    """

    __tablename__ = "platform_categories"

    name: Mapped[str] = mapped_column(String(80))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2048))


class Category(IdMixin, TimestampMixin, TenantOwned, Base):
    """A client's category: its own, or its enablement of a platform category (with its own
    order and active flag)."""

    __tablename__ = "categories"
    __table_args__ = (
        tenant_key("categories"),
        UniqueConstraint("client_id", "slug"),
        UniqueConstraint("client_id", "platform_category_id"),
        Index(
            "ix_categories_client_id_is_active_sort_order", "client_id", "is_active", "sort_order"
        ),
    )

    name: Mapped[str] = mapped_column(String(80))
    slug: Mapped[str] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2048))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    platform_category_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("platform_categories.id", ondelete="RESTRICT")
    )


class OnDemandClass(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "on_demand_classes"
    __table_args__ = (
        tenant_key("on_demand_classes"),
        tenant_reference("trainer_id", "trainers"),
        tenant_reference("category_id", "categories"),
        # Newest first (published_at DESC, id DESC) is this index read backwards (0014).
        Index(
            "ix_on_demand_classes_client_id_status_published_at_id",
            "client_id",
            "status",
            "published_at",
            "id",
        ),
        # A category's published classes as one range, newest first: its count, and the class
        # list by category (intensity checked in the index) without visiting the rows (0014).
        Index(
            "ix_on_demand_classes_client_id_category_id_status_published_at",
            "client_id",
            "category_id",
            "status",
            "published_at",
            "id",
            "intensity",
        ),
        Index("ix_on_demand_classes_client_id_trainer_id", "client_id", "trainer_id"),
        # The featured rail's published classes as one range (0014).
        Index(
            "ix_on_demand_classes_client_id_is_featured_status_published_at",
            "client_id",
            "is_featured",
            "status",
            "published_at",
            "featured_order",
        ),
    )

    name: Mapped[str] = mapped_column(String(160))
    description: Mapped[str | None] = mapped_column(Text)
    thumbnail_url: Mapped[str | None] = mapped_column(String(2048))
    video_url: Mapped[str] = mapped_column(String(2048))
    video_provider: Mapped[str] = mapped_column(String(16), default=VideoProvider.HLS.value)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    intensity: Mapped[str] = mapped_column(String(8), default=Intensity.MEDIUM.value)
    is_premium: Mapped[bool] = mapped_column(Boolean, default=False)
    equipment: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    trainer_id: Mapped[int | None] = mapped_column(BigId)
    category_id: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(16), default=ClassStatus.DRAFT.value)
    published_at: Mapped[datetime | None] = mapped_column()
    is_featured: Mapped[bool] = mapped_column(Boolean, default=False)
    featured_order: Mapped[int] = mapped_column(Integer, default=0)
    # How often it was played (maintained by playback); "popular" sorts by it.
    play_count: Mapped[int] = mapped_column(Integer, default=0)
    # The trainer's and category's names, kept here for full-text search (kept in step by the
    # content services whenever a class, trainer or category changes).
    search_people: Mapped[str] = mapped_column(String(400), default="")


class CategoryClassCount(IdMixin, TenantOwned, Base):
    """How many classes of a category are published (status ``published`` with a
    ``published_at``, whether that instant has come or not): kept by triggers on
    ``on_demand_classes`` (migration 0017), on both databases, so every writer keeps it right,
    the ORM or not. The application only reads it: a category's visible count at ``now`` is this
    number less its classes scheduled after ``now`` (see ``stvos.content.service``).

    A category without a published class may have no row (or a row at 0); the row goes with its
    category (and its client).
    """

    __tablename__ = "category_class_counts"
    __table_args__ = (
        UniqueConstraint("client_id", "category_id"),
        tenant_reference("category_id", "categories", ondelete="CASCADE"),
    )

    category_id: Mapped[int] = mapped_column(BigId)
    published_count: Mapped[int] = mapped_column(Integer, default=0)
