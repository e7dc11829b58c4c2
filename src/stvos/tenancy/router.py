from __future__ import annotations

from fastapi import Request

from stvos.kit.db import Database
from stvos.kit.policy import Auth, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ok
from stvos.kit.tenancy import TenantScope
from stvos.tenancy import service
from stvos.tenancy.schemas import AppConfig

router = api_router(tags=["app"])


@router.get(
    "/app/config",
    response_model=Envelope[AppConfig],
    dependencies=[allow(Auth.OPTIONAL_KEY)],
    summary="Start-up configuration of a white-label app",
    description="With an API key: that key's client. Without: the default client, if any.",
)
async def get_app_config(request: Request) -> Envelope[AppConfig]:
    caller = current_caller(request)
    database: Database = request.app.state.db
    # Platform scope: whether a default client exists is a platform fact, whichever key asks.
    async with database.transaction(TenantScope.for_platform(), write=False) as session:
        config = await service.app_config(session, caller.client_id)
    return ok(AppConfig.model_validate(config))
