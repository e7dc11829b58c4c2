from stvos.kit.errors import Conflict, NotFound, StvosError


class TrainerNotFound(NotFound):
    default_message = "No such trainer"


class InviteNotFound(NotFound):
    default_message = "No such invite"


class InviteUsed(Conflict):
    code = "INVITE_USED"
    default_message = "This invite has already been accepted"


class InviteExpired(StvosError):
    status = 400
    code = "INVITE_EXPIRED"
    default_message = "This invite has expired; ask the studio for a new one"


class InviteRevoked(StvosError):
    status = 400
    code = "INVITE_REVOKED"
    default_message = "This invite has been withdrawn; ask the studio for a new one"


class InviteEmailMismatch(StvosError):
    status = 400
    code = "INVITE_EMAIL_MISMATCH"
    default_message = "This invite was sent to a different email address"


class TrainerHasAccount(Conflict):
    code = "TRAINER_HAS_ACCOUNT"
    default_message = "This trainer profile already has a login"
