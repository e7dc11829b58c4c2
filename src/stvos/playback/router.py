"""/sessions/* and /users/me/sessions: thin HTTP over playback.service."""

from __future__ import annotations

from fastapi import Request, Response

from stvos.kit.deps import DbSession
from stvos.kit.policy import Auth, allow, current_caller
from stvos.kit.routing import api_router, hot_path
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok, ok_json
from stvos.playback import heartbeat as beats
from stvos.playback import service
from stvos.playback.schemas import EndIn, HeartbeatIn, SessionOut, StartIn

router = api_router(tags=["sessions"])


@router.post(
    "/sessions/start",
    status_code=201,
    response_model=Envelope[SessionOut],
    dependencies=[allow(Auth.USER, feature="classes")],
    summary="Start watching a class: a playback session with the resume position",
)
async def start(request: Request, body: StartIn, session: DbSession) -> Envelope[SessionOut]:
    caller = current_caller(request)
    answer = await service.start(
        session, caller.require_client(), caller.require_user_id(), body.class_id, body.device_id
    )
    return ok(SessionOut.model_validate(answer))


@router.post(
    "/sessions/{session_id}/progress",
    response_model=Envelope[SessionOut],
    # The account check rides in the heartbeat's own locked read (one statement fewer).
    dependencies=[allow(Auth.USER, feature="classes", sign_in_checked_by_route=True)],
    summary="The heartbeat (every 30 s): the position; answers coverage and completion",
    description=(
        "Credits at most the wall time since the previous heartbeat (plus 5 s), forwards only. "
        "Completion (once per user and class) needs `completionThreshold` percent of the video "
        "actually covered. A session silent for 5 minutes is closed: `409`."
    ),
)
@hot_path
async def heartbeat(
    request: Request, session_id: ObjectId, body: HeartbeatIn, session: DbSession
) -> Response:
    caller = current_caller(request)
    answer = await beats.heartbeat(
        session,
        caller.require_client(),
        caller.require_user_id(),
        session_id,
        body.position,
        sign_in=caller.require_pending_sign_in(),
    )
    return ok_json(SessionOut.model_validate(answer))


@router.post(
    "/sessions/{session_id}/end",
    response_model=Envelope[SessionOut],
    dependencies=[allow(Auth.USER, feature="classes", sign_in_checked_by_route=True)],
    summary="Stop watching (optionally with the last position)",
)
async def end(
    request: Request, session_id: ObjectId, session: DbSession, body: EndIn | None = None
) -> Envelope[SessionOut]:
    caller = current_caller(request)
    answer = await beats.heartbeat(
        session,
        caller.require_client(),
        caller.require_user_id(),
        session_id,
        body.position if body else None,
        ending=True,
        sign_in=caller.require_pending_sign_in(),
    )
    return ok(SessionOut.model_validate(answer))


@router.get(
    "/sessions/{session_id}",
    response_model=Envelope[SessionOut],
    dependencies=[allow(Auth.USER, feature="classes")],
)
async def get_session(
    request: Request, session_id: ObjectId, session: DbSession
) -> Envelope[SessionOut]:
    caller = current_caller(request)
    answer = await service.get(
        session, caller.require_client(), caller.require_user_id(), session_id
    )
    return ok(SessionOut.model_validate(answer))


@router.get(
    "/users/me/sessions",
    response_model=Envelope[Page[SessionOut]],
    dependencies=[allow(Auth.USER, feature="classes")],
    summary="My playback history, newest first",
)
async def my_sessions(
    request: Request, session: DbSession, paging: Paging
) -> Envelope[Page[SessionOut]]:
    caller = current_caller(request)
    items, total = await service.history(
        session, caller.require_client(), caller.require_user_id(), paging
    )
    return ok(paging.page_of([SessionOut.model_validate(i) for i in items], total))
