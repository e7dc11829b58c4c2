from stvos.kit.errors import Conflict, InvalidStateTransition, NotFound


class CannotDisableSelf(Conflict):
    code = "CANNOT_DISABLE_SELF"
    default_message = "You cannot disable your own account"


class AccountErased(InvalidStateTransition):
    default_message = "This account has been erased"


class CategoryNotFound(NotFound):
    default_message = "No such category"


class ClassNotFound(NotFound):
    default_message = "No such class"


class SlugTaken(Conflict):
    code = "SLUG_TAKEN"
    default_message = "Another category of this app already uses this slug"


class CategoryInUse(Conflict):
    code = "CATEGORY_IN_USE"
    default_message = "Classes still use this category; move or delete them first"


class InvalidTransition(InvalidStateTransition):
    default_message = "This class cannot make that change from its current state"
