"""The ORM layer of tenant isolation.

Every session carries a :class:`TenantScope` in ``session.info``:

* a **client scope** (``client_id`` set): each ORM query of a :class:`TenantOwned` model gets
  ``client_id = :current`` added automatically, including relationship and eager loads, and
  rows flushed without a client get the current one (a different one is refused);
* the **platform scope**: explicit, for platform work (API key resolution, admin, CLI) that
  must see every client; nothing is filtered, and new rows must name their client;
* **no scope**: touching a tenant-owned model at all is a programming error.

The same scope drives PostgreSQL's row-level security (see :mod:`stvos.kit.db`), so a query
that slips past this layer (raw SQL, a Core statement) still sees only the current client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from stvos.kit.errors import TenancyViolation
from stvos.kit.orm import TenantOwned

SCOPE_KEY = "stvos.tenant_scope"


@dataclass(frozen=True, slots=True)
class TenantScope:
    client_id: int | None = None
    platform: bool = False

    @classmethod
    def for_client(cls, client_id: int) -> TenantScope:
        return cls(client_id=client_id)

    @classmethod
    def for_platform(cls) -> TenantScope:
        return cls(platform=True)


NO_SCOPE = TenantScope()


def get_scope(session: Session) -> TenantScope:
    scope = session.info.get(SCOPE_KEY, NO_SCOPE)
    assert isinstance(scope, TenantScope)
    return scope


def set_scope(session: Session, scope: TenantScope) -> None:
    """Set the scope before the session's transaction begins (it is applied per transaction)."""
    if session.in_transaction() and get_scope(session) != scope:
        raise TenancyViolation("the tenant scope cannot change inside a transaction")
    session.info[SCOPE_KEY] = scope


def _touches_tenant_data(state: ORMExecuteState) -> bool:
    return any(issubclass(m.class_, TenantOwned) for m in state.all_mappers)


@event.listens_for(Session, "do_orm_execute")
def _filter_by_client(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    scope = get_scope(state.session)
    if scope.platform:
        return
    if scope.client_id is None:
        if _touches_tenant_data(state):
            raise TenancyViolation("tenant-owned data queried without a client scope")
        return
    client_id = scope.client_id
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned,
            lambda cls: cls.client_id == client_id,
            include_aliases=True,
        )
    )


@event.listens_for(Session, "before_flush")
def _stamp_client(session: Session, _flush_context: Any, _instances: Any) -> None:
    scope = get_scope(session)
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantOwned):
            continue
        if scope.platform:
            if obj.client_id is None:
                raise TenancyViolation(f"{type(obj).__name__} flushed without a client_id")
            continue
        if scope.client_id is None:
            raise TenancyViolation(f"{type(obj).__name__} flushed without a client scope")
        if obj.client_id is None:
            obj.client_id = scope.client_id
        elif obj.client_id != scope.client_id:
            raise TenancyViolation(
                f"{type(obj).__name__} belongs to client {obj.client_id}, "
                f"not the current client {scope.client_id}"
            )
