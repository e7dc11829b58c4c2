"""/admin/*: the platform admin API (thin HTTP over admin.service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import BackgroundTasks, Query, Request

from stvos.accounts.context import AccountsDep
from stvos.admin import service
from stvos.admin.schemas import (
    AdminClient,
    AdminLoginAnswer,
    AdminLoginIn,
    AdminMe,
    AdminOut,
    ApiKeyCreate,
    ApiKeyOut,
    ClientAnswer,
    ClientCreate,
    ClientStatusName,
    ClientUpdate,
    CreatedClientAnswer,
    IssuedApiKey,
    StaffAnswer,
    StaffCreate,
    StaffUser,
    UniversalKeyAnswer,
)
from stvos.kit import security
from stvos.kit.deps import DbSession
from stvos.kit.idempotency import idempotent, keep_secret
from stvos.kit.policy import Auth, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok
from stvos.tenancy import service as tenancy
from stvos.tenancy.access import ClientAuthenticator

router = api_router(prefix="/api/v1/admin", tags=["admin"])


def _refresh_key_cache(request: Request, background: BackgroundTasks) -> None:
    """Make this process drop cached keys and clients, so a change applies at once.

    Now, and again once the request's transaction has committed (background tasks run after
    the answer is sent), in case a concurrent request cached the old state in between.
    Other processes pick the change up within the key cache time.
    """
    authenticator: ClientAuthenticator = request.app.state.authenticator
    authenticator.invalidate()
    background.add_task(authenticator.invalidate)


# --- sign-in ----------------------------------------------------------------------------------


@router.post(
    "/auth/login",
    response_model=Envelope[AdminLoginAnswer],
    # Admins are platform data, found by email across the platform.
    dependencies=[allow(Auth.PUBLIC, platform_lookup=True)],
    summary="Sign a platform admin in (an access token; no refresh token)",
)
async def login(
    request: Request, body: AdminLoginIn, session: DbSession, accounts: AccountsDep
) -> Envelope[AdminLoginAnswer]:
    answer = await service.login(session, accounts, request.app.state.db, body)
    return ok(AdminLoginAnswer.model_validate(answer))


@router.get("/auth/me", response_model=Envelope[AdminMe], dependencies=[allow(Auth.ADMIN)])
async def me(request: Request, session: DbSession) -> Envelope[AdminMe]:
    caller = current_caller(request)
    assert caller.admin_id is not None
    admin = await service.current_admin(session, caller.admin_id)
    return ok(AdminMe(admin=AdminOut.model_validate(service.admin_out(admin))))


# --- clients ----------------------------------------------------------------------------------


@router.get(
    "/clients",
    response_model=Envelope[Page[AdminClient]],
    dependencies=[allow(Auth.ADMIN)],
    summary="List clients (search by name or slug, filter by status)",
)
async def list_clients(
    session: DbSession,
    paging: Paging,
    search: Annotated[str | None, Query(max_length=100, description="Name or slug")] = None,
    status: ClientStatusName | None = None,
) -> Envelope[Page[AdminClient]]:
    clients, total = await service.list_clients(session, paging, search=search, status=status)
    items = [AdminClient.model_validate(c) for c in await service.clients_out(session, clients)]
    return ok(paging.page_of(items, total))


@router.post(
    "/clients",
    status_code=201,
    response_model=Envelope[CreatedClientAnswer],
    dependencies=[allow(Auth.ADMIN), idempotent],
    summary="Create a client and its first API key (the key is shown once)",
)
async def create_client(
    request: Request, body: ClientCreate, session: DbSession, background: BackgroundTasks
) -> Envelope[CreatedClientAnswer]:
    client, key, raw = await service.create_client(session, body)
    _refresh_key_cache(request, background)
    keep_secret(request, "apiKey")
    return ok(
        CreatedClientAnswer(
            client=AdminClient.model_validate(service.client_out(client, 1)),
            api_key=IssuedApiKey(
                id=key.id, name=key.name, prefix=key.prefix, api_key=raw, created_at=key.created_at
            ),
        )
    )


@router.get(
    "/clients/{client_id}",
    response_model=Envelope[ClientAnswer],
    dependencies=[allow(Auth.ADMIN)],
)
async def get_client(client_id: ObjectId, session: DbSession) -> Envelope[ClientAnswer]:
    client = await service.get_client(session, client_id)
    (out,) = await service.clients_out(session, [client])
    return ok(ClientAnswer(client=AdminClient.model_validate(out)))


@router.patch(
    "/clients/{client_id}",
    response_model=Envelope[ClientAnswer],
    dependencies=[allow(Auth.ADMIN)],
    summary="Change a client (partial): branding, features, default, status, rate limits",
)
async def update_client(
    request: Request,
    client_id: ObjectId,
    body: ClientUpdate,
    session: DbSession,
    background: BackgroundTasks,
) -> Envelope[ClientAnswer]:
    client = await service.update_client(
        session, await service.get_client(session, client_id), body
    )
    _refresh_key_cache(request, background)
    (out,) = await service.clients_out(session, [client])
    return ok(ClientAnswer(client=AdminClient.model_validate(out)))


# --- API keys ---------------------------------------------------------------------------------


@router.post(
    "/clients/{client_id}/api-keys",
    status_code=201,
    response_model=Envelope[IssuedApiKey],
    dependencies=[allow(Auth.ADMIN), idempotent],
    summary="Issue another API key for the client (shown once)",
)
async def create_api_key(
    request: Request,
    client_id: ObjectId,
    session: DbSession,
    background: BackgroundTasks,
    body: ApiKeyCreate | None = None,
) -> Envelope[IssuedApiKey]:
    client = await service.get_client(session, client_id)
    key, raw = await tenancy.issue_api_key(session, client, name=(body or ApiKeyCreate()).name)
    _refresh_key_cache(request, background)
    keep_secret(request, "apiKey")
    return ok(
        IssuedApiKey(
            id=key.id, name=key.name, prefix=key.prefix, api_key=raw, created_at=key.created_at
        )
    )


@router.get(
    "/clients/{client_id}/api-keys",
    response_model=Envelope[Page[ApiKeyOut]],
    dependencies=[allow(Auth.ADMIN)],
    summary="The client's keys, revoked ones included (never the key itself)",
)
async def list_api_keys(
    client_id: ObjectId, session: DbSession, paging: Paging
) -> Envelope[Page[ApiKeyOut]]:
    client = await service.get_client(session, client_id)
    keys, total = await service.list_api_keys(session, client, paging)
    return ok(paging.page_of([ApiKeyOut.model_validate(k) for k in keys], total))


@router.delete(
    "/clients/{client_id}/api-keys/{key_id}",
    response_model=Envelope[ApiKeyOut],
    dependencies=[allow(Auth.ADMIN)],
    summary="Revoke a key (it stops working at once in this process)",
)
async def revoke_api_key(
    request: Request,
    client_id: ObjectId,
    key_id: ObjectId,
    session: DbSession,
    background: BackgroundTasks,
) -> Envelope[ApiKeyOut]:
    client = await service.get_client(session, client_id)
    key = await service.revoke_api_key(session, client, key_id)
    _refresh_key_cache(request, background)
    return ok(ApiKeyOut.model_validate(key))


# --- staff and the universal key --------------------------------------------------------------


@router.post(
    "/clients/{client_id}/staff",
    status_code=201,
    response_model=Envelope[StaffAnswer],
    dependencies=[allow(Auth.ADMIN), idempotent],
    summary="Create an account in the client (studio staff by default)",
)
async def create_staff(
    client_id: ObjectId, body: StaffCreate, session: DbSession
) -> Envelope[StaffAnswer]:
    client = await service.get_client(session, client_id)
    user = await service.create_staff(session, client, body)
    return ok(StaffAnswer(user=StaffUser.model_validate(service.staff_out(user))))


@router.post(
    "/universal-key",
    status_code=201,
    response_model=Envelope[UniversalKeyAnswer],
    dependencies=[allow(Auth.ADMIN), idempotent],
    summary="Issue the universal key (shown once; the previous one stops working)",
)
async def issue_universal_key(
    request: Request, session: DbSession, background: BackgroundTasks
) -> Envelope[UniversalKeyAnswer]:
    raw = await tenancy.issue_universal_key(session)
    _refresh_key_cache(request, background)
    keep_secret(request, "universalKey")
    return ok(UniversalKeyAnswer(universal_key=raw, prefix=security.shown_prefix(raw)))
