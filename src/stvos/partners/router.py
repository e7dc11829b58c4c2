"""/manage/partners* (studio back office) and /partner-auth/*: thin HTTP over the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts.context import Accounts
from stvos.accounts.schemas import LoginIn, RefreshIn
from stvos.kit.deps import DbSession
from stvos.kit.idempotency import idempotent
from stvos.kit.policy import Auth, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, Page, Paging, ok
from stvos.kit.tenancy import TenantScope, set_scope
from stvos.partners import service
from stvos.partners.schemas import (
    PartnerAuthAnswer,
    PartnerIn,
    PartnerMeAnswer,
    PartnerOut,
    PartnerStaffIn,
    PartnerStaffOut,
)

router = api_router(tags=["partners"])

ObjectId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def _platform_scope(session: AsyncSession) -> None:
    # Partner staff sign in without an API key: their email (login) or refresh token (refresh)
    # is unique across the platform and is what names the client, so the lookup must see every
    # client. Declared before the first query; the service names the client explicitly after.
    set_scope(session.sync_session, TenantScope.for_platform())


# --- studio back office -----------------------------------------------------------------------


@router.post(
    "/manage/partners",
    status_code=201,
    response_model=Envelope[PartnerOut],
    dependencies=[allow(Auth.STAFF), idempotent],
    summary="Add a partner (gym, corporate or reseller)",
)
async def create_partner(body: PartnerIn, session: DbSession) -> Envelope[PartnerOut]:
    partner = await service.create_partner(session, body)
    return ok(PartnerOut.model_validate(service.partner_out(partner)))


@router.get(
    "/manage/partners",
    response_model=Envelope[Page[PartnerOut]],
    dependencies=[allow(Auth.STAFF)],
    summary="This app's partners",
)
async def list_partners(session: DbSession, paging: Paging) -> Envelope[Page[PartnerOut]]:
    items, total = await service.list_partners(session, paging)
    return ok(
        paging.page_of([PartnerOut.model_validate(service.partner_out(p)) for p in items], total)
    )


@router.get(
    "/manage/partners/{partner_id}",
    response_model=Envelope[PartnerOut],
    dependencies=[allow(Auth.STAFF)],
)
async def get_partner(partner_id: ObjectId, session: DbSession) -> Envelope[PartnerOut]:
    partner = await service.get_partner(session, partner_id)
    return ok(PartnerOut.model_validate(service.partner_out(partner)))


@router.post(
    "/manage/partners/{partner_id}/staff",
    status_code=201,
    response_model=Envelope[PartnerStaffOut],
    dependencies=[allow(Auth.STAFF), idempotent],
    summary="Create a partner staff login (signs in at /partner-auth/login)",
    description="The email must be unused by any partner staff login on the platform "
    "(`409 USER_EXISTS`), since partner staff sign in without an API key.",
)
async def create_staff(
    partner_id: ObjectId, body: PartnerStaffIn, session: DbSession
) -> Envelope[PartnerStaffOut]:
    staff = await service.create_staff(session, partner_id, body)
    return ok(PartnerStaffOut.model_validate(staff))


@router.get(
    "/manage/partners/{partner_id}/staff",
    response_model=Envelope[Page[PartnerStaffOut]],
    dependencies=[allow(Auth.STAFF)],
    summary="A partner's staff logins",
)
async def list_staff(
    partner_id: ObjectId, session: DbSession, paging: Paging
) -> Envelope[Page[PartnerStaffOut]]:
    items, total = await service.list_staff(session, partner_id, paging)
    return ok(paging.page_of([PartnerStaffOut.model_validate(s) for s in items], total))


# --- partner staff sign-in --------------------------------------------------------------------


@router.post(
    "/partner-auth/login",
    response_model=Envelope[PartnerAuthAnswer],
    dependencies=[allow(Auth.PUBLIC)],
    tags=["partner-auth"],
    summary="Partner staff sign-in (no API key)",
    description=(
        "Wrong email or password: `401 INVALID_CREDENTIALS`. A disabled login, an inactive "
        "partner or a suspended app: `403`. Attempts are throttled (`429`). The access token "
        "works on `/partner/*` and `/partner-auth/me` only, never on user routes."
    ),
)
async def login(request: Request, body: LoginIn, session: DbSession) -> Envelope[PartnerAuthAnswer]:
    _platform_scope(session)
    answer = await service.login(session, _accounts(request), body)
    return ok(PartnerAuthAnswer.model_validate(answer))


@router.post(
    "/partner-auth/refresh",
    response_model=Envelope[PartnerAuthAnswer],
    dependencies=[allow(Auth.PUBLIC)],
    tags=["partner-auth"],
    summary="Exchange a partner refresh token for new tokens (the old one stops working)",
    description="A reused refresh token ends the whole sign-in (`401 REFRESH_TOKEN_REUSED`).",
)
async def refresh(
    request: Request, body: RefreshIn, session: DbSession
) -> Envelope[PartnerAuthAnswer]:
    _platform_scope(session)
    answer = await service.refresh(session, _accounts(request), body.refresh_token)
    return ok(PartnerAuthAnswer.model_validate(answer))


@router.get(
    "/partner-auth/me",
    response_model=Envelope[PartnerMeAnswer],
    dependencies=[allow(Auth.PARTNER)],
    tags=["partner-auth"],
    summary="The signed-in partner staff member, their partner and app",
)
async def me(request: Request, session: DbSession) -> Envelope[PartnerMeAnswer]:
    caller = current_caller(request)
    staff_id = caller.extra.get("partner_staff_id")
    assert isinstance(staff_id, int)
    assert caller.client_id is not None
    answer = await service.me(session, staff_id=staff_id, client_id=caller.client_id)
    return ok(PartnerMeAnswer.model_validate(answer))
