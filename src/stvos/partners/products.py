"""Partner products: partner staff manage their own; apps list the active ones.

Every partner-side query names ``partner_id``: the tenant filter keeps other clients out, but
only this condition keeps another partner of the same client out (its ids answer 404).
The app-side list shows only active products of **active** partners, so suspending a partner
takes its offers off every app at once without touching them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.paging import fetch_page
from stvos.kit.schemas import PageParams
from stvos.models import Partner, PartnerProduct
from stvos.partners.errors import PartnerNotFound, ProductNotFound
from stvos.partners.product_schemas import ProductIn, ProductPatch
from stvos.partners.schemas import money_text, to_minor

ACTIVE = "active"


def product_out(product: PartnerProduct) -> dict[str, Any]:
    return {
        "id": product.id,
        "partner_id": product.partner_id,
        "name": product.name,
        "description": product.description,
        "price": money_text(product.price_minor),
        "currency": product.currency,
        "url": product.url,
        "image_url": product.image_url,
        "is_active": product.is_active,
        "created_at": product.created_at,
        "updated_at": product.updated_at,
    }


def public_out(product: PartnerProduct, partner: Partner) -> dict[str, Any]:
    return {
        **product_out(product),
        "partner": {"id": partner.id, "name": partner.name, "type": partner.type},
    }


async def create(session: AsyncSession, partner_id: int, body: ProductIn) -> PartnerProduct:
    partner = await session.get(Partner, partner_id)
    if partner is None:  # the bearer layer checked it a moment ago; deleted since
        raise PartnerNotFound()
    product = PartnerProduct(
        partner_id=partner.id,
        name=body.name,
        description=body.description,
        price_minor=to_minor(body.price),
        currency=body.currency or partner.currency,
        url=str(body.url) if body.url is not None else None,
        image_url=str(body.image_url) if body.image_url is not None else None,
        is_active=body.is_active,
    )
    session.add(product)
    await session.flush()
    return product


async def list_own(
    session: AsyncSession, partner_id: int, paging: PageParams, active: bool | None
) -> tuple[list[PartnerProduct], int]:
    query = select(PartnerProduct).where(PartnerProduct.partner_id == partner_id)
    if active is not None:
        query = query.where(PartnerProduct.is_active.is_(active))
    return await fetch_page(session, query, paging, PartnerProduct.name, PartnerProduct.id)


async def get_own(session: AsyncSession, partner_id: int, product_id: int) -> PartnerProduct:
    product = await session.scalar(
        select(PartnerProduct).where(
            PartnerProduct.id == product_id, PartnerProduct.partner_id == partner_id
        )
    )
    if product is None:
        raise ProductNotFound()
    return product


async def update(
    session: AsyncSession, partner_id: int, product_id: int, body: ProductPatch
) -> PartnerProduct:
    product = await get_own(session, partner_id, product_id)
    sent = body.model_fields_set
    if "name" in sent and body.name is not None:
        product.name = body.name
    if "description" in sent:
        product.description = body.description
    if "price" in sent and body.price is not None:
        product.price_minor = to_minor(body.price)
    if "currency" in sent and body.currency is not None:
        product.currency = body.currency
    if "url" in sent:
        product.url = str(body.url) if body.url is not None else None
    if "image_url" in sent:
        product.image_url = str(body.image_url) if body.image_url is not None else None
    if "is_active" in sent and body.is_active is not None:
        product.is_active = body.is_active
    await session.flush()
    return product


async def delete(session: AsyncSession, partner_id: int, product_id: int) -> None:
    product = await get_own(session, partner_id, product_id)
    await session.delete(product)
    await session.flush()


async def list_public(
    session: AsyncSession, paging: PageParams, partner_id: int | None
) -> tuple[list[dict[str, Any]], int]:
    """Active products of the client's active partners, by partner then product name."""
    query = (
        select(PartnerProduct)
        .join(Partner, Partner.id == PartnerProduct.partner_id)
        .where(PartnerProduct.is_active.is_(True), Partner.status == ACTIVE)
    )
    if partner_id is not None:
        query = query.where(PartnerProduct.partner_id == partner_id)
    rows, total = await fetch_page(
        session, query, paging, Partner.name, Partner.id, PartnerProduct.name, PartnerProduct.id
    )
    partner_ids = {row.partner_id for row in rows}
    partners = {
        p.id: p for p in await session.scalars(select(Partner).where(Partner.id.in_(partner_ids)))
    }
    return [public_out(row, partners[row.partner_id]) for row in rows], total
