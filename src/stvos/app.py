"""create_app(): middleware, error handlers, routers; nothing else."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from stvos import __version__
from stvos.accounts.access import AccountAuthenticator
from stvos.accounts.context import Accounts
from stvos.accounts.recovery_router import router as recovery_router
from stvos.accounts.router import router as auth_router
from stvos.accounts.router import users_router
from stvos.accounts.tokens import TokenSigner
from stvos.admin.router import router as admin_router
from stvos.config import Settings, get_settings
from stvos.content.router import router as content_router
from stvos.content.search_router import router as content_search_router
from stvos.docs.openapi import build_openapi
from stvos.docs.router import router as docs_router
from stvos.health.probe import LivenessProbe, liveness_json
from stvos.health.router import router as health_router
from stvos.housekeeping.service import Housekeeper
from stvos.integrations.livekit import LiveKitRoomService
from stvos.integrations.mail import mail_services
from stvos.kit.db import Database
from stvos.kit.handlers import install_error_handlers
from stvos.kit.idempotency import IdempotentReplay, on_replay
from stvos.kit.middleware import RequestContextMiddleware
from stvos.kit.ratelimit import RateLimiter
from stvos.kit.routing import API_PREFIX, HotRoutes
from stvos.live.member_router import router as live_member_router
from stvos.live.room_router import router as live_room_router
from stvos.live.schedule_router import router as live_schedule_router
from stvos.manage.content_router import router as manage_content_router
from stvos.manage.router import router as manage_router
from stvos.onboarding.router import router as onboarding_router
from stvos.partners.insights_router import router as partner_insights_router
from stvos.partners.product_router import router as partner_products_router
from stvos.partners.redemption import PartnerVoucherRedeemer
from stvos.partners.router import router as partners_router
from stvos.partners.voucher_router import router as vouchers_router
from stvos.partners.voucher_router import voucher_client_hint
from stvos.playback.router import router as playback_router
from stvos.progress.router import router as progress_router
from stvos.tenancy.access import ClientAuthenticator
from stvos.tenancy.router import router as tenancy_router
from stvos.trainers.booking_router import router as bookings_router
from stvos.trainers.catalog_router import router as trainer_catalog_router
from stvos.trainers.portal_router import router as trainer_portal_router
from stvos.trainers.router import router as trainers_router

DESCRIPTION = """\
One API for many white-label fitness apps. Every client-scoped call carries the app's
`X-API-Key`; signed-in calls add `Authorization: Bearer <accessToken>`.
Answers are `{"success": true, "data": ...}`; errors are
`{"success": false, "error", "code", "details"}`.
"""


def api_routers() -> list[APIRouter]:
    """Every domain's router, in the order they appear in the docs."""
    return [
        health_router,
        tenancy_router,
        auth_router,
        recovery_router,
        users_router,
        onboarding_router,
        trainers_router,
        trainer_catalog_router,
        bookings_router,
        trainer_portal_router,
        content_router,
        content_search_router,
        live_member_router,
        live_schedule_router,
        live_room_router,
        progress_router,
        playback_router,
        partners_router,
        vouchers_router,
        partner_insights_router,
        partner_products_router,
        manage_router,
        manage_content_router,
        admin_router,
        docs_router,
    ]


def mount_order(routers: list[APIRouter]) -> list[APIRouter]:
    """The routers in the order requests are matched against them.

    FastAPI tries the routes of each included router in mount order, at a few microseconds per
    route, so the routers of the hot paths go first: health (polled by every load balancer),
    the heartbeat (every viewer, every 30 s) and the library reads. No path of theirs overlaps
    another router's, so the order changes no match, only its cost.
    """
    hot = [health_router, playback_router, content_router, content_search_router]
    return hot + [router for router in routers if router not in hot]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = Database(settings)
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    limiter = RateLimiter(redis_url)
    mailer, mail_dispatcher = mail_services(settings, database)
    livekit_rooms = LiveKitRoomService(settings.livekit)

    interval = settings.housekeeping_interval_minutes
    housekeeper = Housekeeper(database, timedelta(minutes=interval)) if interval else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if housekeeper is not None:
            housekeeper.start()
        if mail_dispatcher is not None:
            mail_dispatcher.start()
        yield
        await livekit_rooms.aclose()
        if mail_dispatcher is not None:
            await mail_dispatcher.stop()
        if housekeeper is not None:
            await housekeeper.stop()
        await limiter.aclose()
        await database.dispose()

    app = FastAPI(
        title="stvos",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=None,  # served by the docs router, under a declared policy
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # stvos ships no OpenTelemetry set-up; FastAPI's native telemetry would otherwise look
        # up the global providers (and their environment) on every request to find that out.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.db = database
    app.state.limiter = limiter
    authenticator = ClientAuthenticator(settings, database, limiter)
    signer = TokenSigner(settings)
    accounts = AccountAuthenticator(signer, authenticator)
    authenticator.bearer = accounts
    authenticator.client_hints.append(accounts.client_hint)
    authenticator.client_hints.append(voucher_client_hint)  # a voucher code names its client
    app.state.authenticator = authenticator
    app.state.accounts = Accounts(
        settings=settings, signer=signer, limiter=limiter, vouchers=PartnerVoucherRedeemer()
    )
    app.state.mailer = mailer
    app.state.livekit_rooms = livekit_rooms
    app.state.mail_dispatcher = mail_dispatcher
    app.state.housekeeper = housekeeper
    app.state.started_monotonic = time.monotonic()

    install_error_handlers(app)
    app.add_exception_handler(IdempotentReplay, on_replay)

    docs_order = api_routers()
    for router in mount_order(docs_order):
        app.include_router(router)
    # Swagger UI groups operations by tag in this order, whatever the mount order.
    tags = [t for r in docs_order for route in r.routes for t in getattr(route, "tags", [])]
    app.openapi_tags = [{"name": str(tag)} for tag in dict.fromkeys(tags)]

    def openapi() -> dict[str, Any]:
        return build_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]

    # Innermost of ours: hot paths and liveness polls skip the router, still get request ids,
    # logs and CORS.
    app.add_middleware(HotRoutes, api=app)
    app.add_middleware(
        LivenessProbe,
        path=f"{API_PREFIX}/health",
        body=lambda: liveness_json(settings, app.state.started_monotonic),
    )
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[
                "X-Request-ID",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "Retry-After",
            ],
        )
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.server.max_body_bytes)
    return app


def server_app() -> FastAPI:
    """The factory uvicorn workers call (``stvos serve``): settings from the environment."""
    from stvos.kit.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    return create_app(settings)
