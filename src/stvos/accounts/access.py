"""The bearer layers of access: end users, trainers, studio staff, partner staff, admins.

Installed into the API-key authenticator by ``create_app``. Each layer verifies its own token
audience, then loads the account in the request's session (one query, and the account is then
in the session for the route) to refuse disabled, erased or logged-out-everywhere accounts.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import ColumnElement, and_, bindparam, exists, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts.errors import InvalidToken, WrongRole
from stvos.accounts.tokens import AccessClaims, Audience, TokenSigner
from stvos.kit.db import require_before_commit
from stvos.kit.errors import ClientSuspended, Unauthorized
from stvos.kit.policy import Auth, Caller, PendingSignIn
from stvos.models import (
    AccountStatus,
    Partner,
    PartnerStaff,
    PlatformAdmin,
    RefreshToken,
    Role,
    User,
)
from stvos.tenancy.access import ClientAuthenticator, declare_scope

_ROLE_OF_LAYER = {Auth.TRAINER: Role.TRAINER.value, Auth.STAFF: Role.CLIENT_ADMIN.value}


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("An Authorization: Bearer <accessToken> header is required")
    return token.strip()


def _family_live(family: str | None) -> ColumnElement[bool]:
    """True while the sign-in ``family`` still has an unrevoked refresh token."""
    if family is None:
        return false()
    return (
        select(RefreshToken.id)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .exists()
    )


def sign_in_live(
    client: ColumnElement[Any],
    user: ColumnElement[Any],
    version: ColumnElement[Any],
    family: ColumnElement[Any],
) -> ColumnElement[bool]:
    """Whether a sign-in (user, token version, refresh family) is still good, as one boolean
    column of a route's own statement: the expressions may be bind parameters or the columns of
    a batch's rows (explicit client conditions: these prebuilt statements run beside the ORM
    filter)."""
    users, refresh = User.__table__, RefreshToken.__table__
    family_live = (
        exists()
        .where(
            refresh.c.client_id == client,
            refresh.c.family == family,
            refresh.c.revoked_at.is_(None),
        )
        .correlate_except(refresh)
    )
    return (
        exists()
        .where(
            and_(
                users.c.client_id == client,
                users.c.id == user,
                users.c.status == AccountStatus.ACTIVE.value,
                users.c.token_version == version,
                family_live,
            )
        )
        .correlate_except(users)
    )


# One pending sign-in's check; its bind parameters come from sign_in_params().
SIGN_IN_LIVE: ColumnElement[bool] = sign_in_live(
    bindparam("sign_in_client"),
    bindparam("sign_in_user"),
    bindparam("sign_in_version"),
    bindparam("sign_in_family"),
)


def sign_in_params(client_id: int, pending: PendingSignIn) -> dict[str, Any]:
    return {
        "sign_in_client": client_id,
        "sign_in_user": pending.user_id,
        "sign_in_version": pending.token_version,
        "sign_in_family": pending.family,
    }


def confirm_sign_in(pending: PendingSignIn, live: bool) -> None:
    """Record the outcome of a route's folded-in account check; a dead sign-in is a 401."""
    if not live:
        raise InvalidToken("This sign-in is no longer valid")
    pending.confirmed = True


async def check_sign_in(session: AsyncSession, client_id: int, pending: PendingSignIn) -> None:
    """The account check on its own, for a route's paths that have no statement to fold it
    into (its object was not found: the caller must learn 401 before 404)."""
    conn = await session.connection()
    live = await conn.scalar(select(SIGN_IN_LIVE), sign_in_params(client_id, pending))
    confirm_sign_in(pending, bool(live))


class AccountAuthenticator:
    def __init__(self, signer: TokenSigner, clients: ClientAuthenticator) -> None:
        self.signer = signer
        self.clients = clients

    async def authenticate(self, request: Request, caller: Caller, session: AsyncSession) -> Caller:
        token = bearer_token(request)
        layer = caller.policy.auth
        if layer is Auth.PARTNER:
            return await self._partner(self.signer.verify(token, Audience.PARTNER), caller, session)
        if layer is Auth.ADMIN:
            return await self._admin(self.signer.verify(token, Audience.ADMIN), caller, session)
        return await self._user(self.signer.verify(token, Audience.USER), caller, session)

    async def _user(self, claims: AccessClaims, caller: Caller, session: AsyncSession) -> Caller:
        # A token is bound to its client: client A's token with client B's key is refused.
        if caller.client is None or claims.client_id != caller.client.id:
            raise InvalidToken("This token belongs to another app")
        if caller.policy.sign_in_checked_by_route:
            pending = PendingSignIn(claims.subject_id, claims.token_version, claims.family)
            require_before_commit(session, pending)
            caller.user_id = claims.subject_id
            caller.pending_sign_in = pending
            caller.extra["family"] = claims.family
            return caller
        # One statement: the account, and whether its sign-in (refresh family) is still live,
        # so a logout or a detected refresh-token reuse ends the access tokens at once too.
        row = (
            await session.execute(
                select(User, _family_live(claims.family)).where(User.id == claims.subject_id)
            )
        ).one_or_none()
        if row is None:
            raise InvalidToken("This sign-in is no longer valid")
        user, signed_in = row
        if not signed_in or not user.is_active or user.token_version != claims.token_version:
            raise InvalidToken("This sign-in is no longer valid")
        required = _ROLE_OF_LAYER.get(caller.policy.auth)
        if required is not None and user.role != required:
            raise WrongRole(f"This needs the {required} role")
        caller.user_id = user.id
        caller.role = user.role
        caller.extra["family"] = claims.family
        return caller

    async def _partner(self, claims: AccessClaims, caller: Caller, session: AsyncSession) -> Caller:
        if claims.client_id is None:
            raise InvalidToken()
        client = await self.clients.client_by_id(claims.client_id)
        if client is None:
            raise InvalidToken()
        if not client.is_active:
            raise ClientSuspended()
        caller.client = client
        declare_scope(session, caller)
        row = (
            await session.execute(
                select(PartnerStaff, _family_live(claims.family)).where(
                    PartnerStaff.id == claims.subject_id
                )
            )
        ).one_or_none()
        staff, signed_in = row if row is not None else (None, False)
        if (
            staff is None
            or not signed_in
            or staff.status != "active"
            or staff.token_version != claims.token_version
            or staff.partner_id != claims.partner_id
        ):
            raise InvalidToken("This sign-in is no longer valid")
        partner = await session.get(Partner, staff.partner_id)
        if partner is None or partner.status != "active":
            raise InvalidToken("This partner is no longer active")
        caller.partner_id = staff.partner_id
        caller.extra["partner_staff_id"] = staff.id
        caller.extra["family"] = claims.family
        return caller

    async def _admin(self, claims: AccessClaims, caller: Caller, session: AsyncSession) -> Caller:
        caller.admin_id = claims.subject_id
        declare_scope(session, caller)  # platform scope
        admin = await session.get(PlatformAdmin, claims.subject_id)
        if admin is None or admin.status != "active" or admin.token_version != claims.token_version:
            caller.admin_id = None
            raise InvalidToken("This sign-in is no longer valid")
        return caller

    async def client_hint(self, request: Request) -> int | None:
        """Under the universal key, a signed-in user's token names the client."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.signer.client_of(token.strip())
