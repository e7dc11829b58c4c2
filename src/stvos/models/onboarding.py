"""Anonymous onboarding answers, merged into the account at sign-up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from stvos.kit.orm import Base, BigId, IdMixin, TenantOwned, tenant_reference


class OnboardingSession(IdMixin, TenantOwned, Base):
    __tablename__ = "onboarding_sessions"
    __table_args__ = (
        tenant_reference("user_id", "users"),
        Index("ix_onboarding_sessions_client_id_expires_at", "client_id", "expires_at"),
    )

    # The id apps see: random, because the session is anonymous (an integer would let anyone
    # with the app's key read other people's answers by counting).
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    # Set when a registration merged the answers into an account.
    user_id: Mapped[int | None] = mapped_column(BigId)
    merged_at: Mapped[datetime | None] = mapped_column()
