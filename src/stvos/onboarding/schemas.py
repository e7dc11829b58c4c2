from __future__ import annotations

from datetime import datetime

from pydantic import Field

from stvos.accounts.schemas import Profile, ProfileOut
from stvos.kit.schemas import ApiModel, RequestModel


class OnboardingAnswersIn(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    profile: Profile | None = None


class OnboardingSessionOut(ApiModel):
    id: str = Field(description="Pass as sessionId to /auth/register")
    name: str | None
    profile: ProfileOut
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
