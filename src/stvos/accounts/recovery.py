"""Password recovery: a single-use, short-lived reset link by mail, and the reset itself.

* Forgot: the answer never says whether the account exists. Unknown and known emails run the
  same queries up to the writes of a known one (a new token row and an outbox row), and no mail
  is sent while the request waits (the outbox is relayed after commit), so neither the answer
  nor its timing reveals an account.
* Reset: the token (random, 32 bytes, URL-safe; only its SHA-256 is stored) is claimed with an
  atomic conditional update, so of two concurrent uses exactly one succeeds. A reset ends every
  sign-in of the account (token version and refresh families).
* Both are throttled per client and per account (email, or token hash) before any work.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts import passwords, throttle, tokens
from stvos.accounts.context import Accounts
from stvos.accounts.errors import InvalidResetToken
from stvos.accounts.service import normalize_email
from stvos.integrations.mail import Mail, Mailer
from stvos.kit.clock import utcnow
from stvos.kit.db import Database
from stvos.kit.policy import ClientContext
from stvos.kit.tenancy import TenantScope
from stvos.models import AccountStatus, PasswordResetToken, User

RESET_TEMPLATE = "password_reset"
FORGOT_ANSWER = "If an account with this email exists, a link to reset its password is on its way."
RESET_ANSWER = "Your password has been reset. Sign in with the new password."
_TOKEN_PREFIX = "pr_"  # noqa: S105 - a label, not a secret


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def reset_link(template: str, *, token: str, client: ClientContext) -> str:
    return template.replace("{token}", token).replace("{client}", client.slug)


def reset_mail(
    accounts: Accounts, client: ClientContext, user: User, token: str, ttl_minutes: int
) -> Mail:
    link = reset_link(accounts.settings.mail.reset_url, token=token, client=client)
    greeting = f"Hello {user.name}," if user.name else "Hello,"
    body = (
        f"{greeting}\n\n"
        f"Someone asked to reset the password of your {client.name} account.\n"
        "Open this link to choose a new password:\n\n"
        f"{link}\n\n"
        f"Or enter this code in the app: {token}\n\n"
        f"The link works once and expires in {ttl_minutes} minutes. If you did not ask for "
        "it, ignore this mail: your password stays as it is.\n"
    )
    return Mail(
        to=user.email,
        subject=f"Reset your {client.name} password",
        body_text=body,
        template=RESET_TEMPLATE,
    )


async def forgot_password(
    session: AsyncSession,
    accounts: Accounts,
    mailer: Mailer,
    client: ClientContext,
    email: str,
) -> None:
    """Mail a reset link to the active account with ``email`` in this client, if there is one."""
    normalized = normalize_email(email)
    await throttle.recovery(
        accounts.limiter, accounts.settings, realm=f"c{client.id}", account=normalized
    )
    user = await session.scalar(
        select(User).where(
            User.email_normalized == normalized, User.status == AccountStatus.ACTIVE.value
        )
    )
    raw = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    # Earlier links of the account stop working. Run for unknown emails too (matching nothing:
    # user_id is never NULL), so both paths do the same queries.
    await session.execute(
        delete(PasswordResetToken)
        .where(PasswordResetToken.user_id == (user.id if user is not None else None))
        .execution_options(synchronize_session=False)
    )
    if user is None:
        return
    ttl = accounts.settings.auth.reset_token_ttl_minutes
    now = utcnow()
    session.add(
        PasswordResetToken(
            user_id=user.id,
            token_hash=_hash(raw),
            created_at=now,
            expires_at=now + timedelta(minutes=ttl),
        )
    )
    await mailer.send(session, reset_mail(accounts, client, user, raw, ttl))


async def reset_password(
    session: AsyncSession,
    accounts: Accounts,
    database: Database,
    client: ClientContext,
    raw_token: str,
    password: str,
) -> None:
    """Set a new password with a reset token; every sign-in of the account ends."""
    digest = _hash(raw_token)
    await throttle.recovery(
        accounts.limiter, accounts.settings, realm=f"c{client.id}", account=f"token:{digest}"
    )
    now = utcnow()
    # Checked in a short read of its own, so that the request's write transaction (and on
    # SQLite the database's write lock) is not held while the slow hash runs.
    async with database.transaction(TenantScope.for_client(client.id), write=False) as lookup:
        found = (
            await lookup.execute(
                select(
                    PasswordResetToken.id,
                    PasswordResetToken.user_id,
                    PasswordResetToken.used_at,
                    PasswordResetToken.expires_at,
                ).where(PasswordResetToken.token_hash == digest)
            )
        ).one_or_none()
    if found is None:
        raise InvalidResetToken()
    if found.used_at is not None:
        raise InvalidResetToken("This password-reset link was already used; ask for a new one")
    if found.expires_at <= now:
        raise InvalidResetToken("This password-reset link has expired; ask for a new one")
    password_hash = await passwords.hash_password(password)
    # Atomic: of two concurrent uses of one token, exactly one claims it.
    claimed = await session.execute(
        update(PasswordResetToken)
        .where(
            PasswordResetToken.id == found.id,
            PasswordResetToken.used_at.is_(None),
            PasswordResetToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidResetToken("This password-reset link was already used; ask for a new one")
    user = await session.get(User, found.user_id)
    if user is None or not user.is_active:
        raise InvalidResetToken()
    user.password_hash = password_hash
    user.token_version += 1
    await tokens.revoke_all(session, user_id=user.id)
    # Other outstanding links of the account stop working too.
    await session.execute(
        delete(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.id != found.id)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
