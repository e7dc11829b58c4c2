"""/manage/partners* (studio back office) and /partner-auth/*: thin HTTP over the service."""

from __future__ import annotations

from fastapi import Request

from stvos.accounts.context import AccountsDep
from stvos.accounts.schemas import LoginIn, RefreshIn
from stvos.kit.deps import DbSession
from stvos.kit.idempotency import idempotent
from stvos.kit.policy import Auth, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok
from stvos.partners import service
from stvos.partners.schemas import (
    PartnerAuthAnswer,
    PartnerIn,
    PartnerMeAnswer,
    PartnerOut,
    PartnerPatch,
    PartnerStaffIn,
    PartnerStaffOut,
)

router = api_router(tags=["partners"])


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


@router.patch(
    "/manage/partners/{partner_id}",
    response_model=Envelope[PartnerOut],
    dependencies=[allow(Auth.STAFF)],
    summary="Change a partner: name, type, billing rate, currency, time zone, status",
    description="Only the fields sent change. `status: suspended` signs every staff login of "
    "the partner out (their tokens stop working at once and refresh tokens are revoked); "
    "`timeZone: null` goes back to the app's zone.",
)
async def update_partner(
    partner_id: ObjectId, body: PartnerPatch, session: DbSession
) -> Envelope[PartnerOut]:
    partner = await service.update_partner(session, partner_id, body)
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
    # No API key: the email (or refresh token) alone names the client, so lookups span clients.
    dependencies=[allow(Auth.PUBLIC, platform_lookup=True)],
    tags=["partner-auth"],
    summary="Partner staff sign-in (no API key)",
    description=(
        "Wrong email or password: `401 INVALID_CREDENTIALS`. A disabled login, an inactive "
        "partner or a suspended app: `403`. Attempts are throttled (`429`). The access token "
        "works on `/partner/*` and `/partner-auth/me` only, never on user routes."
    ),
)
async def login(
    body: LoginIn, session: DbSession, accounts: AccountsDep
) -> Envelope[PartnerAuthAnswer]:
    answer = await service.login(session, accounts, body)
    return ok(PartnerAuthAnswer.model_validate(answer))


@router.post(
    "/partner-auth/refresh",
    response_model=Envelope[PartnerAuthAnswer],
    # No API key: the email (or refresh token) alone names the client, so lookups span clients.
    dependencies=[allow(Auth.PUBLIC, platform_lookup=True)],
    tags=["partner-auth"],
    summary="Exchange a partner refresh token for new tokens (the old one stops working)",
    description="A reused refresh token ends the whole sign-in (`401 REFRESH_TOKEN_REUSED`).",
)
async def refresh(
    body: RefreshIn, session: DbSession, accounts: AccountsDep
) -> Envelope[PartnerAuthAnswer]:
    answer = await service.refresh(session, accounts, body.refresh_token)
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
