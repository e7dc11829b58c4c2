"""GET /content/search: thin HTTP over :mod:`stvos.content.search`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from stvos.content import search
from stvos.content.search import SearchHit
from stvos.kit.deps import DbSession
from stvos.kit.policy import Auth, Feature, allow
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, Page, Paging, ok

router = api_router(tags=["content"])


@router.get(
    "/content/search",
    response_model=Envelope[Page[SearchHit]],
    dependencies=[allow(Auth.API_KEY, feature=Feature.CLASSES.value)],
    summary="Search the published classes",
    description=(
        "Full text over class name, trainer and category names, and description (weighted in "
        "that order). Each word of `q` is a prefix (`yog` finds Yoga) and every word must "
        "match; punctuation and search operators are ignored. Best match first, then newest."
    ),
)
async def search_classes(
    session: DbSession,
    paging: Paging,
    q: Annotated[str, Query(description="1 to 100 characters after trimming")],
) -> Envelope[Page[SearchHit]]:
    return ok(await search.search_classes(session, q, paging))
