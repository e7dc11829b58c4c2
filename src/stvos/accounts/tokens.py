"""Access tokens (short-lived HS256 JWTs) and refresh tokens (opaque, stored hashed, rotated).

Three audiences keep the token kinds apart: a partner-staff token never passes as a user's and
an admin's never as either. User and partner tokens are bound to one client (``clientId``).
``ver`` is the account's token version: bumping it ends every access token at once.
``sid`` names the refresh family (the sign-in) the token came from.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts.errors import (
    InvalidToken,
    RefreshTokenInvalid,
    RefreshTokenReused,
    TokenExpired,
)
from stvos.config import Settings
from stvos.kit.clock import utcnow
from stvos.models import RefreshToken

ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "typ", "ver"]


class Audience(StrEnum):
    USER = "stvos:user"
    PARTNER = "stvos:partner"
    ADMIN = "stvos:admin"


_TOKEN_TYPE = {
    Audience.USER: "access",
    Audience.PARTNER: "partner_access",
    Audience.ADMIN: "admin_access",
}


@dataclass(frozen=True, slots=True)
class AccessClaims:
    audience: Audience
    subject_id: int
    token_version: int
    client_id: int | None = None
    role: str | None = None
    partner_id: int | None = None
    family: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedAccess:
    token: str
    expires_in: int


def _load_or_create_secret(settings: Settings) -> bytes:
    """The configured key, or one generated once into the data directory (shared by workers)."""
    if settings.auth.jwt_secret is not None:
        return settings.auth.jwt_secret.get_secret_value().encode()
    path = Path(settings.data_dir) / "jwt-secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        secret = secrets.token_urlsafe(48).encode()
        handle.write(secret)
    return secret


# Verified tokens remembered per process: a player sends the same access token with every
# heartbeat (every 30 s for its whole lifetime), and checking an HS256 signature with PyJWT costs
# about 100 us of CPU. Only signature, audience and issuer are remembered; type, expiry and
# not-before are checked on every use, and the account check (logout, disable) is not a
# token's business. About 1 kB per entry.
VERIFIED_CACHE_SIZE = 4096


class TokenSigner:
    def __init__(self, settings: Settings) -> None:
        self._secret = _load_or_create_secret(settings)
        self.issuer = settings.auth.jwt_issuer
        self.user_ttl = settings.auth.access_token_ttl_seconds
        self.admin_ttl = settings.auth.admin_token_ttl_seconds
        self._verified: OrderedDict[tuple[str, Audience], dict[str, Any]] = OrderedDict()

    def derive_key(self, label: str) -> bytes:
        """A key for another purpose (e.g. ``"video-url"``), derived from the token secret with
        HMAC-SHA256 so that neither key reveals the other."""
        return hmac.new(self._secret, label.encode(), hashlib.sha256).digest()

    def issue(self, claims: AccessClaims) -> IssuedAccess:
        now = utcnow()
        ttl = self.admin_ttl if claims.audience is Audience.ADMIN else self.user_ttl
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": claims.audience.value,
            "sub": str(claims.subject_id),
            "typ": _TOKEN_TYPE[claims.audience],
            "jti": uuid.uuid4().hex,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=ttl),
            "ver": claims.token_version,
        }
        if claims.client_id is not None:
            payload["clientId"] = claims.client_id
        if claims.role is not None:
            payload["role"] = claims.role
        if claims.partner_id is not None:
            payload["partnerId"] = claims.partner_id
        if claims.family is not None:
            payload["sid"] = claims.family
        return IssuedAccess(jwt.encode(payload, self._secret, algorithm=ALGORITHM), ttl)

    def verify(self, token: str, audience: Audience) -> AccessClaims:
        key = (token, audience)
        payload = self._verified.get(key)
        if payload is None:
            payload = self._decode(token, audience)
            self._verified[key] = payload
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)  # the oldest first
        return self._claims(payload, audience)

    def _decode(self, token: str, audience: Audience) -> dict[str, Any]:
        """The payload of a token whose signature, audience and issuer hold."""
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=audience.value,
                issuer=self.issuer,
                # Times are checked in _claims against the injectable clock (kit.clock).
                options={
                    "require": _REQUIRED_CLAIMS,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError:
            raise InvalidToken() from None
        return payload

    def _claims(self, payload: dict[str, Any], audience: Audience) -> AccessClaims:
        if payload.get("typ") != _TOKEN_TYPE[audience]:
            raise InvalidToken()
        now = utcnow().timestamp()
        try:
            expires, not_before = float(payload["exp"]), float(payload["nbf"])
        except (TypeError, ValueError):
            raise InvalidToken() from None
        if expires <= now:
            raise TokenExpired()
        if not_before > now + 1:  # one second of skew between workers
            raise InvalidToken("The access token is not valid yet")
        try:
            return AccessClaims(
                audience=audience,
                subject_id=int(payload["sub"]),
                token_version=int(payload["ver"]),
                client_id=_optional_int(payload.get("clientId")),
                role=payload.get("role"),
                partner_id=_optional_int(payload.get("partnerId")),
                family=payload.get("sid"),
            )
        except (TypeError, ValueError):
            raise InvalidToken() from None

    def client_of(self, token: str) -> int | None:
        """The client a valid user token is bound to (universal-key mode), else None."""
        try:
            return self.verify(token, Audience.USER).client_id
        except (InvalidToken, TokenExpired):
            return None


def token_placements(access: IssuedAccess, refresh_raw: str) -> dict[str, Any]:
    """Both published placements of a sign-in's tokens: flat, and under ``tokens``."""
    return {
        "access_token": access.token,
        "refresh_token": refresh_raw,
        "tokens": {
            "access_token": access.token,
            "refresh_token": refresh_raw,
            "expires_in": access.expires_in,
        },
    }


def _optional_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("not an integer")
    return int(value)


# --- refresh tokens ---------------------------------------------------------------------------


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _new_raw() -> str:
    return "rt_" + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class IssuedRefresh:
    raw: str
    family: str
    expires_at: datetime


async def open_family(
    session: AsyncSession,
    settings: Settings,
    *,
    client_id: int,
    user_id: int | None = None,
    partner_staff_id: int | None = None,
) -> IssuedRefresh:
    """Start a sign-in: a new refresh family with its first token."""
    return await _issue(
        session,
        settings,
        client_id=client_id,
        family=uuid.uuid4().hex,
        user_id=user_id,
        partner_staff_id=partner_staff_id,
    )


async def _issue(
    session: AsyncSession,
    settings: Settings,
    *,
    client_id: int,
    family: str,
    user_id: int | None,
    partner_staff_id: int | None,
) -> IssuedRefresh:
    raw = _new_raw()
    now = utcnow()
    expires_at = now + timedelta(days=settings.auth.refresh_token_ttl_days)
    session.add(
        RefreshToken(
            client_id=client_id,
            user_id=user_id,
            partner_staff_id=partner_staff_id,
            family=family,
            token_hash=_hash(raw),
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return IssuedRefresh(raw=raw, family=family, expires_at=expires_at)


async def rotate(
    session: AsyncSession, settings: Settings, raw: str
) -> tuple[RefreshToken, IssuedRefresh]:
    """Exchange a refresh token for the next one of its family.

    A token that was already exchanged (or loses a race to be exchanged) is a sign the family
    leaked: the whole family is revoked, and that revocation is kept (``keeps_changes``).
    """
    if not raw or len(raw) > 200:
        raise RefreshTokenInvalid()
    token = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash(raw)))
    now = utcnow()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise RefreshTokenInvalid()
    if token.used_at is not None:
        await revoke_family(session, token.family)
        raise RefreshTokenReused()
    # Atomic: of two concurrent exchanges of one token, exactly one wins.
    claimed = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.id == token.id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await revoke_family(session, token.family)
        raise RefreshTokenReused()
    issued = await _issue(
        session,
        settings,
        client_id=token.client_id,
        family=token.family,
        user_id=token.user_id,
        partner_staff_id=token.partner_staff_id,
    )
    return token, issued


async def family_of(session: AsyncSession, raw: str) -> str | None:
    """The family of a refresh token of the current scope, whatever its state."""
    return await session.scalar(
        select(RefreshToken.family).where(RefreshToken.token_hash == _hash(raw))
    )


async def revoke_family(session: AsyncSession, family: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def revoke_all(
    session: AsyncSession, *, user_id: int | None = None, partner_staff_id: int | None = None
) -> None:
    """End every sign-in of an account (password change, disable, erase)."""
    condition = (
        RefreshToken.user_id == user_id
        if user_id is not None
        else RefreshToken.partner_staff_id == partner_staff_id
    )
    await session.execute(
        update(RefreshToken)
        .where(condition, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
