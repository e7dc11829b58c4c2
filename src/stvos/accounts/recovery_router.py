"""/auth/forgot-password and /auth/reset-password: thin HTTP over accounts.recovery."""

from __future__ import annotations

from fastapi import Request
from pydantic import EmailStr, Field

from stvos.accounts import recovery
from stvos.accounts.context import Accounts
from stvos.accounts.schemas import Message, Password
from stvos.integrations.mail import Mailer
from stvos.kit.deps import DbSession
from stvos.kit.policy import Auth, ClientContext, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, RequestModel, ok

router = api_router(tags=["auth"])


class ForgotPasswordIn(RequestModel):
    email: EmailStr


class ResetPasswordIn(RequestModel):
    token: str = Field(min_length=1, max_length=200, description="The code from the reset mail")
    password: str = Password


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def _client(request: Request) -> ClientContext:
    client = current_caller(request).client
    assert client is not None  # API-key routes always have one
    return client


@router.post(
    "/auth/forgot-password",
    response_model=Envelope[Message],
    dependencies=[allow(Auth.API_KEY)],
    summary="Mail a password-reset link; the answer is the same whether or not the account exists",
)
async def forgot_password(
    request: Request, body: ForgotPasswordIn, session: DbSession
) -> Envelope[Message]:
    mailer: Mailer = request.app.state.mailer
    await recovery.forgot_password(
        session, _accounts(request), mailer, _client(request), str(body.email)
    )
    return ok(Message(message=recovery.FORGOT_ANSWER))


@router.post(
    "/auth/reset-password",
    response_model=Envelope[Message],
    dependencies=[allow(Auth.API_KEY)],
    summary="Set a new password with the code of a reset mail; every sign-in ends",
)
async def reset_password(
    request: Request, body: ResetPasswordIn, session: DbSession
) -> Envelope[Message]:
    await recovery.reset_password(
        session,
        _accounts(request),
        request.app.state.db,
        _client(request),
        body.token,
        body.password,
    )
    return ok(Message(message=recovery.RESET_ANSWER))
