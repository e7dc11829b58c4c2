"""The client's users, as its studio staff manage them.

Runs in the staff member's client scope: the tenant filter limits every query to that client,
so another client's user id is simply not found.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts import tokens
from stvos.kit.errors import NotFound
from stvos.kit.paging import fetch_page
from stvos.kit.schemas import PageParams
from stvos.manage.errors import AccountErased, CannotDisableSelf
from stvos.models import AccountStatus, User


async def list_users(
    session: AsyncSession,
    paging: PageParams,
    *,
    search: str | None = None,
    role: str | None = None,
    status: str | None = None,
) -> tuple[list[User], int]:
    """Newest first. Erased accounts appear only when asked for with ``status=deleted``."""
    query = select(User)
    term = (search or "").strip().lower()
    if term:
        query = query.where(
            or_(
                func.lower(User.name).contains(term, autoescape=True),
                User.email_normalized.contains(term, autoescape=True),
            )
        )
    if role:
        query = query.where(User.role == role)
    if status:
        query = query.where(User.status == status)
    else:
        query = query.where(User.status != AccountStatus.DELETED.value)
    return await fetch_page(session, query, paging, User.created_at.desc(), User.id.desc())


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise NotFound("No such user")
    return user


async def disable_user(session: AsyncSession, user: User, *, acting_user_id: int) -> User:
    """Disable an account: its tokens stop working at once and it cannot sign in."""
    if user.id == acting_user_id:
        raise CannotDisableSelf()
    if user.status == AccountStatus.DELETED.value:
        raise AccountErased()
    if user.status == AccountStatus.DISABLED.value:
        return user  # already disabled: nothing more to end
    user.status = AccountStatus.DISABLED.value
    user.token_version += 1  # every access token of the account fails from now on
    await tokens.revoke_all(session, user_id=user.id)  # and no refresh token renews them
    await session.flush()
    return user


async def enable_user(session: AsyncSession, user: User) -> User:
    """Let a disabled account sign in again (its old sign-ins stay ended)."""
    if user.status == AccountStatus.DELETED.value:
        raise AccountErased()
    if user.status != AccountStatus.ACTIVE.value:
        user.status = AccountStatus.ACTIVE.value
        await session.flush()
    return user


async def set_premium(session: AsyncSession, user: User, until: datetime | None) -> User:
    """Grant premium content access until ``until`` (staff's grant; vouchers grant it too)."""
    if user.status == AccountStatus.DELETED.value:
        raise AccountErased()
    user.premium_until = until
    await session.flush()
    return user
