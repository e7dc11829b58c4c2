from stvos.kit.errors import Conflict, Forbidden, RateLimited, StvosError, Unauthorized


class UserExists(Conflict):
    code = "USER_EXISTS"
    default_message = "An account with this email already exists"


class InvalidCredentials(StvosError):
    status = 401
    code = "INVALID_CREDENTIALS"
    default_message = "Email or password is incorrect"


class TokenExpired(Unauthorized):
    code = "TOKEN_EXPIRED"
    default_message = "The access token has expired; refresh it"


class InvalidToken(Unauthorized):
    default_message = "The access token is not valid"


class RefreshTokenInvalid(Unauthorized):
    default_message = "The refresh token is not valid or has expired"


class RefreshTokenReused(StvosError):
    status = 401
    code = "REFRESH_TOKEN_REUSED"
    keeps_changes = True  # the family's revocation must stand
    default_message = (
        "This refresh token was already used; every session of this sign-in has been ended"
    )


class AccountDisabled(Forbidden):
    code = "ACCOUNT_DISABLED"
    default_message = "This account is disabled"


class VoucherRequired(StvosError):
    status = 400
    code = "VOUCHER_REQUIRED"
    default_message = "This app needs a voucher code to sign up"


class InvalidVoucher(StvosError):
    status = 400
    code = "INVALID_VOUCHER"
    default_message = "The voucher code is not valid"


class TooManyAttempts(RateLimited):
    default_message = "Too many attempts; wait before trying again"


class WrongRole(Forbidden):
    default_message = "Your role does not allow this"


class InvalidResetToken(StvosError):
    status = 400
    code = "INVALID_RESET_TOKEN"
    default_message = "This password-reset link is not valid; ask for a new one"
