"""/partner/dashboard, /partner/members*, /partner/analytics/*, /partner/billing*: thin HTTP
over members.py, insights.py, analytics.py and billing.py. Partner staff only (no API key)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Path, Query, Request, Response

from stvos.kit.csvfile import csv_response
from stvos.kit.db import Database
from stvos.kit.deps import DbSession
from stvos.kit.policy import Auth, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok
from stvos.partners import analytics, billing, insights, members
from stvos.partners.insights_schemas import (
    BillingReport,
    ContentOut,
    DashboardOut,
    MemberDetail,
    MemberOut,
    WatchTimeOut,
)

router = api_router(tags=["partner insights"])

PARTNER = [allow(Auth.PARTNER)]
MONTH_PATTERN = r"^[12][0-9]{3}-(0[1-9]|1[0-2])$"

Search = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="Part of the email or name (any case)"),
]
Status = Annotated[
    members.MemberStatus | None,
    Query(description="active: last active within 30 days; inactive: not (or never)"),
]
Sort = Annotated[
    members.MemberSort,
    Query(description="joined (newest first, default), lastActive or watchTime (most first)"),
]
From = Annotated[
    date | None,
    Query(alias="from", description="First day (YYYY-MM-DD); default 29 days before 'to'"),
]
To = Annotated[
    date | None,
    Query(
        alias="to",
        description="Last day (YYYY-MM-DD); default today in the partner's time zone; "
        f"a window is at most {analytics.MAX_WINDOW_DAYS} days",
    ),
]


# --- dashboard --------------------------------------------------------------------------------


@router.get(
    "/partner/dashboard",
    response_model=Envelope[DashboardOut],
    dependencies=PARTNER,
    summary="Members, activity and watch time of the last 30 (or `days`) days, with trends",
)
async def dashboard(
    request: Request,
    session: DbSession,
    days: Annotated[
        int, Query(ge=7, le=365, description="Length of the period in local days")
    ] = insights.DEFAULT_DAYS,
) -> Envelope[DashboardOut]:
    answer = await insights.dashboard(session, current_caller(request), days)
    return ok(DashboardOut.model_validate(answer))


# --- members ----------------------------------------------------------------------------------


@router.get(
    "/partner/members",
    response_model=Envelope[Page[MemberOut]],
    dependencies=PARTNER,
    summary="The partner's members with their activity",
)
async def list_members(
    request: Request,
    session: DbSession,
    paging: Paging,
    search: Search = None,
    status: Status = None,
    sort: Sort = "joined",
) -> Envelope[Page[MemberOut]]:
    items, total = await members.list_members(
        session, current_caller(request), paging, search=search, status=status, sort=sort
    )
    return ok(paging.page_of([MemberOut.model_validate(item) for item in items], total))


@router.get(
    "/partner/members/export",
    dependencies=PARTNER,
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    summary="The members list as CSV (same filters and order, every page)",
)
async def export_members(
    request: Request,
    session: DbSession,
    search: Search = None,
    status: Status = None,
    sort: Sort = "joined",
) -> Response:
    rows = await members.export_rows(
        session, current_caller(request), search=search, status=status, sort=sort
    )
    return csv_response("members.csv", members.EXPORT_HEADER, rows)


@router.get(
    "/partner/members/{user_id}",
    response_model=Envelope[MemberDetail],
    dependencies=PARTNER,
    summary="One member (by user id) with viewing history and totals",
)
async def member_detail(
    request: Request, user_id: ObjectId, session: DbSession
) -> Envelope[MemberDetail]:
    answer = await members.member_detail(session, current_caller(request), user_id)
    return ok(MemberDetail.model_validate(answer))


# --- analytics --------------------------------------------------------------------------------


@router.get(
    "/partner/analytics/watch-time",
    response_model=Envelope[WatchTimeOut],
    dependencies=PARTNER,
    summary="Members' watch time per day, week (from Monday) or month, zero-filled",
)
async def watch_time(
    request: Request,
    session: DbSession,
    start: From = None,
    end: To = None,
    granularity: Annotated[analytics.Granularity, Query()] = "day",
) -> Envelope[WatchTimeOut]:
    answer = await analytics.watch_time(session, current_caller(request), start, end, granularity)
    return ok(WatchTimeOut.model_validate(answer))


@router.get(
    "/partner/analytics/content",
    response_model=Envelope[ContentOut],
    dependencies=PARTNER,
    summary="Top classes and categories members watched, with completion rates",
)
async def content(
    request: Request,
    session: DbSession,
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=50, description="Entries per list")] = 10,
) -> Envelope[ContentOut]:
    answer = await analytics.content(session, current_caller(request), start, end, limit)
    return ok(ContentOut.model_validate(answer))


# --- billing ----------------------------------------------------------------------------------


async def _billing_report(request: Request, session: DbSession, month: str | None) -> BillingReport:
    caller = current_caller(request)
    answer, _, month = await billing.report(session, caller, month)
    if answer is not None:
        return answer
    # A closed month seen for the first time: store its statement in a write transaction of
    # its own (this GET's transaction is a read one; on SQLite it could not take the lock).
    database: Database = request.app.state.db
    async with database.transaction(caller.scope) as writer:
        return await billing.close_month(writer, caller, month)


@router.get(
    "/partner/billing",
    response_model=Envelope[BillingReport],
    dependencies=PARTNER,
    summary="The month's billing report: billable members, usage, totals",
    description=(
        f"{billing.BILLABLE_RULE} {billing.CLOSING_RULE} An open month is computed live "
        "(`closed: false`). A future month, or a malformed one, is `400 VALIDATION_ERROR`."
    ),
)
async def billing_report(
    request: Request,
    session: DbSession,
    month: Annotated[
        str | None,
        Query(pattern=MONTH_PATTERN, description="YYYY-MM; default the current month"),
    ] = None,
) -> Envelope[BillingReport]:
    return ok(await _billing_report(request, session, month))


@router.get(
    "/partner/billing/{month}/export",
    dependencies=PARTNER,
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    summary="The month's billing report as CSV: a row per billable member and a totals row",
)
async def billing_export(
    request: Request,
    session: DbSession,
    month: Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM")],
) -> Response:
    answer = await _billing_report(request, session, month)
    return csv_response(
        f"billing-{answer.partner.id}-{answer.month}.csv",
        billing.EXPORT_HEADER,
        billing.export_rows(answer),
    )
