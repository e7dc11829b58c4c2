from stvos.kit.errors import Conflict


class CannotDisableSelf(Conflict):
    code = "CANNOT_DISABLE_SELF"
    default_message = "You cannot disable your own account"


class AccountErased(Conflict):
    code = "INVALID_STATE_TRANSITION"
    default_message = "This account has been erased"
