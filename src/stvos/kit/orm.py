"""ORM foundations: the declarative base, id and time columns, and the tenant-owned mixin.

A model that belongs to one client inherits :class:`TenantOwned`. That single choice gives it a
``client_id`` column, the automatic per-request filter (see :mod:`stvos.kit.tenancy`), the
``(client_id, id)`` key that same-client references point at, and a row-level security policy
on PostgreSQL (added by the migration that creates the table, see ``enable_rls``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from stvos.kit.clock import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids everywhere; SQLite only auto-increments a column declared exactly INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC instants on both databases (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC instant is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime()}


class IdMixin:
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TenantOwned:
    """Mixin for every table whose rows belong to exactly one client.

    Subclasses must list ``tenant_key()`` in ``__table_args__`` if other tenant tables refer to
    them, and refer to other tenant tables only with :func:`tenant_reference`. Every index of
    a tenant table leads with ``client_id`` (a test checks that at least one does), which is
    what both the per-client queries and a Citus distribution by ``client_id`` want.
    """

    @declared_attr
    def client_id(cls) -> Mapped[int]:  # noqa: N805 - SQLAlchemy's declared_attr convention
        return mapped_column(
            BigId,
            ForeignKey("clients.id", ondelete="CASCADE"),
            nullable=False,
        )


def tenant_key(table: str) -> UniqueConstraint:
    """The ``(client_id, id)`` key that same-client references point at."""
    return UniqueConstraint("client_id", "id", name=f"uq_{table}_client_id_id")


def tenant_reference(
    column: str, target_table: str, *, ondelete: str | None = None, use_alter: bool = False
) -> ForeignKeyConstraint:
    """A composite reference ``(client_id, column) -> target(client_id, id)``.

    Because both sides share ``client_id``, the database itself refuses a row that points at
    another client's row, whatever the application does.
    """
    return ForeignKeyConstraint(
        ["client_id", column],
        [f"{target_table}.client_id", f"{target_table}.id"],
        ondelete=ondelete,
        use_alter=use_alter,
    )
