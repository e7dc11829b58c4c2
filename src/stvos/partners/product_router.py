"""/partner/products (partner staff manage their own) and /products (apps list active ones)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from stvos.kit.deps import DbSession
from stvos.kit.idempotency import idempotent
from stvos.kit.policy import Auth, allow, current_caller
from stvos.kit.routing import api_router
from stvos.kit.schemas import Envelope, ObjectId, Page, Paging, ok
from stvos.partners import products as service
from stvos.partners.product_schemas import (
    Deleted,
    ProductIn,
    ProductOut,
    ProductPatch,
    PublicProductOut,
)

router = api_router(tags=["products"])

PARTNER = allow(Auth.PARTNER)


def _partner_id(request: Request) -> int:
    partner_id = current_caller(request).partner_id
    assert partner_id is not None  # the PARTNER layer sets it
    return partner_id


@router.post(
    "/partner/products",
    status_code=201,
    response_model=Envelope[ProductOut],
    dependencies=[PARTNER, idempotent],
    summary="Add a product your partner offers the app's members",
    description="`currency` left out: the partner's. Honours `Idempotency-Key`.",
)
async def create_product(
    body: ProductIn, request: Request, session: DbSession
) -> Envelope[ProductOut]:
    product = await service.create(session, _partner_id(request), body)
    return ok(ProductOut.model_validate(service.product_out(product)))


@router.get(
    "/partner/products",
    response_model=Envelope[Page[ProductOut]],
    dependencies=[PARTNER],
    summary="Your partner's products, by name",
)
async def list_products(
    request: Request,
    session: DbSession,
    paging: Paging,
    active: Annotated[bool | None, Query(description="Only active (true) or inactive")] = None,
) -> Envelope[Page[ProductOut]]:
    items, total = await service.list_own(session, _partner_id(request), paging, active)
    out = [ProductOut.model_validate(service.product_out(p)) for p in items]
    return ok(paging.page_of(out, total))


@router.get(
    "/partner/products/{product_id}",
    response_model=Envelope[ProductOut],
    dependencies=[PARTNER],
)
async def get_product(
    product_id: ObjectId, request: Request, session: DbSession
) -> Envelope[ProductOut]:
    product = await service.get_own(session, _partner_id(request), product_id)
    return ok(ProductOut.model_validate(service.product_out(product)))


@router.patch(
    "/partner/products/{product_id}",
    response_model=Envelope[ProductOut],
    dependencies=[PARTNER],
    summary="Change a product (only the fields sent)",
)
async def update_product(
    product_id: ObjectId, body: ProductPatch, request: Request, session: DbSession
) -> Envelope[ProductOut]:
    product = await service.update(session, _partner_id(request), product_id, body)
    return ok(ProductOut.model_validate(service.product_out(product)))


@router.delete(
    "/partner/products/{product_id}",
    response_model=Envelope[Deleted],
    dependencies=[PARTNER],
)
async def delete_product(
    product_id: ObjectId, request: Request, session: DbSession
) -> Envelope[Deleted]:
    await service.delete(session, _partner_id(request), product_id)
    return ok(Deleted(id=product_id))


@router.get(
    "/products",
    response_model=Envelope[Page[PublicProductOut]],
    dependencies=[allow(Auth.API_KEY)],
    summary="Products the app's partners offer",
    description="Active products of active partners, by partner then product name.",
)
async def list_public_products(
    session: DbSession,
    paging: Paging,
    partner_id: Annotated[
        int | None, Query(alias="partnerId", ge=1, le=2**63 - 1, description="One partner only")
    ] = None,
) -> Envelope[Page[PublicProductOut]]:
    items, total = await service.list_public(session, paging, partner_id)
    return ok(paging.page_of([PublicProductOut.model_validate(i) for i in items], total))
