"""The demo partner's world: a billing rate, products, vouchers and members who watch classes.

So the partner portal is not empty on a fresh demo: ``/partner/dashboard``, members, analytics
and billing all have something to show.

Consistency: the members' watching is produced by the real playback code
(:mod:`stvos.playback.service` ``start``, :mod:`stvos.playback.heartbeat`) under a frozen
clock moved through the past weeks, so playback sessions, class progress and watch-ledger rows
come from the same code a real app drives and agree with each other exactly. The clock is put
back afterwards.

Idempotent: every row is found by its natural key (product name, voucher code, member email)
and made only when missing; a member who already has a membership gets no new watching. Codes
are drawn from a seeded :class:`random.Random`, so each run names the same ones.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.accounts.service import create_user, normalize_email
from stvos.content.service import is_published
from stvos.kit.clock import FrozenClock, get_clock, set_clock, utcnow
from stvos.kit.policy import ClientContext
from stvos.models import (
    OnDemandClass,
    Partner,
    PartnerMembership,
    PartnerProduct,
    PartnerStaff,
    PlaybackSession,
    User,
    Voucher,
    VoucherRedemption,
    VoucherStatus,
)
from stvos.playback import heartbeat as beats
from stvos.playback import service as playback

SEED = 20261205
RATE_MINOR = 450  # 4.50 per billable member per month
VOUCHER_PREFIX = "DEMO"
VOUCHER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
VOUCHER_COUNT = 20
ACCESS_DAYS = 365
HEARTBEAT_SECONDS = 240  # under the 5-minute idle limit, so every stretch is credited

# name, description, price (minor units), path
PRODUCTS: tuple[tuple[str, str, int, str], ...] = (
    ("Day pass", "One visit to any Harbour Gym club, towel included.", 1200, "day-pass"),
    ("Personal training taster", "A 45-minute one-to-one session.", 2500, "pt-taster"),
    ("Members' kit bag", "Water bottle, towel and resistance band.", 1999, "kit-bag"),
)
SITE = "https://harbourgym.example.com"


@dataclass(frozen=True)
class DemoMember:
    email: str
    name: str
    joined_days_ago: int
    sessions: int


MEMBERS: tuple[DemoMember, ...] = (
    DemoMember("jordan@harbour.demo.stvos.dev", "Jordan Reed", 26, 6),
    DemoMember("casey@harbour.demo.stvos.dev", "Casey Brooks", 19, 5),
    DemoMember("riley@harbour.demo.stvos.dev", "Riley Shah", 12, 4),
    DemoMember("quinn@harbour.demo.stvos.dev", "Quinn Adeyemi", 5, 2),
)
# Voucher slots after the members' (which are redeemed, one each): one revoked, one expired.
REVOKED_INDEX = len(MEMBERS)
EXPIRED_INDEX = len(MEMBERS) + 1


def voucher_codes() -> list[str]:
    """The demo's voucher codes, the same every run (a demo, not a secret)."""
    rng = random.Random(SEED)  # noqa: S311 - deterministic demo data
    codes: list[str] = []
    while len(codes) < VOUCHER_COUNT:
        code = f"{VOUCHER_PREFIX}-{''.join(rng.choices(VOUCHER_ALPHABET, k=6))}"
        if code not in codes:
            codes.append(code)
    return codes


async def _products(session: AsyncSession, partner: Partner) -> None:
    have = set(
        await session.scalars(
            select(PartnerProduct.name).where(PartnerProduct.partner_id == partner.id)
        )
    )
    for name, description, price, path in PRODUCTS:
        if name not in have:
            session.add(
                PartnerProduct(
                    partner_id=partner.id,
                    name=name,
                    description=description,
                    price_minor=price,
                    currency=partner.currency,
                    url=f"{SITE}/{path}",
                    image_url=f"https://assets.stvos.dev/demo/partners/{path}.jpg",
                    is_active=True,
                )
            )


async def _vouchers(
    session: AsyncSession, partner: Partner, staff_id: int | None, now: datetime
) -> list[Voucher]:
    """All 20 codes, made active when missing; redeeming is the members' step."""
    codes = voucher_codes()
    have = {
        v.code: v for v in await session.scalars(select(Voucher).where(Voucher.code.in_(codes)))
    }
    created = now - timedelta(days=40)
    out: list[Voucher] = []
    for index, code in enumerate(codes):
        voucher = have.get(code)
        if voucher is None:
            expired = index == EXPIRED_INDEX
            revoked = index == REVOKED_INDEX
            voucher = Voucher(
                partner_id=partner.id,
                code=code,
                prefix=VOUCHER_PREFIX,
                status=(VoucherStatus.REVOKED if revoked else VoucherStatus.ACTIVE).value,
                expires_at=now - timedelta(days=3) if expired else now + timedelta(days=180),
                max_redemptions=1,
                redemption_count=0,
                access_days=ACCESS_DAYS,
                grants_premium=False,
                created_at=created,
                created_by_staff_id=staff_id,
                revoked_at=now - timedelta(days=10) if revoked else None,
            )
            session.add(voucher)
        out.append(voucher)
    await session.flush()
    return out


async def _member(
    session: AsyncSession, partner: Partner, member: DemoMember, voucher: Voucher, now: datetime
) -> User | None:
    """The member's account, voucher redemption and membership; None when they already exist
    (their watching was made with them)."""
    user = await session.scalar(
        select(User).where(User.email_normalized == normalize_email(member.email))
    )
    if user is not None:
        exists = await session.scalar(
            select(PartnerMembership.id).where(
                PartnerMembership.partner_id == partner.id, PartnerMembership.user_id == user.id
            )
        )
        if exists is not None:
            return None
    else:
        # Members do not need a known password: the demo shows them through the partner portal.
        user = await create_user(
            session, email=member.email, password=secrets.token_urlsafe(16), name=member.name
        )
    joined = now - timedelta(days=member.joined_days_ago, hours=3)
    if voucher.status == VoucherStatus.ACTIVE.value and voucher.redemption_count == 0:
        voucher.status = VoucherStatus.REDEEMED.value
        voucher.redemption_count = 1
        voucher.last_redeemed_at = joined
        session.add(VoucherRedemption(voucher_id=voucher.id, user_id=user.id, redeemed_at=joined))
    session.add(
        PartnerMembership(
            partner_id=partner.id,
            user_id=user.id,
            voucher_id=voucher.id,
            joined_at=joined,
            access_until=joined + timedelta(days=voucher.access_days or ACCESS_DAYS),
            premium=voucher.grants_premium,
        )
    )
    await session.flush()
    return user


async def _watch(
    session: AsyncSession,
    client: ClientContext,
    user: User,
    member: DemoMember,
    classes: list[OnDemandClass],
    now: datetime,
    rng: random.Random,
) -> None:
    """Play classes through the real playback service on past days since the member joined.

    Runs under a frozen clock: each session starts at its moment in the past and the clock
    moves one heartbeat at a time, exactly as a phone would report.
    """
    days = sorted(rng.sample(range(1, member.joined_days_ago), k=member.sessions), reverse=True)
    previous = get_clock()
    last_seen: datetime | None = None
    try:
        for days_ago in days:
            item = rng.choice(classes)
            day = (now - timedelta(days=days_ago)).replace(second=0, microsecond=0)
            # Same calendar day as ``days_ago`` days back, so still at least a day in the past.
            start = day.replace(hour=rng.choice((6, 7, 12, 17, 18, 19)), minute=rng.choice((0, 30)))
            clock = FrozenClock(start)
            set_clock(clock)
            duration = item.duration_minutes * 60
            # Most sessions watch to the end (a completion); some stop part-way.
            target = duration if rng.random() < 0.65 else round(duration * rng.uniform(0.3, 0.8))
            started = await playback.start(session, client, user.id, item.id, "demo-phone")
            position = 0
            while position < target:
                step = min(HEARTBEAT_SECONDS, target - position)
                clock.advance(step)
                position += step
                await beats.heartbeat(
                    session,
                    client,
                    user.id,
                    started["id"],
                    position,
                    ending=position >= target,
                )
            last_seen = clock.now()
    finally:
        set_clock(previous)
    if last_seen is not None and (user.last_login_at is None or user.last_login_at < last_seen):
        user.last_login_at = last_seen
    await session.flush()


async def ensure_demo_partner(
    session: AsyncSession, client: ClientContext, partner_name: str
) -> dict[str, int]:
    """Fill the demo partner (client scope; after the library, whose classes it watches)."""
    partner = await session.scalar(select(Partner).where(Partner.name == partner_name))
    if partner is None:
        return {}
    if partner.billing_rate_minor == 0:
        partner.billing_rate_minor = RATE_MINOR
    now = utcnow()
    staff_id = await session.scalar(
        select(PartnerStaff.id).where(PartnerStaff.partner_id == partner.id).limit(1)
    )
    await _products(session, partner)
    vouchers = await _vouchers(session, partner, staff_id, now)
    # Short classes, published before the first member joined (so each was watchable then).
    earliest = now - timedelta(days=max(m.joined_days_ago for m in MEMBERS) + 1)
    classes = list(
        await session.scalars(
            select(OnDemandClass)
            .where(OnDemandClass.duration_minutes <= 30, is_published(earliest))
            .order_by(OnDemandClass.id)
        )
    )
    for index, member in enumerate(MEMBERS):
        user = await _member(session, partner, member, vouchers[index], now)
        if user is None or not classes:
            continue
        rng = random.Random(SEED + index)  # noqa: S311 - deterministic demo data
        watched = await session.scalar(
            select(PlaybackSession.id).where(PlaybackSession.user_id == user.id).limit(1)
        )
        if watched is None:
            await _watch(session, client, user, member, classes, now, rng)
    return await partner_counts(session, partner.id)


async def partner_counts(session: AsyncSession, partner_id: int) -> dict[str, int]:
    async def count(model: type[PartnerProduct | Voucher | PartnerMembership]) -> int:
        query = select(func.count(model.id)).where(model.partner_id == partner_id)
        return await session.scalar(query) or 0

    return {
        "partnerId": partner_id,
        "products": await count(PartnerProduct),
        "vouchers": await count(Voucher),
        "members": await count(PartnerMembership),
    }
