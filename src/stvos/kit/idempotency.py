"""Idempotency keys for unsafe requests that create things.

A route opts in with ``dependencies=[allow(...), idempotent]``. With an ``Idempotency-Key``
header, the first request's answer is stored in the same transaction as its effects, so either
both persist or neither does. A later request with the same key (per client and acting
subject) and the same body replays that answer with ``Idempotent-Replayed: true``; a different
body or endpoint answers ``409 IDEMPOTENCY_CONFLICT``. Records expire after
``STVOS_IDEMPOTENCY_TTL_HOURS``. Platform-scope callers (platform admins) act for no client, so
their records live in a table of their own that is not tenant-owned.

Concurrent duplicates: the record is inserted before the route runs, so a second request with
the same key waits on the first one's row lock (PostgreSQL) or write lock (SQLite) and then
either replays the stored answer or, if it raced past the lookup, gets a 409 asking it to retry.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.clock import utcnow
from stvos.kit.db import Database
from stvos.kit.errors import IdempotencyConflict, ValidationFailed
from stvos.kit.policy import current_caller
from stvos.kit.routing import DbSession
from stvos.kit.tenancy import get_scope
from stvos.models.idempotency import IdempotencyRecord, PlatformIdempotencyRecord

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
_KEY_SHAPE = re.compile(r"^[\x21-\x7e]{1,255}$")

AnyRecord = IdempotencyRecord | PlatformIdempotencyRecord
RecordModel = type[IdempotencyRecord] | type[PlatformIdempotencyRecord]


def _model_for(session: AsyncSession) -> RecordModel:
    platform = get_scope(session.sync_session).platform
    return PlatformIdempotencyRecord if platform else IdempotencyRecord


class IdempotentReplay(Exception):
    """Raised to answer with the stored response instead of running the route again."""

    def __init__(self, record: AnyRecord) -> None:
        # Copied out now: the request's transaction rolls back (and expires the row) before
        # the handler renders the answer.
        self.status_code = record.status_code or 200
        self.headers = {**(record.response_headers or {}), REPLAY_HEADER: "true"}
        self.body = record.response_body or b""

    def response(self) -> Response:
        return Response(content=self.body, status_code=self.status_code, headers=self.headers)


async def on_replay(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IdempotentReplay)
    return exc.response()


def _fingerprint(method: str, route: str, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), route.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class PendingIdempotency:
    """The claim on a key for this request; filled with the answer once the route returns."""

    def __init__(self, session: AsyncSession, record: AnyRecord) -> None:
        self.session = session
        self.record = record
        self.secret_fields: set[str] = set()

    async def remember(self, response: Response) -> None:
        body = getattr(response, "body", None)
        if not isinstance(body, bytes | memoryview):
            return  # streamed answers are not replayable; the claim still blocks reuse
        self.record.status_code = response.status_code
        content_type = response.headers.get("content-type")
        self.record.response_headers = {"content-type": content_type} if content_type else {}
        self.record.response_body = _without_secrets(bytes(body), self.secret_fields)
        await self.session.flush()


def keep_secret(request: Request, *fields: str) -> None:
    """Store this request's answer with these scalar JSON fields nulled, wherever they occur.

    For secrets shown once (a new API key): they must not sit in the idempotency table, so a
    replay answers the same thing except that each such field is null.
    """
    pending = getattr(request.state, "idempotency", None)
    if isinstance(pending, PendingIdempotency):
        pending.secret_fields.update(fields)


def _without_secrets(body: bytes, fields: set[str]) -> bytes:
    if not fields:
        return body

    def scrub(value: object) -> object:
        if isinstance(value, dict):
            return {
                k: None if k in fields and not isinstance(v, dict | list) else scrub(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value

    try:
        document = json.loads(body)
    except ValueError:
        return b""  # not JSON: keep nothing rather than a secret
    return json.dumps(scrub(document), separators=(",", ":")).encode()


async def _claim_key(
    request: Request,
    session: DbSession,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="Makes a retry safe: the same key and body replays the first answer.",
        ),
    ] = None,
) -> None:
    if key is None:
        return
    if not _KEY_SHAPE.match(key):
        raise ValidationFailed(
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
            details=[{"field": HEADER, "message": "Invalid idempotency key"}],
        )
    caller = current_caller(request)
    route = getattr(request.scope.get("route"), "path", request.url.path)
    fingerprint = _fingerprint(request.method, route, await request.body())
    subject = caller.subject
    now = utcnow()
    model = _model_for(session)

    existing = await _find(session, model, subject, key)
    if existing is not None and existing.expires_at <= now:
        await session.execute(delete(model).where(model.id == existing.id))
        existing = None
    if existing is not None:
        _replay_or_conflict(existing, fingerprint)

    ttl = timedelta(hours=request.app.state.settings.idempotency.ttl_hours)
    fields = {
        "scope": subject,
        "key": key,
        "method": request.method,
        "route": route,
        "fingerprint": fingerprint,
        "created_at": now,
        "expires_at": now + ttl,
    }
    record: AnyRecord = (
        PlatformIdempotencyRecord(**fields)
        if model is PlatformIdempotencyRecord
        else IdempotencyRecord(api_key_id=caller.api_key_id, **fields)
    )
    session.add(record)
    try:
        await session.flush()
    except IntegrityError:
        # A concurrent request with the same key won the insert, and (PostgreSQL) we waited
        # for it to finish. Read its outcome in a fresh transaction and answer as it did.
        database: Database = request.app.state.db
        async with database.transaction(get_scope(session.sync_session), write=False) as fresh:
            winner = await _find(fresh, model, subject, key)
            if winner is not None:
                _replay_or_conflict(winner, fingerprint)
        raise IdempotencyConflict(
            "A request with this Idempotency-Key is still being processed; retry shortly"
        ) from None
    request.state.idempotency = PendingIdempotency(session, record)


async def _find(
    session: AsyncSession, model: RecordModel, subject: str, key: str
) -> AnyRecord | None:
    found: AnyRecord | None = await session.scalar(
        select(model).where(model.scope == subject, model.key == key)
    )
    return found


def _replay_or_conflict(record: AnyRecord, fingerprint: str) -> None:
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was already used with a different request")
    raise IdempotentReplay(record)


idempotent = Depends(_claim_key)
