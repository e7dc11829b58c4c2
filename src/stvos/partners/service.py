"""Partners, their staff logins, and partner staff sign-in.

The studio's side (``/manage/partners*``) runs in the studio's client scope. Partner staff sign
in without an API key (``/partner-auth/login``, ``/refresh``): their email is unique across the
platform, so those two functions run in the **platform scope** (their router declares it) and
name the staff member's client explicitly. A partner access token is bound to that client and
partner; the PARTNER bearer layer (accounts.access) puts later requests in that client's scope.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts import passwords, throttle, tokens
from stvos.accounts.context import Accounts
from stvos.accounts.errors import (
    AccountDisabled,
    InvalidCredentials,
    InvalidToken,
    RefreshTokenInvalid,
    UserExists,
)
from stvos.accounts.schemas import LoginIn
from stvos.accounts.service import normalize_email
from stvos.accounts.tokens import AccessClaims, Audience
from stvos.kit.clock import utcnow
from stvos.kit.errors import ClientSuspended
from stvos.kit.paging import fetch_page
from stvos.kit.schemas import PageParams
from stvos.models import Client, Partner, PartnerStaff
from stvos.partners.errors import PartnerInactive, PartnerNotFound
from stvos.partners.schemas import (
    PartnerIn,
    PartnerPatch,
    PartnerStaffIn,
    money_text,
    to_minor,
)
from stvos.tenancy.service import client_brief

ACTIVE = "active"
SIGN_IN_REALM = "partner"  # one throttle realm: partner staff emails are platform-wide

# --- the studio's side (client scope) ---------------------------------------------------------


async def create_partner(session: AsyncSession, body: PartnerIn) -> Partner:
    partner = Partner(
        name=body.name,
        type=body.type,
        status=ACTIVE,
        billing_rate_minor=to_minor(body.billing_rate),
        currency=body.currency,
        time_zone=body.time_zone,
    )
    session.add(partner)
    await session.flush()
    return partner


async def update_partner(session: AsyncSession, partner_id: int, body: PartnerPatch) -> Partner:
    """Change the fields sent. Suspending signs the partner's staff out for good: a later
    reactivation must not bring old sign-ins back, so their refresh tokens are revoked and
    their token version moves on (the PARTNER bearer layer already refuses every access token
    of a partner that is not active, from the very next request)."""
    partner = await get_partner(session, partner_id)
    sent = body.model_fields_set
    if "name" in sent and body.name is not None:
        partner.name = body.name
    if "type" in sent and body.type is not None:
        partner.type = body.type
    if "billing_rate" in sent and body.billing_rate is not None:
        partner.billing_rate_minor = to_minor(body.billing_rate)
    if "currency" in sent and body.currency is not None:
        partner.currency = body.currency
    if "time_zone" in sent:
        partner.time_zone = body.time_zone
    if "status" in sent and body.status is not None and body.status != partner.status:
        partner.status = body.status
        if body.status != ACTIVE:
            await _sign_out_staff(session, partner.id)
    await session.flush()
    return partner


async def _sign_out_staff(session: AsyncSession, partner_id: int) -> None:
    staff_ids = list(
        await session.scalars(select(PartnerStaff.id).where(PartnerStaff.partner_id == partner_id))
    )
    for staff_id in staff_ids:
        await tokens.revoke_all(session, partner_staff_id=staff_id)
    if staff_ids:
        await session.execute(
            update(PartnerStaff)
            .where(PartnerStaff.partner_id == partner_id)
            .values(token_version=PartnerStaff.token_version + 1)
            .execution_options(synchronize_session=False)
        )


async def list_partners(session: AsyncSession, paging: PageParams) -> tuple[list[Partner], int]:
    return await fetch_page(session, select(Partner), paging, Partner.name, Partner.id)


async def get_partner(session: AsyncSession, partner_id: int) -> Partner:
    partner = await session.get(Partner, partner_id)
    if partner is None:
        raise PartnerNotFound()
    return partner


async def create_staff(
    session: AsyncSession, partner_id: int, body: PartnerStaffIn
) -> PartnerStaff:
    """A staff login for a partner; ``USER_EXISTS`` when the email is taken anywhere."""
    partner = await get_partner(session, partner_id)
    staff = PartnerStaff(
        partner_id=partner.id,
        email=str(body.email).strip(),
        email_normalized=normalize_email(str(body.email)),
        password_hash=await passwords.hash_password(body.password),
        name=body.name,
        status=ACTIVE,
        token_version=1,
    )
    # The unique index on email_normalized spans every client, which this client scope cannot
    # see into: the insert itself is the check (and also settles concurrent creations).
    try:
        async with session.begin_nested():
            session.add(staff)
            await session.flush()
    except IntegrityError:
        raise UserExists("A partner staff login with this email already exists") from None
    return staff


async def list_staff(
    session: AsyncSession, partner_id: int, paging: PageParams
) -> tuple[list[PartnerStaff], int]:
    partner = await get_partner(session, partner_id)
    query = select(PartnerStaff).where(PartnerStaff.partner_id == partner.id)
    order = (PartnerStaff.email_normalized, PartnerStaff.id)
    return await fetch_page(session, query, paging, *order)


# --- partner staff sign-in (platform scope) ---------------------------------------------------


def partner_out(partner: Partner) -> dict[str, Any]:
    return {
        "id": partner.id,
        "name": partner.name,
        "type": partner.type,
        "status": partner.status,
        "billing_rate": money_text(partner.billing_rate_minor),
        "currency": partner.currency,
        "time_zone": partner.time_zone,
        "created_at": partner.created_at,
        "updated_at": partner.updated_at,
    }


async def _standing(session: AsyncSession, staff: PartnerStaff) -> tuple[Partner, Client]:
    """The staff member's partner and client, refusing (403) anything not active."""
    client = await session.get(Client, staff.client_id)
    assert client is not None  # staff cascade with their client
    if not client.is_active:
        raise ClientSuspended()
    # Same client by construction: the reference is composite (client_id, partner_id).
    partner = await session.get(Partner, staff.partner_id)
    if partner is None or partner.status != ACTIVE:
        raise PartnerInactive()
    if staff.status != ACTIVE:
        raise AccountDisabled()
    return partner, client


def _auth_answer(
    accounts: Accounts,
    staff: PartnerStaff,
    partner: Partner,
    client: Client,
    refresh: tokens.IssuedRefresh,
) -> dict[str, Any]:
    access = accounts.signer.issue(
        AccessClaims(
            audience=Audience.PARTNER,
            subject_id=staff.id,
            token_version=staff.token_version,
            client_id=staff.client_id,
            partner_id=staff.partner_id,
            family=refresh.family,
        )
    )
    return {
        "partner": {"id": partner.id, "name": partner.name, "type": partner.type},
        "staff": {"id": staff.id, "email": staff.email, "name": staff.name},
        "client": client_brief(client),
        **tokens.token_placements(access, refresh.raw),
    }


async def login(session: AsyncSession, accounts: Accounts, body: LoginIn) -> dict[str, Any]:
    email = normalize_email(str(body.email))
    await throttle.sign_in(accounts.limiter, accounts.settings, realm=SIGN_IN_REALM, account=email)
    staff = await session.scalar(select(PartnerStaff).where(PartnerStaff.email_normalized == email))
    # An unknown email costs one hash verification too, so timing tells nothing.
    if not await passwords.verify_password(staff.password_hash if staff else None, body.password):
        raise InvalidCredentials()
    assert staff is not None
    partner, client = await _standing(session, staff)
    if passwords.needs_rehash(staff.password_hash):
        staff.password_hash = await passwords.hash_password(body.password)
    staff.last_login_at = utcnow()
    refresh = await tokens.open_family(
        session, accounts.settings, client_id=staff.client_id, partner_staff_id=staff.id
    )
    return _auth_answer(accounts, staff, partner, client, refresh)


async def refresh(session: AsyncSession, accounts: Accounts, raw: str) -> dict[str, Any]:
    """Rotate a partner staff refresh token exactly as users' are (reuse ends the family)."""
    old, issued = await tokens.rotate(session, accounts.settings, raw)
    if old.partner_staff_id is None:
        raise RefreshTokenInvalid()  # a user's token presented as partner staff's (rolled back)
    staff = await session.get(PartnerStaff, old.partner_staff_id)
    if staff is None or staff.client_id != old.client_id:
        raise RefreshTokenInvalid()
    partner, client = await _standing(session, staff)
    return _auth_answer(accounts, staff, partner, client, issued)


# --- the signed-in partner staff member (client scope, from the token) ------------------------


async def me(session: AsyncSession, *, staff_id: int, client_id: int) -> dict[str, Any]:
    staff = await session.get(PartnerStaff, staff_id)
    partner = await session.get(Partner, staff.partner_id) if staff else None
    client = await session.get(Client, client_id)
    if staff is None or partner is None or client is None:
        raise InvalidToken("This sign-in is no longer valid")
    return {"staff": staff, "partner": partner_out(partner), "client": client_brief(client)}
