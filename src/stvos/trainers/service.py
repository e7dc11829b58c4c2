"""Trainer profiles and trainer invites.

Studio staff (``/manage/*``) work in their client's scope: profiles and invites of other
clients are invisible. ``/invite/check`` and ``/invite/accept`` carry no API key: the invite
code alone names the client, so those two functions run in the **platform scope** (their
router declares it) and name the invite's client explicitly on everything they read or write.

An invite's status is derived from its timestamps, never stored: ``accepted`` (accepted_at),
``revoked`` (revoked_at), ``expired`` (expires_at passed), else ``pending``. Accepting and
revoking are atomic conditional updates, so of two concurrent accepts (or an accept racing a
revoke) exactly one wins.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts import service as accounts
from stvos.accounts import throttle, tokens
from stvos.accounts.context import Accounts
from stvos.accounts.errors import UserExists
from stvos.kit.clock import utcnow
from stvos.kit.errors import ClientSuspended
from stvos.kit.paging import fetch_page
from stvos.kit.schemas import PageParams
from stvos.manage.content_service import refresh_search_people
from stvos.models import Client, Role, Trainer, TrainerInvite, User
from stvos.tenancy.service import client_brief
from stvos.trainers import catalog
from stvos.trainers.errors import (
    InviteEmailMismatch,
    InviteExpired,
    InviteNotFound,
    InviteRevoked,
    InviteUsed,
    TrainerHasAccount,
    TrainerNotFound,
)
from stvos.trainers.schemas import (
    InviteAcceptIn,
    InviteStatus,
    TrainerIn,
    TrainerInviteIn,
    TrainerOut,
)

# Unambiguous when read aloud or typed from paper: no 0/O, no 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_PREFIX = "TRN"
_CODE_GROUPS = (4, 4)  # TRN-XXXX-XXXX: 31^8, about 40 bits, behind a throttle
_CODE_ATTEMPTS = 5


# --- trainer profiles -------------------------------------------------------------------------


async def create_trainer(session: AsyncSession, body: TrainerIn) -> Trainer:
    trainer = Trainer(name=body.name, is_active=True)
    session.add(trainer)
    await session.flush()
    await catalog.apply_profile(session, trainer, body.model_dump(exclude={"name"}))
    return trainer


async def list_trainers(session: AsyncSession, paging: PageParams) -> tuple[list[Trainer], int]:
    return await fetch_page(session, select(Trainer), paging, Trainer.name, Trainer.id)


async def get_trainer(session: AsyncSession, trainer_id: int) -> Trainer:
    trainer = await session.get(Trainer, trainer_id)
    if trainer is None:
        raise TrainerNotFound()
    return trainer


async def update_trainer(
    session: AsyncSession, trainer_id: int, changes: dict[str, Any]
) -> Trainer:
    """Change a profile; a new name is carried into its classes' ``search_people``."""
    trainer = await get_trainer(session, trainer_id)
    renamed = "name" in changes and changes["name"] != trainer.name
    await catalog.apply_profile(session, trainer, changes)
    if renamed:
        await refresh_search_people(session, trainer_id=trainer.id)
    return trainer


async def trainer_answers(session: AsyncSession, trainers: list[Trainer]) -> list[TrainerOut]:
    """The studio's view of ``trainers``: one statement for all their specialisations."""
    names = await catalog.specialisations_of(session, [t.id for t in trainers])
    return [
        TrainerOut(
            id=t.id,
            name=t.name,
            bio=t.bio,
            image_url=t.image_url,
            is_active=t.is_active,
            user_id=t.user_id,
            specialisations=names.get(t.id, []),
            certifications=catalog.certifications_out(t),
            time_zone=t.time_zone,
            created_at=t.created_at,
        )
        for t in trainers
    ]


async def trainer_answer(session: AsyncSession, trainer: Trainer) -> TrainerOut:
    (answer,) = await trainer_answers(session, [trainer])
    return answer


# --- invites: codes and status ----------------------------------------------------------------


def new_invite_code() -> str:
    """``TRN-XXXX-XXXX`` from the OS's cryptographic RNG."""
    groups = ["".join(secrets.choice(CODE_ALPHABET) for _ in range(n)) for n in _CODE_GROUPS]
    return "-".join([CODE_PREFIX, *groups])


def normalize_code(raw: str) -> str:
    """Accept what people type: any case, spaces, missing or extra dashes."""
    compact = re.sub(r"[\s\-]+", "", raw).upper()
    size = len(CODE_PREFIX) + sum(_CODE_GROUPS)
    if len(compact) != size or not compact.startswith(CODE_PREFIX):
        return compact  # cannot be a code of ours; looked up anyway, found nowhere
    parts, start = [CODE_PREFIX], len(CODE_PREFIX)
    for n in _CODE_GROUPS:
        parts.append(compact[start : start + n])
        start += n
    return "-".join(parts)


def invite_status(invite: TrainerInvite, now: datetime) -> InviteStatus:
    if invite.accepted_at is not None:
        return "accepted"
    if invite.revoked_at is not None:
        return "revoked"
    if invite.expires_at <= now:
        return "expired"
    return "pending"


def _status_condition(status: InviteStatus, now: datetime) -> ColumnElement[bool]:
    """The SQL twin of :func:`invite_status`."""
    if status == "accepted":
        return TrainerInvite.accepted_at.is_not(None)
    if status == "revoked":
        return and_(TrainerInvite.accepted_at.is_(None), TrainerInvite.revoked_at.is_not(None))
    open_ = and_(TrainerInvite.accepted_at.is_(None), TrainerInvite.revoked_at.is_(None))
    if status == "expired":
        return and_(open_, TrainerInvite.expires_at <= now)
    return and_(open_, TrainerInvite.expires_at > now)


def invite_out(invite: TrainerInvite, now: datetime | None = None) -> dict[str, Any]:
    return {
        "id": invite.id,
        "code": invite.code,
        "email": invite.email,
        "name": invite.name,
        "trainer_id": invite.trainer_id,
        "status": invite_status(invite, now or utcnow()),
        "created_at": invite.created_at,
        "expires_at": invite.expires_at,
        "accepted_at": invite.accepted_at,
        "accepted_by_user_id": invite.accepted_by_user_id,
        "revoked_at": invite.revoked_at,
    }


# --- invites: the studio's side (client scope) ------------------------------------------------


async def create_invite(
    session: AsyncSession, body: TrainerInviteIn, *, created_by_user_id: int | None
) -> TrainerInvite:
    trainer = await get_trainer(session, body.trainer_id) if body.trainer_id else None
    if trainer is not None and trainer.user_id is not None:
        raise TrainerHasAccount()
    if body.email is not None:
        email = accounts.normalize_email(str(body.email))
        if await session.scalar(select(User.id).where(User.email_normalized == email)):
            raise UserExists("An account with this email already exists in this app")
    now = utcnow()
    for attempt in range(_CODE_ATTEMPTS):
        invite = TrainerInvite(
            code=new_invite_code(),
            email=str(body.email) if body.email else None,
            name=body.name or (trainer.name if trainer else None),
            trainer_id=trainer.id if trainer else None,
            created_by_user_id=created_by_user_id,
            created_at=now,
            expires_at=now + timedelta(days=body.expires_in_days),
        )
        try:
            # Codes are unique platform-wide (unique index); a collision just draws again.
            async with session.begin_nested():
                session.add(invite)
                await session.flush()
        except IntegrityError:
            if attempt == _CODE_ATTEMPTS - 1:
                raise
            continue
        return invite
    raise AssertionError("unreachable")


async def list_invites(
    session: AsyncSession, paging: PageParams, status: InviteStatus | None
) -> tuple[list[TrainerInvite], int]:
    conditions = [_status_condition(status, utcnow())] if status else []
    query = select(TrainerInvite).where(*conditions)
    newest_first = (TrainerInvite.created_at.desc(), TrainerInvite.id.desc())
    return await fetch_page(session, query, paging, *newest_first)


async def get_invite(session: AsyncSession, invite_id: int) -> TrainerInvite:
    invite = await session.get(TrainerInvite, invite_id)
    if invite is None:
        raise InviteNotFound()
    return invite


async def revoke_invite(session: AsyncSession, invite_id: int) -> TrainerInvite:
    """Withdraw an invite; revoking twice is harmless, an accepted invite cannot be revoked."""
    invite = await get_invite(session, invite_id)
    await session.execute(
        update(TrainerInvite)
        .where(
            TrainerInvite.id == invite.id,
            TrainerInvite.accepted_at.is_(None),
            TrainerInvite.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.refresh(invite)
    if invite.accepted_at is not None:
        raise InviteUsed("This invite was accepted; it can no longer be revoked")
    return invite


# --- invites: the trainer's side (platform scope, no API key) ---------------------------------


async def _find_by_code(
    session: AsyncSession, accounts_ctx: Accounts, raw_code: str, *, action: str
) -> TrainerInvite:
    """The invite of ``raw_code``, after one throttled attempt.

    Attempts count per client and code once the code is known; unknown codes share one
    platform-wide budget, which is what bounds guessing.
    """
    code = normalize_code(raw_code)
    invite = await session.scalar(select(TrainerInvite).where(TrainerInvite.code == code))
    realm = f"invite-{action}:c{invite.client_id}" if invite else f"invite-{action}"
    await throttle.recovery(accounts_ctx.limiter, accounts_ctx.settings, realm=realm, account=code)
    if invite is None:
        raise InviteNotFound("No invite with this code")
    return invite


async def _active_client(session: AsyncSession, client_id: int) -> Client:
    client = await session.get(Client, client_id)
    assert client is not None  # invites cascade with their client
    if not client.is_active:
        raise ClientSuspended()
    return client


async def check_invite(
    session: AsyncSession, accounts_ctx: Accounts, raw_code: str
) -> dict[str, Any]:
    """What an app shows before sign-up: is the code usable, and whose studio it is.

    The invited email and trainer name are shown only while the invite is pending.
    """
    invite = await _find_by_code(session, accounts_ctx, raw_code, action="check")
    client = await _active_client(session, invite.client_id)
    status = invite_status(invite, utcnow())
    answer: dict[str, Any] = {
        "valid": status == "pending",
        "status": status,
        "expires_at": invite.expires_at,
        "client": client_brief(client),
    }
    if status == "pending":
        name = invite.name
        if invite.trainer_id is not None:
            # Same client by construction: the reference is composite (client_id, trainer_id).
            trainer = await session.get(Trainer, invite.trainer_id)
            name = trainer.name if trainer else name
        answer["trainer"] = {"name": name} if name else None
        answer["email"] = invite.email
    return answer


def _ensure_open(invite: TrainerInvite, now: datetime) -> None:
    status = invite_status(invite, now)
    if status == "accepted":
        raise InviteUsed()
    if status == "revoked":
        raise InviteRevoked()
    if status == "expired":
        raise InviteExpired()


async def accept_invite(
    session: AsyncSession, accounts_ctx: Accounts, body: InviteAcceptIn
) -> dict[str, Any]:
    """Create the trainer's login in the invite's client, link the profile, and sign in."""
    invite = await _find_by_code(session, accounts_ctx, body.code, action="accept")
    now = utcnow()
    _ensure_open(invite, now)
    client = await _active_client(session, invite.client_id)
    if invite.email and accounts.normalize_email(invite.email) != accounts.normalize_email(
        str(body.email)
    ):
        raise InviteEmailMismatch(
            details=[{"field": "email", "message": "Use the email address the invite was sent to"}]
        )
    # Claim the invite first: of concurrent accepts exactly one passes, the others wait here
    # (row lock on PostgreSQL, write lock on SQLite) and then find it taken.
    claimed = await session.execute(
        update(TrainerInvite)
        .where(
            TrainerInvite.client_id == invite.client_id,
            TrainerInvite.id == invite.id,
            TrainerInvite.accepted_at.is_(None),
            TrainerInvite.revoked_at.is_(None),
            TrainerInvite.expires_at > now,
        )
        .values(accepted_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        # Lost a race (another accept, or a revoke): answer with what actually happened.
        await session.refresh(invite)
        _ensure_open(invite, now)
        raise InviteUsed()
    user = await accounts.create_user(
        session,
        client_id=invite.client_id,
        email=str(body.email),
        password=body.password,
        name=body.name,
        role=Role.TRAINER,
    )
    trainer = await _link_trainer(session, invite, user, now)
    invite.accepted_at = now
    invite.accepted_by_user_id = user.id
    user.last_login_at = now
    await session.flush()
    refresh = await tokens.open_family(
        session, accounts_ctx.settings, client_id=user.client_id, user_id=user.id
    )
    return {
        **accounts.tokens_answer(accounts_ctx, user, refresh),
        "client": client_brief(client),
        "trainer": {"id": trainer.id, "name": trainer.name},
    }


async def _link_trainer(
    session: AsyncSession, invite: TrainerInvite, user: User, now: datetime
) -> Trainer:
    """The invite's trainer profile, now pointing at ``user``; or a new profile for them."""
    if invite.trainer_id is None:
        trainer = Trainer(client_id=invite.client_id, user_id=user.id, name=user.name or user.email)
        session.add(trainer)
        await session.flush()
        return trainer
    # Conditional: two invites for one profile cannot both give it a login.
    linked = await session.execute(
        update(Trainer)
        .where(
            Trainer.client_id == invite.client_id,
            Trainer.id == invite.trainer_id,
            Trainer.user_id.is_(None),
        )
        .values(user_id=user.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if linked.rowcount != 1:  # type: ignore[attr-defined]
        raise TrainerHasAccount()
    linked_trainer = await session.get(Trainer, invite.trainer_id, populate_existing=True)
    assert linked_trainer is not None
    return linked_trainer
