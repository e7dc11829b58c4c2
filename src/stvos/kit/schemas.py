"""Wire models: camelCase on the wire, the success/error envelopes and pagination."""

from __future__ import annotations

import math
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

T = TypeVar("T")

MAX_PAGE_SIZE = 100

# An id in a URL path: positive and within the 64-bit ids of every table.
ObjectId = Annotated[int, Path(ge=1, le=2**63 - 1)]
DEFAULT_PAGE_SIZE = 20


class ApiModel(BaseModel):
    """Base of every response model: snake_case in Python, camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class RequestModel(ApiModel):
    """Base of every request body: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )


class Envelope(BaseModel, Generic[T]):
    success: Literal[True] = True
    data: T


def ok(data: T) -> Envelope[T]:
    return Envelope[T](data=data)


def ok_bytes(data: BaseModel) -> bytes:
    """``ok(data)`` encoded: ``{"success":true,"data":...}`` with the wire's field names."""
    return (
        b'{"success":true,"data":'
        + data.__pydantic_serializer__.to_json(data, by_alias=True)
        + b"}"
    )


def ok_json(data: BaseModel) -> Response:
    """``ok(data)`` as a ready JSON answer, for the hottest routes.

    Returned as a model, an answer is validated against the route's response model once more
    and encoded twice (to Python values, then to JSON) by FastAPI; this encodes it once. The
    route still declares ``response_model=Envelope[...]`` for its documentation."""
    return Response(ok_bytes(data), media_type="application/json")


class FieldError(BaseModel):
    field: str
    message: str


class ErrorEnvelope(BaseModel):
    success: Literal[False] = False
    error: str
    code: str
    details: list[FieldError] | str | dict[str, Any] | None = None
    request_id: str | None = Field(default=None, serialization_alias="requestId")


class Pagination(ApiModel):
    page: int
    limit: int
    total: int
    total_pages: int


class Page(ApiModel, Generic[T]):
    items: list[T]
    pagination: Pagination


class PageParams(BaseModel):
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def page_of(self, items: list[T], total: int) -> Page[T]:
        return Page[T](
            items=items,
            pagination=Pagination(
                page=self.page,
                limit=self.limit,
                total=total,
                total_pages=math.ceil(total / self.limit) if total else 0,
            ),
        )


def _page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")] = 1,
    limit: Annotated[
        int, Query(ge=1, description=f"Items per page; values above {MAX_PAGE_SIZE} are capped")
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    return PageParams(page=page, limit=min(limit, MAX_PAGE_SIZE))


Paging = Annotated[PageParams, Depends(_page_params)]
