"""/partner/vouchers* (partner staff), /auth/voucher/validate (apps) and /app/join/:code (public
join links): thin HTTP over partners.vouchers and partners.redemption."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request, Response

from stvos.accounts.context import AccountsDep
from stvos.kit.clock import utcnow
from stvos.kit.csvfile import csv_response
from stvos.kit.db import Database
from stvos.kit.deps import DbSession
from stvos.kit.idempotency import idempotent
from stvos.kit.policy import Auth, Caller, allow, current_caller
from stvos.kit.routing import API_PREFIX, api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok
from stvos.kit.tenancy import TenantScope
from stvos.partners import redemption, vouchers
from stvos.partners.voucher_schemas import (
    STATUS_RULE,
    JoinPage,
    VoucherBatchIn,
    VoucherBatchOut,
    VoucherCheck,
    VoucherCheckIn,
    VoucherOut,
    VoucherStats,
    VoucherStatusName,
)

router = api_router(tags=["vouchers"])

StatusParam = Annotated[VoucherStatusName | None, Query(description=STATUS_RULE)]
SearchParam = Annotated[str | None, Query(max_length=64, description="Part of the code, any case")]


def _partner(request: Request) -> tuple[Caller, int]:
    caller = current_caller(request)
    assert caller.partner_id is not None  # the PARTNER policy guarantees it
    return caller, caller.partner_id


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- partner staff ----------------------------------------------------------------------------


@router.post(
    "/partner/vouchers",
    status_code=201,
    response_model=Envelope[VoucherBatchOut],
    dependencies=[allow(Auth.PARTNER), idempotent],
    summary="Generate 1..500 voucher codes `PREFIX-XXXXXX` in one transaction",
    description=(
        "The six characters come from an alphabet without look-alikes (no 0/O, 1/I/L), drawn "
        "with a cryptographic RNG; codes are unique across the platform. Send an "
        "`Idempotency-Key` so that a retried request does not generate a second batch."
    ),
)
async def create_vouchers(
    request: Request, body: VoucherBatchIn, session: DbSession
) -> Envelope[VoucherBatchOut]:
    caller, partner_id = _partner(request)
    staff_id = caller.extra.get("partner_staff_id")
    created = await vouchers.create_batch(
        session,
        client_id=caller.require_client().id,
        partner_id=partner_id,
        staff_id=staff_id if isinstance(staff_id, int) else None,
        body=body,
    )
    items = [VoucherOut.model_validate(v) for v in created]
    return ok(VoucherBatchOut(quantity=len(items), vouchers=items))


@router.get(
    "/partner/vouchers",
    response_model=Envelope[Page[VoucherOut]],
    dependencies=[allow(Auth.PARTNER)],
    summary="This partner's voucher codes, newest first",
)
async def list_vouchers(
    request: Request,
    session: DbSession,
    paging: Paging,
    status: StatusParam = None,
    search: SearchParam = None,
) -> Envelope[Page[VoucherOut]]:
    _, partner_id = _partner(request)
    items, total = await vouchers.list_vouchers(
        session, partner_id, paging, status=status, search=search
    )
    return ok(paging.page_of([VoucherOut.model_validate(v) for v in items], total))


@router.get(
    "/partner/vouchers/stats",
    response_model=Envelope[VoucherStats],
    dependencies=[allow(Auth.PARTNER)],
    summary="How many codes are active, redeemed, expired and revoked",
)
async def voucher_stats(request: Request, session: DbSession) -> Envelope[VoucherStats]:
    _, partner_id = _partner(request)
    return ok(VoucherStats.model_validate(await vouchers.stats(session, partner_id)))


@router.get(
    "/partner/vouchers/export",
    response_class=Response,
    dependencies=[allow(Auth.PARTNER)],
    summary="This partner's codes as CSV (same filters as the list)",
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_vouchers(
    request: Request,
    session: DbSession,
    status: StatusParam = None,
    search: SearchParam = None,
) -> Response:
    _, partner_id = _partner(request)
    rows = await vouchers.export_rows(session, partner_id, status=status, search=search)
    filename = f"vouchers-{utcnow().date().isoformat()}.csv"
    return csv_response(filename, vouchers.EXPORT_HEADER, rows)


@router.delete(
    "/partner/vouchers/{voucher_id}",
    response_model=Envelope[VoucherOut],
    dependencies=[allow(Auth.PARTNER)],
    summary="Revoke a code (members who redeemed it stay members)",
    description=(
        "A code that is not used up (active, expired, or a multi-use code with uses left) "
        "becomes `revoked`. Revoking a revoked code answers it unchanged (`200`). A used-up "
        "code is `409 CONFLICT`. Another partner's code is `404`."
    ),
)
async def revoke_voucher(
    request: Request, voucher_id: ObjectId, session: DbSession
) -> Envelope[VoucherOut]:
    _, partner_id = _partner(request)
    return ok(VoucherOut.model_validate(await vouchers.revoke(session, partner_id, voucher_id)))


# --- apps: checking a code before sign-up -----------------------------------------------------


@router.post(
    "/auth/voucher/validate",
    response_model=Envelope[VoucherCheck],
    dependencies=[allow(Auth.API_KEY)],
    tags=["auth"],
    summary="Check a voucher code before sign-up",
    description=(
        "A redeemable code answers its terms. Otherwise the error sign-up would give: unknown "
        "`400 INVALID_VOUCHER`; `409 VOUCHER_REVOKED`, `VOUCHER_ALREADY_REDEEMED` or "
        "`VOUCHER_EXPIRED`. Checks are throttled per app and per address (`429`; "
        "`STVOS_AUTH_VOUCHER_CHECKS_PER_*`). With the universal key, the code names the app."
    ),
)
async def validate_voucher(
    request: Request, body: VoucherCheckIn, session: DbSession, accounts: AccountsDep
) -> Envelope[VoucherCheck]:
    caller = current_caller(request)
    answer = await redemption.validate(
        session,
        accounts,
        client_id=caller.require_client().id,
        address=_address(request),
        code=body.code,
    )
    return ok(VoucherCheck.model_validate(answer))


# --- the public join link ---------------------------------------------------------------------


@router.get(
    "/app/join/{code}",
    response_model=Envelope[JoinPage],
    # No API key: the code alone names the client, so the lookup spans clients.
    dependencies=[allow(Auth.PUBLIC, platform_lookup=True)],
    tags=["app"],
    summary="A join link: the code's validity and its app's branding (no API key)",
    description="Unknown code: `404 NOT_FOUND`. Throttled per address (`429`).",
)
async def join(
    request: Request,
    code: Annotated[str, Path(min_length=1, max_length=64)],
    session: DbSession,
    accounts: AccountsDep,
) -> Envelope[JoinPage]:
    answer = await redemption.join_page(session, accounts, address=_address(request), code=code)
    return ok(JoinPage.model_validate(answer))


# --- the universal key: a voucher code names the client ---------------------------------------

_HINTED_FIELDS = {
    f"{API_PREFIX}/auth/register": "voucherCode",
    f"{API_PREFIX}/auth/voucher/validate": "code",
}


async def voucher_client_hint(request: Request) -> int | None:
    """Under the universal key, sign-up or a code check carrying a voucher code acts for the
    code's client. Installed in create_app after the token hint; other routes are untouched."""
    route_path = getattr(request.scope.get("route"), "path", None)
    field = _HINTED_FIELDS.get(route_path or "")
    if field is None or request.method != "POST":
        return None
    try:
        body = await request.json()  # Starlette caches the body: the route still reads it
    except ValueError:
        return None
    code = body.get(field) if isinstance(body, dict) else None
    if not isinstance(code, str) or len(code) > 64:
        return None
    database: Database = request.app.state.db
    async with database.transaction(TenantScope.for_platform(), write=False) as session:
        return await redemption.client_of_code(session, code)
