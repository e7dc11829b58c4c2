"""What the accounts services need from the application, built once in create_app."""

from __future__ import annotations

from dataclasses import dataclass, field

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
