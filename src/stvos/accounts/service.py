"""Sign-up, sign-in, token refresh and sign-out of a client's users, and their profile.

Every function runs in the request's client scope: users of other clients are invisible here,
so "user of client A signs in with client B's key" simply finds no account.
"""

from __future__ import annotations

import secrets
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts import passwords, throttle, tokens
from stvos.accounts.context import Accounts
from stvos.accounts.errors import (
    AccountDisabled,
    InvalidCredentials,
    RefreshTokenInvalid,
    UserExists,
    VoucherRequired,
)
from stvos.accounts.schemas import (
    DEFAULT_NOTIFICATIONS,
    ChangePasswordIn,
    LoginIn,
    RegisterIn,
    UserUpdate,
)
from stvos.accounts.tokens import AccessClaims, Audience
from stvos.kit.clock import utcnow
from stvos.kit.db import Database
from stvos.kit.errors import NotFound, ValidationFailed
from stvos.kit.policy import ClientContext
from stvos.kit.tenancy import TenantScope
from stvos.kit.zones import zone_named
from stvos.models import (
    AccountStatus,
    Client,
    OnboardingSession,
    OutboxMail,
    PasswordResetToken,
    ProgressEntry,
    Role,
    Trainer,
    User,
)
from stvos.onboarding import service as onboarding
from stvos.tenancy.service import client_brief


def normalize_email(email: str) -> str:
    return email.strip().lower()


# --- answers ----------------------------------------------------------------------------------


def user_summary(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role}


async def user_out(session: AsyncSession, user: User) -> dict[str, Any]:
    coach = await session.get(Trainer, user.coach_id) if user.coach_id else None
    notifications = {**DEFAULT_NOTIFICATIONS, **(user.settings or {}).get("notifications", {})}
    return {
        **user_summary(user),
        "status": user.status,
        "profile": user.profile or {},
        "settings": {"notifications": notifications},
        "coach": {"id": coach.id, "name": coach.name} if coach else None,
        "premium_until": user.premium_until,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
    }


def tokens_answer(accounts: Accounts, user: User, refresh: tokens.IssuedRefresh) -> dict[str, Any]:
    access = accounts.signer.issue(
        AccessClaims(
            audience=Audience.USER,
            subject_id=user.id,
            token_version=user.token_version,
            client_id=user.client_id,
            role=user.role,
            family=refresh.family,
        )
    )
    return {"user": user_summary(user), **tokens.token_placements(access, refresh.raw)}


async def _sign_in(session: AsyncSession, accounts: Accounts, user: User) -> dict[str, Any]:
    refresh = await tokens.open_family(
        session, accounts.settings, client_id=user.client_id, user_id=user.id
    )
    return tokens_answer(accounts, user, refresh)


# --- sign-up and sign-in ----------------------------------------------------------------------


def _merge_profile(*layers: dict[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({k: v for k, v in (layer or {}).items() if v is not None})
    return merged


def _settings_dict(body_settings: Any) -> dict[str, Any]:
    if body_settings is None or body_settings.notifications is None:
        return {}
    return {"notifications": body_settings.notifications.model_dump(exclude_none=True)}


async def _check_coach(session: AsyncSession, coach_id: int) -> None:
    coach = await session.get(Trainer, coach_id)
    if coach is None or not coach.is_active:
        raise ValidationFailed(
            "coachId is not a trainer of this app",
            details=[{"field": "coachId", "message": "No such trainer"}],
        )


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    name: str | None,
    role: Role = Role.USER,
    profile: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    coach_id: int | None = None,
    client_id: int | None = None,
) -> User:
    """A new account in the current client; ``USER_EXISTS`` if the email is taken there.

    ``client_id`` names the client explicitly for callers in the platform scope (accepting a
    trainer invite has no API key); in a client scope it may be left out.
    """
    normalized = normalize_email(email)
    # Hash before the first query: no transaction (nor SQLite's write lock) is held while the
    # deliberately slow hash runs.
    password_hash = await passwords.hash_password(password)
    query = select(User.id).where(User.email_normalized == normalized)
    if client_id is not None:
        query = query.where(User.client_id == client_id)
    taken = await session.scalar(query)
    if taken is not None:
        raise UserExists()
    user = User(
        client_id=client_id,  # None: stamped with the current client on flush
        email=email.strip(),
        email_normalized=normalized,
        password_hash=password_hash,
        name=name,
        role=role.value,
        status=AccountStatus.ACTIVE.value,
        profile=profile or {},
        settings=settings or {},
        coach_id=coach_id,
        token_version=1,
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise UserExists() from None  # lost a race with a concurrent sign-up
    return user


async def register(
    session: AsyncSession, accounts: Accounts, client: ClientContext, body: RegisterIn
) -> dict[str, Any]:
    if client.requires_voucher and not body.voucher_code:
        raise VoucherRequired()
    if body.coach_id is not None:
        await _check_coach(session, body.coach_id)
    user = await create_user(
        session,
        email=str(body.email),
        password=body.password,
        name=body.name,
        profile=_merge_profile(
            body.profile.model_dump(exclude_unset=True) if body.profile else None
        ),
        settings=_settings_dict(body.settings),
        coach_id=body.coach_id,
    )
    if body.session_id:
        answers = await onboarding.take_for_registration(session, body.session_id, user.id)
        # What the member typed at sign-up wins over what onboarding collected.
        user.profile = _merge_profile(answers.get("profile"), user.profile)
        user.name = user.name or answers.get("name")
    if body.voucher_code:
        await accounts.vouchers.redeem(session, code=body.voucher_code, user_id=user.id)
    user.last_login_at = utcnow()
    await session.flush()
    return await _sign_in(session, accounts, user)


async def login(
    session: AsyncSession,
    accounts: Accounts,
    database: Database,
    client: ClientContext,
    body: LoginIn,
) -> dict[str, Any]:
    email = normalize_email(str(body.email))
    await throttle.sign_in(
        accounts.limiter, accounts.settings, realm=f"c{client.id}", account=email
    )
    # Look up and verify in a short read of its own, so the request's write transaction (and on
    # SQLite the database's write lock) is not held while the slow hash is checked.
    async with database.transaction(TenantScope.for_client(client.id), write=False) as lookup:
        found = (
            await lookup.execute(
                select(User.id, User.password_hash, User.status).where(
                    User.email_normalized == email, User.status != AccountStatus.DELETED.value
                )
            )
        ).one_or_none()
    if not await passwords.verify_password(found.password_hash if found else None, body.password):
        raise InvalidCredentials()
    assert found is not None
    if found.status != AccountStatus.ACTIVE.value:
        raise AccountDisabled()
    rehash = (
        await passwords.hash_password(body.password)
        if passwords.needs_rehash(found.password_hash)
        else None
    )
    user = await session.get(User, found.id)
    if user is None or not user.is_active:
        raise InvalidCredentials()  # changed between the two reads
    if rehash is not None:
        user.password_hash = rehash
    user.last_login_at = utcnow()
    answer = await _sign_in(session, accounts, user)
    db_client = await session.get(Client, client.id)
    assert db_client is not None
    answer["client"] = client_brief(db_client)
    return answer


async def refresh(session: AsyncSession, accounts: Accounts, raw: str) -> dict[str, Any]:
    old, issued = await tokens.rotate(session, accounts.settings, raw)
    if old.user_id is None:
        raise RefreshTokenInvalid()  # a partner-staff token presented as a user's
    user = await session.get(User, old.user_id)
    if user is None or not user.is_active:
        # Disabling or erasing an account already revoked its families; nothing to keep.
        raise RefreshTokenInvalid()
    return tokens_answer(accounts, user, issued)


async def logout(session: AsyncSession, family: str | None, raw_refresh: str | None) -> None:
    """End this sign-in: its refresh family, found from the access token (or the refresh token)."""
    families = {family, await tokens.family_of(session, raw_refresh) if raw_refresh else None}
    for name in families - {None}:
        assert name is not None
        await tokens.revoke_family(session, name)


async def current_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user")
    return user


# --- profile ----------------------------------------------------------------------------------


async def update_me(session: AsyncSession, user: User, body: UserUpdate) -> User:
    if "name" in body.model_fields_set:
        user.name = body.name
    if body.profile is not None:
        profile = dict(user.profile or {})
        for key, value in body.profile.model_dump(exclude_unset=True).items():
            if value is None:
                profile.pop(key, None)  # null clears a field
            else:
                profile[key] = value
        user.profile = profile
    if body.settings is not None and body.settings.notifications is not None:
        settings = dict(user.settings or {})
        notifications = dict(settings.get("notifications") or {})
        notifications.update(body.settings.notifications.model_dump(exclude_none=True))
        settings["notifications"] = notifications
        user.settings = settings
    await session.flush()
    return user


async def erase_me(session: AsyncSession, user: User) -> None:
    """Erase personal data and end every sign-in; the row stays, anonymous, for aggregates."""
    await tokens.revoke_all(session, user_id=user.id)
    # Personal records go with the person: logged workouts and meals, recovery links,
    # onboarding answers, and mail addressed to them (it carries their name and address).
    for statement in (
        delete(PasswordResetToken).where(PasswordResetToken.user_id == user.id),
        delete(ProgressEntry).where(ProgressEntry.user_id == user.id),
        delete(OnboardingSession).where(OnboardingSession.user_id == user.id),
        delete(OutboxMail).where(func.lower(OutboxMail.to_address) == user.email_normalized),
    ):
        await session.execute(statement.execution_options(synchronize_session=False))
    user.email = f"erased-{user.id}@invalid"
    user.email_normalized = f"erased:{user.id}:{secrets.token_hex(8)}"
    user.name = None
    user.password_hash = passwords.unusable_hash()
    user.profile = {}
    user.settings = {}
    user.coach_id = None
    user.status = AccountStatus.DELETED.value
    user.deleted_at = utcnow()
    user.token_version += 1
    await session.flush()


async def change_password(
    session: AsyncSession, accounts: Accounts, user: User, body: ChangePasswordIn
) -> dict[str, Any]:
    """New password; every other sign-in ends, this one continues with fresh tokens."""
    if not await passwords.verify_password(user.password_hash, body.current_password):
        raise InvalidCredentials("The current password is incorrect")
    if body.new_password == body.current_password:
        raise ValidationFailed(
            "The new password must differ from the current one",
            details=[{"field": "newPassword", "message": "Same as the current password"}],
        )
    user.password_hash = await passwords.hash_password(body.new_password)
    user.token_version += 1
    await tokens.revoke_all(session, user_id=user.id)
    await session.flush()
    return await _sign_in(session, accounts, user)


def member_zone(profile: dict[str, Any] | None, client_zone: str | None) -> ZoneInfo:
    """A member's IANA zone: their profile's ``time_zone``, else their client's, else UTC."""
    return (
        zone_named((profile or {}).get("time_zone")) or zone_named(client_zone) or ZoneInfo("UTC")
    )


async def user_zone(session: AsyncSession, user_id: int) -> ZoneInfo:
    """The member's IANA zone (:func:`member_zone`), read from the database."""
    row = (
        await session.execute(
            select(User.profile, Client.time_zone)
            .join(Client, Client.id == User.client_id)
            .where(User.id == user_id)
        )
    ).one()
    return member_zone(row[0], row[1])
