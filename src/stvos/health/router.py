from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from stvos.health import service
from stvos.health.probe import liveness_json
from stvos.health.schemas import DetailedHealth, Health
from stvos.kit.policy import Auth, allow
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ok

router = api_router(tags=["health"])


@router.get(
    "/health",
    response_model=Envelope[Health],
    dependencies=[allow(Auth.PUBLIC)],
    description=(
        "Liveness, for load balancers and monitors: no credential, no database. "
        "Answered before the router (see `stvos.health.probe`); this route declares it."
    ),
)
async def health(request: Request) -> Response:
    state = request.app.state
    body = liveness_json(state.settings, state.started_monotonic)
    return Response(body, media_type="application/json")


@router.get(
    "/health/detailed",
    response_model=Envelope[DetailedHealth],
    response_model_exclude_none=True,
    dependencies=[allow(Auth.PUBLIC)],
    responses={503: {"description": "A dependency is down (same body, status degraded)"}},
)
async def health_detailed(request: Request) -> JSONResponse | Envelope[DetailedHealth]:
    state = request.app.state
    report = DetailedHealth.model_validate(
        await service.detailed(state.settings, state.started_monotonic, state.db, state.limiter)
    )
    if report.status != "ok":
        # Load balancers read the status code: a degraded instance should not get traffic.
        return JSONResponse(ok(report).model_dump(mode="json", by_alias=True), status_code=503)
    return ok(report)
