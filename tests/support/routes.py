"""Routes that exist only in tests, to exercise the shared plumbing the way domains will."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Request
from pydantic import Field

from stvos.kit.errors import Conflict
from stvos.kit.idempotency import idempotent
from stvos.kit.policy import Auth, allow, current_caller
from stvos.kit.routing import DbSession, api_router
from stvos.kit.schemas import ApiModel, Envelope, Page, Paging, RequestModel, ok
from stvos.models import ApiKey, Client
from stvos.tenancy import service

router = api_router(prefix="/api/v1/_test")


class EchoIn(RequestModel):
    name: str = Field(min_length=1, max_length=50)
    count: int = Field(ge=0)
    tags: list[str] = Field(default_factory=list)


class KeyOut(ApiModel):
    id: int
    name: str
    prefix: str


class Item(ApiModel):
    n: int


@router.post(
    "/echo", status_code=201, response_model=Envelope[EchoIn], dependencies=[allow(Auth.API_KEY)]
)
async def echo(body: EchoIn) -> Envelope[EchoIn]:
    return ok(body)


@router.get("/items", response_model=Envelope[Page[Item]], dependencies=[allow(Auth.API_KEY)])
async def items(paging: Paging) -> Envelope[Page[Item]]:
    total = 250
    numbers = range(paging.offset, min(paging.offset + paging.limit, total))
    return ok(paging.page_of([Item(n=n) for n in numbers], total))


async def _add_key(request: Request, session: DbSession, name: str) -> ApiKey:
    caller = current_caller(request)
    client = await session.get(Client, caller.client_id)
    assert client is not None
    key, _raw = await service.issue_api_key(session, client, name=name)
    return key


@router.post(
    "/keys",
    status_code=201,
    response_model=Envelope[KeyOut],
    dependencies=[allow(Auth.API_KEY), idempotent],
)
async def create_key(
    request: Request, session: DbSession, name: Annotated[str, Body(embed=True)]
) -> Envelope[KeyOut]:
    return ok(KeyOut.model_validate(await _add_key(request, session, name)))


@router.post("/write-then-crash", dependencies=[allow(Auth.API_KEY)])
async def write_then_crash(request: Request, session: DbSession) -> None:
    await _add_key(request, session, "doomed")
    await session.flush()
    raise RuntimeError("password=hunter2 at /srv/secret/path.py line 12")


@router.post("/write-then-conflict", dependencies=[allow(Auth.API_KEY)])
async def write_then_conflict(request: Request, session: DbSession) -> None:
    await _add_key(request, session, "doomed")
    await session.flush()
    raise Conflict("Already taken")


@router.get("/nutrition", dependencies=[allow(Auth.API_KEY, feature="nutrition")])
async def nutrition_only() -> Envelope[str]:
    return ok("fed")


@router.get("/me", dependencies=[allow(Auth.USER)])
async def signed_in_only() -> Envelope[str]:
    return ok("hello")
