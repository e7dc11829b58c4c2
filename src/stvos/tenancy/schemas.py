from __future__ import annotations

from pydantic import Field

from stvos.kit.schemas import ApiModel


class Branding(ApiModel):
    colors: dict[str, str] = Field(
        description="Colour roles of the white-label app, e.g. primary -> #FF5A1F"
    )


class PublicClient(ApiModel):
    """A client as its app shows it before anyone signs in."""

    id: int
    name: str
    slug: str
    logo: str | None
    splash_screen: str | None
    branding: Branding
    enabled_features: list[str]
    requires_voucher: bool
    time_zone: str


class AppConfig(ApiModel):
    has_default_client: bool
    requires_voucher: bool = Field(
        description="True when the app must ask for a voucher code before sign-up: the client "
        "requires one, or no client can be determined without one."
    )
    client: PublicClient | None
