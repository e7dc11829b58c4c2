"""What the accounts services need from the application, built once in create_app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from stvos.accounts.hooks import NoVouchers, VoucherRedeemer
from stvos.accounts.tokens import TokenSigner
from stvos.config import Settings
from stvos.kit.ratelimit import RateLimiter


@dataclass
class Accounts:
    settings: Settings
    signer: TokenSigner
    limiter: RateLimiter
    vouchers: VoucherRedeemer = field(default_factory=NoVouchers)


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


AccountsDep = Annotated[Accounts, Depends(_accounts)]
