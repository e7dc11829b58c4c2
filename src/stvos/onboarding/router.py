from __future__ import annotations

from typing import Annotated

from fastapi import Path

from stvos.kit.deps import DbSession
from stvos.kit.idempotency import idempotent
from stvos.kit.policy import Auth, allow
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ok
from stvos.onboarding import service
from stvos.onboarding.schemas import OnboardingAnswersIn, OnboardingSessionOut

router = api_router(tags=["onboarding"])

SessionId = Annotated[str, Path(min_length=1, max_length=40)]


@router.post(
    "/onboarding/sessions",
    status_code=201,
    response_model=Envelope[OnboardingSessionOut],
    dependencies=[allow(Auth.API_KEY), idempotent],
    summary="Start an anonymous onboarding session",
)
async def start_session(
    body: OnboardingAnswersIn, session: DbSession
) -> Envelope[OnboardingSessionOut]:
    onboarding = await service.start(session, body)
    return ok(OnboardingSessionOut.model_validate(service.to_out(onboarding)))


@router.get(
    "/onboarding/sessions/{session_id}",
    response_model=Envelope[OnboardingSessionOut],
    dependencies=[allow(Auth.API_KEY)],
)
async def get_session(session_id: SessionId, session: DbSession) -> Envelope[OnboardingSessionOut]:
    onboarding = await service.get(session, session_id)
    return ok(OnboardingSessionOut.model_validate(service.to_out(onboarding)))


@router.put(
    "/onboarding/sessions/{session_id}",
    response_model=Envelope[OnboardingSessionOut],
    dependencies=[allow(Auth.API_KEY)],
    summary="Add or change answers (partial)",
)
async def update_session(
    session_id: SessionId, body: OnboardingAnswersIn, session: DbSession
) -> Envelope[OnboardingSessionOut]:
    onboarding = await service.update(session, session_id, body)
    return ok(OnboardingSessionOut.model_validate(service.to_out(onboarding)))
