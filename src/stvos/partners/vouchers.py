"""A partner's voucher codes: generating them in bulk, listing, statistics, export and revoking.

Every function here runs for one partner (``partner_id`` from the partner staff token) in its
client's scope; the tenant filter limits queries to the client, and each query here adds the
partner itself, so staff of one partner never see another partner's codes.

Status: the database stores ``active | redeemed | revoked``; ``expired`` follows from
``expires_at`` when read (no job flips it). :func:`wire_status` and :func:`status_filter` state
the same rule, in Python and in SQL, so a filtered page agrees with the statuses it shows.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.clock import utcnow
from stvos.kit.errors import ValidationFailed
from stvos.kit.paging import fetch_page
from stvos.kit.schemas import PageParams
from stvos.models import Voucher
from stvos.models.partner import VoucherStatus
from stvos.partners.errors import VoucherNotFound, VoucherNotRevocable
from stvos.partners.voucher_schemas import VoucherBatchIn

# No 0/O, 1/I/L: a code read aloud or typed from paper cannot be mistaken.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
MAX_AHEAD = timedelta(days=5 * 365)
_ATTEMPTS = 5  # rounds of regenerating collided codes before giving up (never reached in practice)

ACTIVE = VoucherStatus.ACTIVE.value
REDEEMED = VoucherStatus.REDEEMED.value
REVOKED = VoucherStatus.REVOKED.value
EXPIRED = "expired"
WIRE_STATUSES = (ACTIVE, REDEEMED, EXPIRED, REVOKED)


def normalize_code(code: str) -> str:
    """Codes are matched case-insensitively and regardless of spaces typed into them."""
    return "".join(code.split()).upper()


def new_code(prefix: str) -> str:
    return f"{prefix}-" + "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


# --- the status rule --------------------------------------------------------------------------


def wire_status(voucher: Voucher, now: datetime) -> str:
    if voucher.status == REVOKED:
        return REVOKED
    if voucher.redemption_count >= voucher.max_redemptions:
        return REDEEMED
    if voucher.expires_at <= now:
        return EXPIRED
    return ACTIVE


def status_filter(status: str, now: datetime) -> ColumnElement[bool]:
    """The SQL twin of :func:`wire_status`: rows whose wire status is ``status``."""
    not_revoked = Voucher.status != REVOKED
    used_up = Voucher.redemption_count >= Voucher.max_redemptions
    left = Voucher.redemption_count < Voucher.max_redemptions
    if status == REVOKED:
        return Voucher.status == REVOKED
    if status == REDEEMED:
        return and_(not_revoked, used_up)
    if status == EXPIRED:
        return and_(not_revoked, left, Voucher.expires_at <= now)
    if status == ACTIVE:
        return and_(not_revoked, left, Voucher.expires_at > now)
    raise ValueError(f"unknown voucher status {status!r}")


def voucher_out(voucher: Voucher, now: datetime) -> dict[str, Any]:
    return {
        "id": voucher.id,
        "code": voucher.code,
        "prefix": voucher.prefix,
        "status": wire_status(voucher, now),
        "expires_at": voucher.expires_at,
        "max_redemptions": voucher.max_redemptions,
        "redemption_count": voucher.redemption_count,
        "access_days": voucher.access_days,
        "grants_premium": voucher.grants_premium,
        "created_at": voucher.created_at,
        "last_redeemed_at": voucher.last_redeemed_at,
        "revoked_at": voucher.revoked_at,
    }


# --- generating -------------------------------------------------------------------------------


def _check_expiry(expires_at: datetime, now: datetime) -> None:
    problem = None
    if expires_at <= now:
        problem = "Must be in the future"
    elif expires_at > now + MAX_AHEAD:
        problem = "Must be at most 5 years ahead"
    if problem:
        raise ValidationFailed(
            f"expiresAt: {problem.lower()}",
            details=[{"field": "expiresAt", "message": problem}],
        )


async def _insert_new(session: AsyncSession, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert ``rows`` in one multi-row statement, skipping any whose code already exists.

    Codes are unique across the platform, but this client-scoped session cannot see other
    clients' codes (nor, on PostgreSQL, can row-level security let it). So the unique index is
    the check: ``ON CONFLICT (code) DO NOTHING`` inserts the rest and RETURNING says which went
    in, so only the collided codes are drawn again, and nothing else of the batch is lost.
    """
    dialect = session.get_bind().dialect.name
    table = Voucher.__table__
    assert isinstance(table, Table)
    statement = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = statement.values(rows).on_conflict_do_nothing(index_elements=["code"])
    result = await session.execute(statement.returning(table.c.id, table.c.code))
    return {code: id_ for id_, code in result.all()}


async def create_batch(
    session: AsyncSession,
    *,
    client_id: int,
    partner_id: int,
    staff_id: int | None,
    body: VoucherBatchIn,
) -> list[dict[str, Any]]:
    """``body.quantity`` new codes, all inserted in the request's transaction (all or none)."""
    now = utcnow()
    _check_expiry(body.expires_at, now)
    prefix = body.prefix.upper()
    common: dict[str, Any] = {
        # Core insert: the ORM's stamping of client_id does not apply, so name it here.
        "client_id": client_id,
        "partner_id": partner_id,
        "prefix": prefix,
        "status": ACTIVE,
        "expires_at": body.expires_at,
        "max_redemptions": body.max_redemptions,
        "redemption_count": 0,
        "access_days": body.access_days,
        "grants_premium": body.grants_premium,
        "created_at": now,
        "created_by_staff_id": staff_id,
    }
    made: dict[str, int] = {}
    for _ in range(_ATTEMPTS):
        wanted = body.quantity - len(made)
        codes: set[str] = set()
        while len(codes) < wanted:
            code = new_code(prefix)
            if code not in made:
                codes.add(code)
        made.update(await _insert_new(session, [{**common, "code": c} for c in sorted(codes)]))
        if len(made) == body.quantity:
            break
    else:
        raise RuntimeError(f"could not find {body.quantity} free codes for prefix {prefix}")
    created = [{**common, "id": id_, "code": code} for code, id_ in made.items()]
    created.sort(key=lambda row: row["id"])
    return [
        {**row, "status": ACTIVE, "last_redeemed_at": None, "revoked_at": None} for row in created
    ]


# --- reading ----------------------------------------------------------------------------------


def _partner_query(
    partner_id: int, status: str | None, search: str | None, now: datetime
) -> Select[Voucher]:
    query = select(Voucher).where(Voucher.partner_id == partner_id)
    if status:
        query = query.where(status_filter(status, now))
    term = normalize_code(search or "")
    if term:
        # Codes are stored upper case, so an upper-cased term makes LIKE case-blind everywhere.
        query = query.where(Voucher.code.contains(term, autoescape=True))
    return query


async def list_vouchers(
    session: AsyncSession,
    partner_id: int,
    paging: PageParams,
    *,
    status: str | None,
    search: str | None,
) -> tuple[list[dict[str, Any]], int]:
    now = utcnow()
    query = _partner_query(partner_id, status, search, now)
    items, total = await fetch_page(session, query, paging, Voucher.id.desc())
    return [voucher_out(v, now) for v in items], total


async def stats(session: AsyncSession, partner_id: int) -> dict[str, Any]:
    """Counts by wire status in one pass over the partner's codes."""
    now = utcnow()

    def count(status: str) -> Any:
        return func.coalesce(func.sum(case((status_filter(status, now), 1), else_=0)), 0)

    row = (
        await session.execute(
            select(
                func.count(Voucher.id),
                *(count(s) for s in WIRE_STATUSES),
                func.coalesce(func.sum(Voucher.redemption_count), 0),
            ).where(Voucher.partner_id == partner_id)
        )
    ).one()
    total, active, redeemed, expired, revoked, redemptions = (int(v) for v in row)
    return {
        "total": total,
        "active": active,
        "redeemed": redeemed,
        "expired": expired,
        "revoked": revoked,
        "redemptions": redemptions,
        "redemption_rate": round(redeemed / total, 4) if total else 0.0,
    }


EXPORT_HEADER = (
    "code",
    "status",
    "expiresAt",
    "maxRedemptions",
    "redemptionCount",
    "accessDays",
    "grantsPremium",
    "createdAt",
    "lastRedeemedAt",
    "revokedAt",
)


async def export_rows(
    session: AsyncSession, partner_id: int, *, status: str | None, search: str | None
) -> list[Sequence[object]]:
    """Every code matching the list filters, oldest first, as CSV rows under EXPORT_HEADER."""
    now = utcnow()
    vouchers = await session.scalars(
        _partner_query(partner_id, status, search, now).order_by(Voucher.id)
    )
    return [
        (
            v.code,
            wire_status(v, now),
            v.expires_at,
            v.max_redemptions,
            v.redemption_count,
            v.access_days,
            v.grants_premium,
            v.created_at,
            v.last_redeemed_at,
            v.revoked_at,
        )
        for v in vouchers
    ]


async def get_voucher(session: AsyncSession, partner_id: int, voucher_id: int) -> Voucher:
    voucher = await session.scalar(
        select(Voucher).where(Voucher.id == voucher_id, Voucher.partner_id == partner_id)
    )
    if voucher is None:
        raise VoucherNotFound()
    return voucher


# --- revoking ---------------------------------------------------------------------------------


async def revoke(session: AsyncSession, partner_id: int, voucher_id: int) -> dict[str, Any]:
    """Withdraw a code that is not used up (active, expired, or partly used multi-use codes).

    One conditional UPDATE, so a redemption racing the revocation either lands first (and the
    used-up code is refused here) or finds the code revoked; never both. Revoking a revoked code
    again answers it unchanged (DELETE is idempotent: a retried request must not fail). Members
    who already redeemed keep their membership.
    """
    now = utcnow()
    revoked = await session.scalar(
        update(Voucher)
        .where(
            Voucher.id == voucher_id,
            Voucher.partner_id == partner_id,
            Voucher.status == ACTIVE,
            Voucher.redemption_count < Voucher.max_redemptions,
        )
        .values(status=REVOKED, revoked_at=now)
        .returning(Voucher)
        .execution_options(populate_existing=True)
    )
    if revoked is not None:
        return voucher_out(revoked, now)
    voucher = await get_voucher(session, partner_id, voucher_id)
    if voucher.status == REVOKED:
        return voucher_out(voucher, now)
    raise VoucherNotRevocable(
        f"Voucher {voucher.code} is used up ({voucher.redemption_count} of "
        f"{voucher.max_redemptions} redemptions) and cannot be revoked"
    )
