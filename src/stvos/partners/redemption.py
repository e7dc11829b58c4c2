"""Redeeming voucher codes at sign-up, checking them beforehand, and the public join page.

Redemption is one conditional UPDATE (count + 1 only while the code is active, not used up,
not expired, and its partner active), so concurrent sign-ups with a single-use code cannot
both win: on PostgreSQL the losers wait on the row lock and re-check the condition, on SQLite
writers are serialised. Only when the UPDATE touches nothing is the code read again, to say
why. Everything runs in the sign-up's transaction: a refused code rolls the new user back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts import throttle
from stvos.accounts.context import Accounts
from stvos.accounts.errors import InvalidVoucher
from stvos.kit.clock import utcnow
from stvos.kit.errors import StvosError
from stvos.models import Client, Partner, PartnerMembership, User, Voucher, VoucherRedemption
from stvos.partners.errors import (
    VoucherAlreadyRedeemed,
    VoucherExpired,
    VoucherNotFound,
    VoucherRevoked,
)
from stvos.partners.vouchers import (
    ACTIVE,
    EXPIRED,
    REDEEMED,
    REVOKED,
    normalize_code,
    wire_status,
)
from stvos.tenancy.service import public_client

# Premium without an end (a voucher with no access period): far enough to never pass, and a
# value both databases store.
PREMIUM_NO_END = datetime(9999, 12, 31, tzinfo=UTC)


def _refusal(voucher: Voucher | None, partner: Partner | None, now: datetime) -> StvosError:
    """Why ``voucher`` cannot be redeemed now (the same precedence as its wire status)."""
    if voucher is None or partner is None:
        return InvalidVoucher()
    status = wire_status(voucher, now)
    if status == REVOKED:
        return VoucherRevoked()
    if status == REDEEMED:
        return VoucherAlreadyRedeemed()
    if status == EXPIRED:
        return VoucherExpired()
    if partner.status != ACTIVE:
        return InvalidVoucher("This voucher's partner no longer takes new members")
    raise AssertionError("a redeemable voucher was refused")


def _redeemable(voucher: Voucher | None, partner: Partner | None, now: datetime) -> bool:
    return (
        voucher is not None
        and partner is not None
        and wire_status(voucher, now) == ACTIVE
        and partner.status == ACTIVE
    )


async def _find(session: AsyncSession, code: str) -> tuple[Voucher | None, Partner | None]:
    """The code and its partner, in the current client."""
    row = (
        await session.execute(
            select(Voucher, Partner)
            .join(
                Partner,
                and_(Partner.client_id == Voucher.client_id, Partner.id == Voucher.partner_id),
            )
            .where(Voucher.code == normalize_code(code))
        )
    ).one_or_none()
    return (row[0], row[1]) if row else (None, None)


# --- redeeming (inside /auth/register) --------------------------------------------------------


async def redeem(session: AsyncSession, *, code: str, user_id: int) -> Voucher:
    """Redeem ``code`` for ``user_id`` and make (or extend) their membership of the partner."""
    now = utcnow()
    normalized = normalize_code(code)
    active_partners = select(Partner.id).where(Partner.status == ACTIVE)
    voucher = await session.scalar(
        update(Voucher)
        .where(
            Voucher.code == normalized,
            Voucher.status == ACTIVE,
            Voucher.redemption_count < Voucher.max_redemptions,
            Voucher.expires_at > now,
            Voucher.partner_id.in_(active_partners),
        )
        .values(
            redemption_count=Voucher.redemption_count + 1,
            status=case(
                (Voucher.redemption_count + 1 >= Voucher.max_redemptions, REDEEMED),
                else_=ACTIVE,
            ),
            last_redeemed_at=now,
        )
        .returning(Voucher)
        .execution_options(populate_existing=True)
    )
    if voucher is None:
        raise _refusal(*await _find(session, normalized), now)
    try:
        async with session.begin_nested():
            session.add(VoucherRedemption(voucher_id=voucher.id, user_id=user_id, redeemed_at=now))
            await session.flush()
    except IntegrityError:
        # The same user redeeming the same multi-use code twice: one use per person.
        raise VoucherAlreadyRedeemed("You have already redeemed this voucher code") from None
    await _grant_membership(session, voucher, user_id, now)
    return voucher


async def _grant_membership(
    session: AsyncSession, voucher: Voucher, user_id: int, now: datetime
) -> None:
    access_until = now + timedelta(days=voucher.access_days) if voucher.access_days else None
    membership = await session.scalar(
        select(PartnerMembership).where(
            PartnerMembership.partner_id == voucher.partner_id,
            PartnerMembership.user_id == user_id,
        )
    )
    if membership is None:
        session.add(
            PartnerMembership(
                partner_id=voucher.partner_id,
                user_id=user_id,
                voucher_id=voucher.id,
                joined_at=now,
                access_until=access_until,
                premium=voucher.grants_premium,
            )
        )
    else:
        # A later voucher extends, never shortens: joined_at stays, the later end wins (no end
        # beats any end), and premium once granted stays granted.
        if membership.access_until is not None:
            membership.access_until = (
                None if access_until is None else max(membership.access_until, access_until)
            )
        membership.premium = membership.premium or voucher.grants_premium
    if voucher.grants_premium:
        user = await session.get(User, user_id)
        assert user is not None  # the caller just created (or holds) this user
        premium_until = access_until or PREMIUM_NO_END
        if user.premium_until is None or user.premium_until < premium_until:
            user.premium_until = premium_until
    await session.flush()


class PartnerVoucherRedeemer:
    """The accounts capability's :class:`~stvos.accounts.hooks.VoucherRedeemer` (sign-up)."""

    async def redeem(self, session: AsyncSession, *, code: str, user_id: int) -> None:
        await redeem(session, code=code, user_id=user_id)


# --- checking before sign-up (POST /auth/voucher/validate, client scope) ----------------------


async def validate(
    session: AsyncSession, accounts: Accounts, *, client_id: int, address: str, code: str
) -> dict[str, Any]:
    """A redeemable code's terms, or the error sign-up would give. Throttled per client and
    per address, since it is an oracle for guessing codes."""
    await throttle.voucher_check(
        accounts.limiter, accounts.settings, address=address, client_id=client_id
    )
    now = utcnow()
    voucher, partner = await _find(session, code)
    if not _redeemable(voucher, partner, now):
        raise _refusal(voucher, partner, now)
    assert voucher is not None
    assert partner is not None
    return {
        "valid": True,
        "code": voucher.code,
        "expires_at": voucher.expires_at,
        "access_days": voucher.access_days,
        "grants_premium": voucher.grants_premium,
        "partner": {"id": partner.id, "name": partner.name},
    }


# --- the public join page (platform scope: the code names the client) -------------------------


async def client_of_code(session: AsyncSession, code: str) -> int | None:
    """The client a code belongs to (platform scope), for the universal key's client hint."""
    normalized = normalize_code(code)
    if not normalized:
        return None
    client_id: int | None = await session.scalar(
        select(Voucher.client_id).where(Voucher.code == normalized)
    )
    return client_id


async def join_page(
    session: AsyncSession, accounts: Accounts, *, address: str, code: str
) -> dict[str, Any]:
    """The code's state with its app's branding; unknown codes (and suspended apps) are 404."""
    await throttle.voucher_check(accounts.limiter, accounts.settings, address=address)
    now = utcnow()
    # Platform scope: nothing is filtered by client, so every join names the client explicitly.
    row = (
        await session.execute(
            select(Voucher, Partner, Client)
            .join(
                Partner,
                and_(Partner.client_id == Voucher.client_id, Partner.id == Voucher.partner_id),
            )
            .join(Client, Client.id == Voucher.client_id)
            .where(Voucher.code == normalize_code(code))
        )
    ).one_or_none()
    if row is None or not row[2].is_active:
        raise VoucherNotFound("No such voucher code")
    voucher, partner, client = row
    valid = _redeemable(voucher, partner, now)
    return {
        "code": voucher.code,
        "valid": valid,
        "status": wire_status(voucher, now),
        "reason": None if valid else _refusal(voucher, partner, now).code,
        "expires_at": voucher.expires_at,
        "access_days": voucher.access_days,
        "grants_premium": voucher.grants_premium,
        "client": public_client(client),
        "partner": {"name": partner.name},
    }
