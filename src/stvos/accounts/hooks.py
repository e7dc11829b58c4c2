"""Extension points other capabilities fill in.

Vouchers: ``voucherCode`` on sign-up is redeemed through a :class:`VoucherRedeemer`, inside the
sign-up's transaction (a refused code rolls the new user back). ``create_app`` installs the
partners capability's :class:`stvos.partners.redemption.PartnerVoucherRedeemer`; the default
:class:`NoVouchers` (an app built without partners) refuses every code with ``INVALID_VOUCHER``.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts.errors import InvalidVoucher


class VoucherRedeemer(Protocol):
    async def redeem(self, session: AsyncSession, *, code: str, user_id: int) -> None:
        """Redeem ``code`` for the new user, atomically, or raise a voucher error."""
        ...


class NoVouchers:
    """No voucher programme on this server yet: every code is unknown."""

    async def redeem(self, session: AsyncSession, *, code: str, user_id: int) -> None:
        raise InvalidVoucher("The voucher code is not valid")
