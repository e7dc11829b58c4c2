from stvos.kit.errors import Conflict, NotFound, ValidationFailed


class ClientNotFound(NotFound):
    default_message = "No such client"


class ApiKeyNotFound(NotFound):
    default_message = "No such API key"


class SlugTaken(Conflict):
    code = "CLIENT_EXISTS"
    default_message = "A client with this slug already exists"


class InvalidClientSettings(ValidationFailed):
    default_message = "The client settings are not valid"
