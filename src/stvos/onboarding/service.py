"""Onboarding sessions: anonymous, keyed by a random id, valid for a day, used once."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.clock import utcnow
from stvos.models import OnboardingSession
from stvos.onboarding.errors import OnboardingSessionNotFound, OnboardingSessionUnusable
from stvos.onboarding.schemas import OnboardingAnswersIn

LIFETIME = timedelta(days=1)


def _merge(stored: dict[str, Any], update: OnboardingAnswersIn) -> dict[str, Any]:
    answers = dict(stored)
    if "name" in update.model_fields_set:
        answers["name"] = update.name
    if update.profile is not None:
        profile = dict(answers.get("profile") or {})
        profile.update(update.profile.model_dump(exclude_unset=True))
        answers["profile"] = profile
    return answers


async def start(session: AsyncSession, answers: OnboardingAnswersIn) -> OnboardingSession:
    now = utcnow()
    onboarding = OnboardingSession(
        public_id="onb_" + secrets.token_urlsafe(24),
        answers=_merge({}, answers),
        created_at=now,
        updated_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(onboarding)
    await session.flush()
    return onboarding


async def _live(session: AsyncSession, public_id: str) -> OnboardingSession | None:
    onboarding = await session.scalar(
        select(OnboardingSession).where(OnboardingSession.public_id == public_id)
    )
    if onboarding is None or onboarding.merged_at is not None:
        return None
    if onboarding.expires_at <= utcnow():
        return None
    return onboarding


async def get(session: AsyncSession, public_id: str) -> OnboardingSession:
    onboarding = await _live(session, public_id)
    if onboarding is None:
        raise OnboardingSessionNotFound()
    return onboarding


async def update(
    session: AsyncSession, public_id: str, answers: OnboardingAnswersIn
) -> OnboardingSession:
    onboarding = await get(session, public_id)
    onboarding.answers = _merge(onboarding.answers, answers)
    onboarding.updated_at = utcnow()
    await session.flush()
    return onboarding


async def take_for_registration(
    session: AsyncSession, public_id: str, user_id: int
) -> dict[str, Any]:
    """The session's answers for a new account; the session cannot be used again."""
    onboarding = await _live(session, public_id)
    if onboarding is None:
        raise OnboardingSessionUnusable(
            details=[{"field": "sessionId", "message": "Unknown, expired or already used"}]
        )
    onboarding.user_id = user_id
    onboarding.merged_at = utcnow()
    await session.flush()
    return dict(onboarding.answers)


def to_out(onboarding: OnboardingSession) -> dict[str, Any]:
    return {
        "id": onboarding.public_id,
        "name": onboarding.answers.get("name"),
        "profile": onboarding.answers.get("profile") or {},
        "expires_at": onboarding.expires_at,
        "created_at": onboarding.created_at,
        "updated_at": onboarding.updated_at,
    }
