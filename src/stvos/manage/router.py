"""/manage/*: the studio back office of a client, for its staff (role client_admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from stvos.kit.deps import DbSession
from stvos.kit.policy import Auth, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok
from stvos.manage import service
from stvos.manage.schemas import (
    ManagedUser,
    ManagedUserAnswer,
    PremiumIn,
    RoleName,
    StatusName,
)

router = api_router(prefix="/api/v1/manage", tags=["manage"])


@router.get(
    "/users",
    response_model=Envelope[Page[ManagedUser]],
    dependencies=[allow(Auth.STAFF)],
    summary="The app's users, newest first (erased accounts only with status=deleted)",
)
async def list_users(
    session: DbSession,
    paging: Paging,
    search: Annotated[str | None, Query(max_length=100, description="Name or email")] = None,
    role: RoleName | None = None,
    status: StatusName | None = None,
) -> Envelope[Page[ManagedUser]]:
    users, total = await service.list_users(
        session, paging, search=search, role=role, status=status
    )
    return ok(paging.page_of([ManagedUser.model_validate(u) for u in users], total))


@router.get(
    "/users/{user_id}", response_model=Envelope[ManagedUserAnswer], dependencies=[allow(Auth.STAFF)]
)
async def get_user(user_id: ObjectId, session: DbSession) -> Envelope[ManagedUserAnswer]:
    user = await service.get_user(session, user_id)
    return ok(ManagedUserAnswer(user=ManagedUser.model_validate(user)))


@router.post(
    "/users/{user_id}/disable",
    response_model=Envelope[ManagedUserAnswer],
    dependencies=[allow(Auth.STAFF)],
    summary="Disable an account: its sign-ins end at once and it cannot sign in again",
)
async def disable_user(
    request: Request, user_id: ObjectId, session: DbSession
) -> Envelope[ManagedUserAnswer]:
    caller = current_caller(request)
    user = await service.disable_user(
        session, await service.get_user(session, user_id), acting_user_id=caller.require_user_id()
    )
    return ok(ManagedUserAnswer(user=ManagedUser.model_validate(user)))


@router.post(
    "/users/{user_id}/enable",
    response_model=Envelope[ManagedUserAnswer],
    dependencies=[allow(Auth.STAFF)],
    summary="Let a disabled account sign in again",
)
async def enable_user(user_id: ObjectId, session: DbSession) -> Envelope[ManagedUserAnswer]:
    user = await service.enable_user(session, await service.get_user(session, user_id))
    return ok(ManagedUserAnswer(user=ManagedUser.model_validate(user)))


@router.put(
    "/users/{user_id}/premium",
    response_model=Envelope[ManagedUserAnswer],
    dependencies=[allow(Auth.STAFF)],
    summary="Grant premium content access until a date, or end it (null)",
)
async def set_premium(
    user_id: ObjectId, body: PremiumIn, session: DbSession
) -> Envelope[ManagedUserAnswer]:
    user = await service.set_premium(
        session, await service.get_user(session, user_id), body.premium_until
    )
    return ok(ManagedUserAnswer(user=ManagedUser.model_validate(user)))
