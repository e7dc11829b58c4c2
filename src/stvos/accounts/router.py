"""/auth/* and /users/me: thin HTTP over accounts.service."""

from __future__ import annotations

from fastapi import Request

from stvos.accounts import service
from stvos.accounts.context import AccountsDep
from stvos.accounts.schemas import (
    AuthAnswer,
    ChangePasswordIn,
    LoginAnswer,
    LoginIn,
    LogoutIn,
    MeAnswer,
    Message,
    MessageWithTokens,
    RefreshIn,
    RegisterIn,
    UserAnswer,
    UserOut,
    UserUpdate,
)
from stvos.kit.deps import DbSession
from stvos.kit.policy import Auth, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ok
from stvos.models import Client
from stvos.tenancy.service import public_client

router = api_router(tags=["auth"])


@router.post(
    "/auth/register",
    status_code=201,
    response_model=Envelope[AuthAnswer],
    dependencies=[allow(Auth.API_KEY)],
    summary="Create an account in this app and sign in",
)
async def register(
    request: Request, body: RegisterIn, session: DbSession, accounts: AccountsDep
) -> Envelope[AuthAnswer]:
    caller = current_caller(request)
    answer = await service.register(session, accounts, caller.require_client(), body)
    return ok(AuthAnswer.model_validate(answer))


@router.post(
    "/auth/login",
    response_model=Envelope[LoginAnswer],
    dependencies=[allow(Auth.API_KEY)],
)
async def login(
    request: Request, body: LoginIn, session: DbSession, accounts: AccountsDep
) -> Envelope[LoginAnswer]:
    caller = current_caller(request)
    answer = await service.login(
        session, accounts, request.app.state.db, caller.require_client(), body
    )
    return ok(LoginAnswer.model_validate(answer))


@router.post(
    "/auth/refresh",
    response_model=Envelope[AuthAnswer],
    dependencies=[allow(Auth.API_KEY)],
    summary="Exchange a refresh token for new tokens (the old one stops working)",
)
async def refresh(
    body: RefreshIn, session: DbSession, accounts: AccountsDep
) -> Envelope[AuthAnswer]:
    answer = await service.refresh(session, accounts, body.refresh_token)
    return ok(AuthAnswer.model_validate(answer))


@router.post(
    "/auth/logout",
    response_model=Envelope[Message],
    dependencies=[allow(Auth.USER)],
    summary="End this sign-in (its refresh tokens stop working)",
)
async def logout(
    request: Request, session: DbSession, body: LogoutIn | None = None
) -> Envelope[Message]:
    caller = current_caller(request)
    family = caller.extra.get("family")
    await service.logout(
        session, family if isinstance(family, str) else None, body.refresh_token if body else None
    )
    return ok(Message(message="Signed out"))


@router.get("/auth/me", response_model=Envelope[MeAnswer], dependencies=[allow(Auth.USER)])
async def me(request: Request, session: DbSession) -> Envelope[MeAnswer]:
    caller = current_caller(request)
    user = await service.current_user(session, caller.require_user_id())
    client = await session.get(Client, caller.require_client().id)
    assert client is not None
    return ok(
        MeAnswer.model_validate(
            {"user": await service.user_out(session, user), "client": public_client(client)}
        )
    )


@router.post(
    "/auth/change-password",
    response_model=Envelope[MessageWithTokens],
    dependencies=[allow(Auth.USER)],
    summary="Change the password; other sign-ins end, this one gets fresh tokens",
)
async def change_password(
    request: Request, body: ChangePasswordIn, session: DbSession, accounts: AccountsDep
) -> Envelope[MessageWithTokens]:
    caller = current_caller(request)
    user = await service.current_user(session, caller.require_user_id())
    answer = await service.change_password(session, accounts, user, body)
    return ok(MessageWithTokens.model_validate({**answer, "message": "Password changed"}))


users_router = api_router(tags=["users"])


@users_router.get("/users/me", response_model=Envelope[UserAnswer], dependencies=[allow(Auth.USER)])
async def get_me(request: Request, session: DbSession) -> Envelope[UserAnswer]:
    caller = current_caller(request)
    user = await service.current_user(session, caller.require_user_id())
    return ok(UserAnswer(user=UserOut.model_validate(await service.user_out(session, user))))


@users_router.put(
    "/users/me",
    response_model=Envelope[UserAnswer],
    dependencies=[allow(Auth.USER)],
    summary="Update name, profile or settings (partial: absent fields stay, null clears)",
)
async def update_me(request: Request, body: UserUpdate, session: DbSession) -> Envelope[UserAnswer]:
    caller = current_caller(request)
    user = await service.update_me(
        session, await service.current_user(session, caller.require_user_id()), body
    )
    return ok(UserAnswer(user=UserOut.model_validate(await service.user_out(session, user))))


@users_router.delete(
    "/users/me",
    response_model=Envelope[Message],
    dependencies=[allow(Auth.USER)],
    summary="Erase my account: personal data and sign-ins go; anonymous aggregates stay",
)
async def delete_me(request: Request, session: DbSession) -> Envelope[Message]:
    caller = current_caller(request)
    await service.erase_me(session, await service.current_user(session, caller.require_user_id()))
    return ok(Message(message="Your account and personal data have been erased"))
