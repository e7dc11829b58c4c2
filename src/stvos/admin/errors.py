from stvos.kit.errors import Conflict, InvalidStateTransition


class AdminExists(Conflict):
    code = "ADMIN_EXISTS"
    default_message = "A platform admin with this email already exists"


class SuspendedDefault(InvalidStateTransition):
    default_message = "A suspended client cannot be the default client"
