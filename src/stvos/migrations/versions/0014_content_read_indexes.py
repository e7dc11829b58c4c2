"""Content read paths at scale: on-demand class indexes whose order is the answers' order.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

Each new index replaces one of migration 0005 that is its prefix or that it supersedes, so the
table keeps as many indexes as before (and every one still leads with ``client_id``):

* ``(client_id, status, published_at, id)`` replaces ``(client_id, status, published_at)``:
  "newest first" (``published_at DESC, id DESC``: the class list, discover's new this week) is
  a backward scan of it that stops at the page, even under a generic plan that expects one row
  and would otherwise sort every match (a week of classes, or the whole library).
* ``(client_id, category_id, status, published_at, id, intensity)`` replaces
  ``(client_id, category_id)`` (its prefix: the composite foreign key to ``categories`` keeps
  its index): a category's published classes are one range, so the categories' class counts
  (discover, ``/content/categories``) are index-only range counts, and the class list by
  category (and intensity, checked in the index) reads its page newest first and counts its
  total without visiting the rows.
* ``(client_id, is_featured, status, published_at, featured_order)`` replaces
  ``(client_id, is_featured, featured_order)``: the featured rail's published classes are one
  range (SQLite's planner, which has no statistics, otherwise prefers the
  ``(client_id, status, published_at)`` range and reads every published class).

Plain ``CREATE INDEX`` (the house style; migrations run in a transaction): it holds writes to
``on_demand_classes`` for the build, about 0.1 s per 100,000 classes per index. ``play_count``
(written on every play) is in no index, so those updates stay HOT on PostgreSQL.
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLE = "on_demand_classes"
# (new index, its columns, the index it replaces, that index's columns)
INDEXES = (
    (
        "ix_on_demand_classes_client_id_status_published_at_id",
        ["client_id", "status", "published_at", "id"],
        "ix_on_demand_classes_client_id_status_published_at",
        ["client_id", "status", "published_at"],
    ),
    (
        "ix_on_demand_classes_client_id_category_id_status_published_at",
        ["client_id", "category_id", "status", "published_at", "id", "intensity"],
        "ix_on_demand_classes_client_id_category_id",
        ["client_id", "category_id"],
    ),
    (
        "ix_on_demand_classes_client_id_is_featured_status_published_at",
        ["client_id", "is_featured", "status", "published_at", "featured_order"],
        "ix_on_demand_classes_client_id_is_featured_featured_order",
        ["client_id", "is_featured", "featured_order"],
    ),
)


def upgrade(app_role: str | None = None) -> None:
    for name, columns, replaced, _ in INDEXES:
        op.create_index(name, TABLE, columns)
        op.drop_index(replaced, table_name=TABLE)


def downgrade(app_role: str | None = None) -> None:
    for name, _, replaced, replaced_columns in INDEXES:
        op.create_index(replaced, TABLE, replaced_columns)
        op.drop_index(name, table_name=TABLE)
