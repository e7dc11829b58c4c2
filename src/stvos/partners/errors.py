from stvos.kit.errors import Forbidden, NotFound


class PartnerNotFound(NotFound):
    default_message = "No such partner"


class PartnerInactive(Forbidden):
    code = "PARTNER_INACTIVE"
    default_message = "This partner is not active"
