"""Errors of the partners capability: partners, vouchers and their redemption, members,
products."""

from stvos.kit.errors import Conflict, Forbidden, NotFound


class PartnerNotFound(NotFound):
    default_message = "No such partner"


class PartnerInactive(Forbidden):
    code = "PARTNER_INACTIVE"
    default_message = "This partner is not active"


class VoucherAlreadyRedeemed(Conflict):
    code = "VOUCHER_ALREADY_REDEEMED"
    default_message = "This voucher code has already been used"


class VoucherExpired(Conflict):
    code = "VOUCHER_EXPIRED"
    default_message = "This voucher code has expired"


class VoucherRevoked(Conflict):
    code = "VOUCHER_REVOKED"
    default_message = "This voucher code has been withdrawn"


class VoucherNotFound(NotFound):
    default_message = "No such voucher"


class VoucherNotRevocable(Conflict):
    """Revoking is for active codes; a redeemed one already made a member."""

    default_message = "A redeemed voucher cannot be revoked"


class MemberNotFound(NotFound):
    default_message = "No such member"


class ProductNotFound(NotFound):
    default_message = "No such product"
