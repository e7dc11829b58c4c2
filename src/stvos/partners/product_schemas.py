"""Wire models of partner products: what partner staff manage, and what the app lists."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, HttpUrl, field_validator

from stvos.kit.schemas import ApiModel, RequestModel
from stvos.partners.schemas import Currency, Money, PartnerBrief

MAX_URL_LENGTH = 500  # the columns' size


def _url_text(value: HttpUrl) -> HttpUrl:
    if len(str(value)) > MAX_URL_LENGTH:
        raise ValueError(f"URL should have at most {MAX_URL_LENGTH} characters")
    return value


# http(s) only: HttpUrl refuses javascript:, data: and friends, which an app would render.
Url = Annotated[HttpUrl, AfterValidator(_url_text)]


def _not_null(value: object) -> object:
    """Runs only on values sent (defaults are not validated): an explicit null is refused."""
    if value is None:
        raise ValueError("This field may not be null")
    return value


class ProductIn(RequestModel):
    name: str = Field(min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=5000)
    price: Money = Field(
        default=Decimal("0"), description='Decimal amount in `currency`, e.g. "19.99"'
    )
    currency: Currency | None = Field(default=None, description="Left out: the partner's currency")
    url: Url | None = Field(default=None, description="http(s) page where the product is offered")
    image_url: Url | None = Field(default=None, description="http(s) image of the product")
    is_active: bool = Field(default=True, description="Only active products are listed to apps")


class ProductPatch(RequestModel):
    """Only the fields sent change; ``description``, ``url`` and ``imageUrl`` may be null."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=5000)
    price: Money | None = None
    currency: Currency | None = None
    url: Url | None = None
    image_url: Url | None = None
    is_active: bool | None = None

    refuse_nulls = field_validator("name", "price", "currency", "is_active")(_not_null)


class ProductOut(ApiModel):
    id: int
    partner_id: int
    name: str
    description: str | None
    price: str = Field(description="Decimal string", examples=["19.99"])
    currency: str
    url: str | None
    image_url: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class PublicProductOut(ApiModel):
    """A product as the app shows it, with the partner offering it."""

    id: int
    name: str
    description: str | None
    price: str = Field(description="Decimal string", examples=["19.99"])
    currency: str
    url: str | None
    image_url: str | None
    partner: PartnerBrief
    created_at: datetime


class Deleted(ApiModel):
    id: int
    deleted: Literal[True] = True
