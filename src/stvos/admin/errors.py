from stvos.kit.errors import Conflict


class AdminExists(Conflict):
    code = "ADMIN_EXISTS"
    default_message = "A platform admin with this email already exists"


class SuspendedDefault(Conflict):
    code = "INVALID_STATE_TRANSITION"
    default_message = "A suspended client cannot be the default client"
