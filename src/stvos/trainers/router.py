"""/manage/trainers, /manage/trainer-invites and the public /invite/*: thin HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from stvos.accounts.context import AccountsDep
from stvos.kit.deps import DbSession
from stvos.kit.idempotency import idempotent
from stvos.kit.policy import Auth, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok
from stvos.trainers import service
from stvos.trainers.schemas import (
    InviteAcceptAnswer,
    InviteAcceptIn,
    InviteCheckAnswer,
    InviteCodeIn,
    InviteStatus,
    TrainerIn,
    TrainerInviteIn,
    TrainerInviteOut,
    TrainerOut,
    TrainerPatch,
    TrainerReplace,
)

router = api_router(tags=["trainers"])


# --- trainer profiles (studio back office) ----------------------------------------------------


@router.post(
    "/manage/trainers",
    status_code=201,
    response_model=Envelope[TrainerOut],
    dependencies=[allow(Auth.STAFF), idempotent],
    summary="Create a trainer profile",
)
async def create_trainer(body: TrainerIn, session: DbSession) -> Envelope[TrainerOut]:
    trainer = await service.create_trainer(session, body)
    return ok(await service.trainer_answer(session, trainer))


@router.get(
    "/manage/trainers",
    response_model=Envelope[Page[TrainerOut]],
    dependencies=[allow(Auth.STAFF)],
    summary="This app's trainer profiles",
)
async def list_trainers(session: DbSession, paging: Paging) -> Envelope[Page[TrainerOut]]:
    items, total = await service.list_trainers(session, paging)
    return ok(paging.page_of(await service.trainer_answers(session, items), total))


@router.get(
    "/manage/trainers/{trainer_id}",
    response_model=Envelope[TrainerOut],
    dependencies=[allow(Auth.STAFF)],
)
async def get_trainer(trainer_id: ObjectId, session: DbSession) -> Envelope[TrainerOut]:
    trainer = await service.get_trainer(session, trainer_id)
    return ok(await service.trainer_answer(session, trainer))


@router.put(
    "/manage/trainers/{trainer_id}",
    response_model=Envelope[TrainerOut],
    dependencies=[allow(Auth.STAFF)],
    summary="Replace a trainer profile",
    description=(
        "The whole profile: name, bio, imageUrl, isActive, specialisations, certifications, "
        "timeZone; fields left out are cleared (timeZone: the app's zone)."
    ),
)
async def replace_trainer(
    trainer_id: ObjectId, body: TrainerReplace, session: DbSession
) -> Envelope[TrainerOut]:
    trainer = await service.update_trainer(session, trainer_id, body.model_dump())
    return ok(await service.trainer_answer(session, trainer))


@router.patch(
    "/manage/trainers/{trainer_id}",
    response_model=Envelope[TrainerOut],
    dependencies=[allow(Auth.STAFF)],
    summary="Change part of a trainer profile",
)
async def update_trainer(
    trainer_id: ObjectId, body: TrainerPatch, session: DbSession
) -> Envelope[TrainerOut]:
    trainer = await service.update_trainer(session, trainer_id, body.model_dump(exclude_unset=True))
    return ok(await service.trainer_answer(session, trainer))


# --- trainer invites (studio back office) -----------------------------------------------------


@router.post(
    "/manage/trainer-invites",
    status_code=201,
    response_model=Envelope[TrainerInviteOut],
    dependencies=[allow(Auth.STAFF), idempotent],
    summary="Invite a trainer: a one-time code that creates their login",
    description=(
        "Give the code (`TRN-XXXX-XXXX`) to the trainer; they accept it in the app with "
        "`POST /invite/accept`. With `trainerId` the new login is linked to that profile; "
        "without it, accepting creates a profile. With `email`, only that address may accept."
    ),
)
async def create_invite(
    request: Request, body: TrainerInviteIn, session: DbSession
) -> Envelope[TrainerInviteOut]:
    caller = current_caller(request)
    invite = await service.create_invite(session, body, created_by_user_id=caller.user_id)
    return ok(TrainerInviteOut.model_validate(service.invite_out(invite)))


@router.get(
    "/manage/trainer-invites",
    response_model=Envelope[Page[TrainerInviteOut]],
    dependencies=[allow(Auth.STAFF)],
    summary="This app's trainer invites, newest first",
)
async def list_invites(
    session: DbSession,
    paging: Paging,
    status: Annotated[InviteStatus | None, Query(description="Only invites in this state")] = None,
) -> Envelope[Page[TrainerInviteOut]]:
    items, total = await service.list_invites(session, paging, status)
    return ok(
        paging.page_of(
            [TrainerInviteOut.model_validate(service.invite_out(i)) for i in items], total
        )
    )


@router.get(
    "/manage/trainer-invites/{invite_id}",
    response_model=Envelope[TrainerInviteOut],
    dependencies=[allow(Auth.STAFF)],
)
async def get_invite(invite_id: ObjectId, session: DbSession) -> Envelope[TrainerInviteOut]:
    invite = await service.get_invite(session, invite_id)
    return ok(TrainerInviteOut.model_validate(service.invite_out(invite)))


@router.delete(
    "/manage/trainer-invites/{invite_id}",
    response_model=Envelope[TrainerInviteOut],
    dependencies=[allow(Auth.STAFF)],
    summary="Revoke an invite (an accepted one is 409 INVITE_USED)",
)
async def revoke_invite(invite_id: ObjectId, session: DbSession) -> Envelope[TrainerInviteOut]:
    invite = await service.revoke_invite(session, invite_id)
    return ok(TrainerInviteOut.model_validate(service.invite_out(invite)))


# --- the trainer's side: no API key -----------------------------------------------------------


@router.post(
    "/invite/check",
    response_model=Envelope[InviteCheckAnswer],
    # No API key: the invite code alone names the client, so its lookup spans clients.
    dependencies=[allow(Auth.PUBLIC, platform_lookup=True)],
    tags=["invites"],
    summary="Is this trainer invite code usable, and for which app?",
    description=(
        "No API key. An unknown code is `404 NOT_FOUND`. A known code answers its `status`; "
        "`valid` is true only while it is `pending`, and only then are the invited `email` and "
        "`trainer` name shown. Attempts are throttled (`429`)."
    ),
)
async def check_invite(
    body: InviteCodeIn, session: DbSession, accounts: AccountsDep
) -> Envelope[InviteCheckAnswer]:
    answer = await service.check_invite(session, accounts, body.code)
    return ok(InviteCheckAnswer.model_validate(answer))


@router.post(
    "/invite/accept",
    status_code=201,
    response_model=Envelope[InviteAcceptAnswer],
    # No API key: the invite code alone names the client, so its lookup spans clients.
    dependencies=[allow(Auth.PUBLIC, platform_lookup=True)],
    tags=["invites"],
    summary="Accept a trainer invite: create the trainer's login and sign in",
    description=(
        "No API key. Creates a `trainer` user in the invite's app and answers like sign-up; the "
        "tokens are bound to that app (use them with its API key). Errors: `404 NOT_FOUND`, "
        "`409 INVITE_USED`, `400 INVITE_EXPIRED`, `400 INVITE_REVOKED`, "
        "`400 INVITE_EMAIL_MISMATCH`, `409 USER_EXISTS`, `409 TRAINER_HAS_ACCOUNT`."
    ),
)
async def accept_invite(
    body: InviteAcceptIn, session: DbSession, accounts: AccountsDep
) -> Envelope[InviteAcceptAnswer]:
    answer = await service.accept_invite(session, accounts, body)
    return ok(InviteAcceptAnswer.model_validate(answer))
