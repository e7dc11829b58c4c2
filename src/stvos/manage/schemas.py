"""Wire models of the studio back office's user management."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from stvos.kit.schemas import ApiModel

RoleName = Literal["user", "trainer", "client_admin"]
StatusName = Literal["active", "disabled", "deleted"]


class ManagedUser(ApiModel):
    id: int
    email: str
    name: str | None
    role: str
    status: str
    coach_id: int | None
    created_at: datetime
    last_login_at: datetime | None


class ManagedUserAnswer(ApiModel):
    user: ManagedUser
