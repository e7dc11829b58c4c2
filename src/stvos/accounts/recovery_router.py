"""/auth/forgot-password and /auth/reset-password: thin HTTP over accounts.recovery."""

from __future__ import annotations

from fastapi import Request

from stvos.accounts import recovery
from stvos.accounts.context import AccountsDep
from stvos.accounts.schemas import ForgotPasswordIn, Message, ResetPasswordIn
from stvos.integrations.mail import Mailer
from stvos.kit.deps import DbSession
from stvos.kit.policy import Auth, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ok

router = api_router(tags=["auth"])


@router.post(
    "/auth/forgot-password",
    response_model=Envelope[Message],
    dependencies=[allow(Auth.API_KEY)],
    summary="Mail a password-reset link; the answer is the same whether or not the account exists",
)
async def forgot_password(
    request: Request, body: ForgotPasswordIn, session: DbSession, accounts: AccountsDep
) -> Envelope[Message]:
    mailer: Mailer = request.app.state.mailer
    client = current_caller(request).require_client()
    await recovery.forgot_password(session, accounts, mailer, client, str(body.email))
    return ok(Message(message=recovery.FORGOT_ANSWER))


@router.post(
    "/auth/reset-password",
    response_model=Envelope[Message],
    dependencies=[allow(Auth.API_KEY)],
    summary="Set a new password with the code of a reset mail; every sign-in ends",
)
async def reset_password(
    request: Request, body: ResetPasswordIn, session: DbSession, accounts: AccountsDep
) -> Envelope[Message]:
    await recovery.reset_password(
        session,
        accounts,
        request.app.state.db,
        current_caller(request).require_client(),
        body.token,
        body.password,
    )
    return ok(Message(message=recovery.RESET_ANSWER))
