"""The content domain's errors."""

from __future__ import annotations

from stvos.kit.errors import NotFound, StvosError


class ClassNotFound(NotFound):
    default_message = "No such class"


class PremiumRequired(StvosError):
    status = 403
    code = "PREMIUM_REQUIRED"
    default_message = "This class needs premium access"
