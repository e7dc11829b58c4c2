"""Errors as classes: each carries its HTTP status and machine code, rendered in one place."""

from __future__ import annotations

from typing import Any, ClassVar


class StvosError(Exception):
    """Base of every error a service raises on purpose."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"
    default_message: ClassVar[str] = "The request could not be processed"
    # Most errors undo the request's writes. A few are outcomes whose effects must stand
    # (a reused refresh token ends its whole sign-in family): those commit, then answer.
    keeps_changes: ClassVar[bool] = False

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class ValidationFailed(StvosError):
    status = 400
    code = "VALIDATION_ERROR"
    default_message = "The request is not valid"


def invalid_field(field: str, message: str) -> ValidationFailed:
    """A 400 naming one field (as the wire spells it), shaped like Pydantic's validation errors."""
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "message": message}])


class ApiKeyRequired(StvosError):
    status = 401
    code = "API_KEY_REQUIRED"
    default_message = "An X-API-Key header is required"


class InvalidApiKey(StvosError):
    status = 401
    code = "INVALID_API_KEY"
    default_message = "The API key is not valid or has been revoked"


class Unauthorized(StvosError):
    status = 401
    code = "UNAUTHORIZED"
    default_message = "Authentication is required"


class Forbidden(StvosError):
    status = 403
    code = "FORBIDDEN"
    default_message = "You are not allowed to do this"


class ClientSuspended(StvosError):
    status = 403
    code = "CLIENT_SUSPENDED"
    default_message = "This client is suspended"


class FeatureDisabled(StvosError):
    status = 403
    code = "FEATURE_DISABLED"
    default_message = "This feature is not enabled for this client"


class NotFound(StvosError):
    status = 404
    code = "NOT_FOUND"
    default_message = "Not found"


class MethodNotAllowed(StvosError):
    status = 405
    code = "METHOD_NOT_ALLOWED"
    default_message = "This method is not allowed on this path"


class Conflict(StvosError):
    status = 409
    code = "CONFLICT"
    default_message = "The request conflicts with the current state"


class InvalidStateTransition(Conflict):
    code = "INVALID_STATE_TRANSITION"
    default_message = "This change is not allowed from the current state"


class IdempotencyConflict(StvosError):
    status = 409
    code = "IDEMPOTENCY_CONFLICT"
    default_message = "This Idempotency-Key was already used with a different request"


class PayloadTooLarge(StvosError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    default_message = "The request body is too large"


class UnsupportedMediaType(StvosError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    default_message = "The request body must be application/json"


class RateLimited(StvosError):
    status = 429
    code = "RATE_LIMITED"
    default_message = "Too many requests; slow down"


class NoDefaultClient(StvosError):
    status = 400
    code = "NO_DEFAULT_CLIENT"
    default_message = "No client could be determined for this request and none is the default"


class ProviderUnavailable(StvosError):
    status = 503
    code = "PROVIDER_UNAVAILABLE"
    default_message = "An outside service is unavailable"


class DatabaseBusy(ProviderUnavailable):
    """Every pooled database connection stayed in use for the pool's timeout: an overload, so
    the caller is told to come back shortly rather than given a 500."""

    default_message = "The service is busy; retry shortly"


class TenancyViolation(RuntimeError):
    """A programming error: tenant-owned data touched without, or across, a client scope.

    Not a StvosError on purpose: it must surface as a 500 and a traceback, never as a
    polite 4xx that hides the bug.
    """
