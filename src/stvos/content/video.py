"""Short-lived signed playback URLs, and their check (for a CDN edge or a player proxy).

A signed URL is the class's video URL with two query parameters appended (its own query
parameters are kept, in order): ``expires=<unix seconds>&signature=<hex>``. The signature is

    HMAC-SHA256(key, path + "?" + query)

where ``path`` is the URL's path and ``query`` its raw query string up to (not including)
``&signature=...``, so it covers the path, the original parameters and the expiry; the host is
not covered, so the same URL can be served by any edge of the CDN. ``signature`` is always the
last parameter. The key is ``STVOS_CONTENT_VIDEO_SIGNING_KEY`` or, when unset, one derived from
the access-token secret (:func:`signing_key`).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from stvos.accounts.tokens import TokenSigner
from stvos.config import Settings

EXPIRES_PARAM = "expires"
SIGNATURE_PARAM = "signature"
_DERIVED_KEY_LABEL = "stvos/video-url/v1"


def signing_key(settings: Settings, signer: TokenSigner) -> bytes:
    """The configured video signing key, else one derived from the token secret."""
    configured = settings.content.video_signing_key
    if configured is not None:
        return configured.get_secret_value().encode()
    return signer.derive_key(_DERIVED_KEY_LABEL)


def _signature(key: bytes, path: str, query: str) -> str:
    return hmac.new(key, f"{path}?{query}".encode(), hashlib.sha256).hexdigest()


def _own_params(query: str) -> list[str]:
    """The raw query parameters, minus any expiry and signature the stored URL carried."""
    return [
        part
        for part in query.split("&")
        if part and part.split("=", 1)[0] not in {EXPIRES_PARAM, SIGNATURE_PARAM}
    ]


def sign_url(url: str, key: bytes, expires_at: datetime) -> str:
    """``url`` with ``expires`` and ``signature`` appended (its own parameters kept)."""
    parts = urlsplit(url)
    expires = int(expires_at.timestamp())
    query = "&".join([*_own_params(parts.query), f"{EXPIRES_PARAM}={expires}"])
    signature = _signature(key, parts.path, query)
    return urlunsplit(parts._replace(query=f"{query}&{SIGNATURE_PARAM}={signature}"))


def verify_signed_url(url: str, key: bytes, now: datetime) -> bool:
    """True when ``url`` was signed with ``key`` and has not expired at ``now``."""
    parts = urlsplit(url)
    signed, separator, signature = parts.query.rpartition(f"&{SIGNATURE_PARAM}=")
    if not separator or not signature or "&" in signature:
        return False
    expiries = [p.split("=", 1)[1] for p in signed.split("&") if p.startswith(f"{EXPIRES_PARAM}=")]
    if len(expiries) != 1 or not expiries[0].isdigit():
        return False
    expected = _signature(key, parts.path, signed)
    if not hmac.compare_digest(expected, signature):
        return False
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.timestamp() < int(expiries[0])
