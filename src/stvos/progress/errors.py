"""The progress domain's errors."""

from __future__ import annotations

from stvos.kit.errors import ValidationFailed


class ImplausibleEntry(ValidationFailed):
    """A logged value outside what a person can plausibly do or eat (400 VALIDATION_ERROR)."""

    default_message = "The entry is not plausible"


def invalid(field: str, message: str) -> ImplausibleEntry:
    """A validation error naming one field, shaped like the ones Pydantic's produce."""
    return ImplausibleEntry(f"{field}: {message}", details=[{"field": field, "message": message}])
