"""Wire models of the studio back office's user management."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from stvos.kit.schemas import ApiModel, RequestModel

RoleName = Literal["user", "trainer", "client_admin"]
StatusName = Literal["active", "disabled", "deleted"]


class ManagedUser(ApiModel):
    id: int
    email: str
    name: str | None
    role: str
    status: str
    coach_id: int | None
    premium_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None


class PremiumIn(RequestModel):
    premium_until: AwareDatetime | None = Field(
        description="Premium content access until this instant (ISO-8601 with a zone); null ends it"
    )


class ManagedUserAnswer(ApiModel):
    user: ManagedUser
