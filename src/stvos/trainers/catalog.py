"""The trainer catalogue: what the apps browse, and what trainers edit of it themselves.

* The apps' side (``/trainers``): active profiles with their specialisations, certifications,
  effective time zone and a "from" price; each profile's active services and its published
  on-demand classes. Every answer takes a constant number of statements: a page of trainers,
  then the page's specialisations and service figures in one query each.
* The trainer portal's side (``/trainer/me``, ``/trainer/services``): the caller's own profile
  (found by ``Trainer.user_id``) and services; another trainer's service is simply not found.
* Shared with the studio's ``/manage/trainers``: :func:`apply_profile`,
  :func:`specialisations_of`.

Everything runs in the caller's client scope, so another client's ids are never found.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.content import service as content
from stvos.content.schemas import ClassSummary
from stvos.kit.clock import utcnow
from stvos.kit.errors import ValidationFailed
from stvos.kit.paging import fetch_page
from stvos.kit.schemas import PageParams
from stvos.live import seats as live_seats
from stvos.models import Booking, ServiceMode, Trainer, TrainerService, TrainerSpecialisation
from stvos.trainers.catalog_schemas import (
    CertificationOut,
    FromPrice,
    ServiceIn,
    ServiceOut,
    TrainerClassesPage,
    TrainerMe,
    TrainerProfile,
    TrainerSummary,
    slugify,
)
from stvos.trainers.errors import NoTrainerProfile, ServiceNotFound, TrainerNotFound

# --- money ------------------------------------------------------------------------------------


def price_text(minor: int) -> str:
    """Minor units as the wire's decimal string: 4500 -> ``"45.00"``."""
    return f"{Decimal(minor).scaleb(-2):.2f}"


def to_minor(price: Decimal) -> int:
    """The wire's decimal (at most two places, validated) as integer minor units."""
    return int((price * 100).to_integral_value())


# --- answers ----------------------------------------------------------------------------------


def service_out(service: TrainerService) -> ServiceOut:
    return ServiceOut(
        id=service.id,
        trainer_id=service.trainer_id,
        name=service.name,
        description=service.description,
        duration_minutes=service.duration_minutes,
        price=price_text(service.price_minor),
        currency=service.currency,
        mode=ServiceMode(service.mode).value,
        location=service.location,
        buffer_before_minutes=service.buffer_before_minutes,
        buffer_after_minutes=service.buffer_after_minutes,
        min_notice_minutes=service.min_notice_minutes,
        max_days_ahead=service.max_days_ahead,
        cancellation_window_hours=service.cancellation_window_hours,
        is_active=service.is_active,
    )


def certifications_out(trainer: Trainer) -> list[CertificationOut]:
    return [CertificationOut.model_validate(c) for c in trainer.certifications or []]


async def specialisations_of(
    session: AsyncSession, trainer_ids: Sequence[int]
) -> dict[int, list[str]]:
    """Specialisation names per trainer, in the order they were given: one statement."""
    names: dict[int, list[str]] = defaultdict(list)
    if trainer_ids:
        rows = await session.execute(
            select(TrainerSpecialisation.trainer_id, TrainerSpecialisation.name)
            .where(TrainerSpecialisation.trainer_id.in_(set(trainer_ids)))
            .order_by(TrainerSpecialisation.trainer_id, TrainerSpecialisation.id)
        )
        for trainer_id, name in rows:
            names[trainer_id].append(name)
    return names


@dataclass(frozen=True, slots=True)
class _Offer:
    count: int
    from_price: FromPrice | None


async def _offers(session: AsyncSession, trainer_ids: Sequence[int]) -> dict[int, _Offer]:
    """Active services per trainer: how many, and the cheapest. One statement.

    Grouped by currency too: a trainer pricing in two currencies shows the lowest amount,
    which is the best "from" a list can say without exchange rates.
    """
    if not trainer_ids:
        return {}
    rows = await session.execute(
        select(
            TrainerService.trainer_id,
            TrainerService.currency,
            func.count(TrainerService.id),
            func.min(TrainerService.price_minor),
        )
        .where(TrainerService.trainer_id.in_(set(trainer_ids)), TrainerService.is_active)
        .group_by(TrainerService.trainer_id, TrainerService.currency)
    )
    counts: dict[int, int] = defaultdict(int)
    cheapest: dict[int, tuple[int, str]] = {}
    for trainer_id, currency, count, lowest in rows:
        counts[trainer_id] += count
        if trainer_id not in cheapest or (lowest, currency) < cheapest[trainer_id]:
            cheapest[trainer_id] = (lowest, currency)
    return {
        trainer_id: _Offer(
            count=counts[trainer_id],
            from_price=FromPrice(price=price_text(low[0]), currency=low[1]),
        )
        for trainer_id, low in cheapest.items()
    }


def _summary_fields(
    trainer: Trainer, names: list[str], offer: _Offer | None, client_zone: str
) -> dict[str, Any]:
    return {
        "id": trainer.id,
        "name": trainer.name,
        "bio": trainer.bio,
        "image_url": trainer.image_url,
        "specialisations": names,
        "certifications": certifications_out(trainer),
        "time_zone": trainer.time_zone or client_zone,
        "is_active": trainer.is_active,
        "services_count": offer.count if offer else 0,
        "from_price": offer.from_price if offer else None,
    }


async def summaries(
    session: AsyncSession, trainers: Sequence[Trainer], client_zone: str
) -> list[TrainerSummary]:
    """Wire summaries of ``trainers``: two statements, whatever their number."""
    ids = [t.id for t in trainers]
    names = await specialisations_of(session, ids)
    offers = await _offers(session, ids)
    return [
        TrainerSummary(**_summary_fields(t, names.get(t.id, []), offers.get(t.id), client_zone))
        for t in trainers
    ]


# --- the apps' side ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrainerFilters:
    search: str | None = None  # case-insensitive substring of the name or bio
    specialisation: str | None = None  # a name or slug, any case or spacing
    active: bool | None = True  # None: both


async def list_trainers(
    session: AsyncSession, filters: TrainerFilters, paging: PageParams, client_zone: str
) -> tuple[list[TrainerSummary], int]:
    query = select(Trainer)
    if filters.active is not None:
        query = query.where(Trainer.is_active.is_(filters.active))
    if filters.search:
        needle = filters.search.lower()
        query = query.where(
            or_(
                func.lower(Trainer.name).contains(needle, autoescape=True),
                func.lower(func.coalesce(Trainer.bio, "")).contains(needle, autoescape=True),
            )
        )
    if filters.specialisation is not None:
        slug = slugify(filters.specialisation)
        if not slug:
            raise ValidationFailed(
                "specialisation must contain letters or digits",
                details=[{"field": "specialisation", "message": "must contain letters or digits"}],
            )
        query = query.where(
            exists().where(
                TrainerSpecialisation.trainer_id == Trainer.id,
                TrainerSpecialisation.slug == slug,
            )
        )
    trainers, total = await fetch_page(session, query, paging, func.lower(Trainer.name), Trainer.id)
    return await summaries(session, trainers, client_zone), total


async def public_trainer(session: AsyncSession, trainer_id: int) -> Trainer:
    """A trainer the apps may see: inactive profiles are not found, like other clients' ones."""
    trainer = await session.get(Trainer, trainer_id)
    if trainer is None or not trainer.is_active:
        raise TrainerNotFound()
    return trainer


def _active_services_query(trainer_id: int) -> Any:
    return select(TrainerService).where(
        TrainerService.trainer_id == trainer_id, TrainerService.is_active
    )


_SERVICE_ORDER = (TrainerService.duration_minutes, TrainerService.price_minor, TrainerService.id)


async def trainer_profile(
    session: AsyncSession, trainer_id: int, client_zone: str
) -> TrainerProfile:
    trainer = await public_trainer(session, trainer_id)
    services = list(
        await session.scalars(_active_services_query(trainer.id).order_by(*_SERVICE_ORDER))
    )
    names = await specialisations_of(session, [trainer.id])
    offer = _offer_of(services)
    return TrainerProfile(
        **_summary_fields(trainer, names.get(trainer.id, []), offer, client_zone),
        services=[service_out(s) for s in services],
    )


def _offer_of(services: Sequence[TrainerService]) -> _Offer | None:
    active = [s for s in services if s.is_active]
    if not active:
        return None
    cheapest = min(active, key=lambda s: (s.price_minor, s.currency))
    return _Offer(
        count=len(active),
        from_price=FromPrice(price=price_text(cheapest.price_minor), currency=cheapest.currency),
    )


async def public_services(
    session: AsyncSession, trainer_id: int, paging: PageParams
) -> tuple[list[ServiceOut], int]:
    trainer = await public_trainer(session, trainer_id)
    services, total = await fetch_page(
        session, _active_services_query(trainer.id), paging, *_SERVICE_ORDER
    )
    return [service_out(s) for s in services], total


async def public_service(session: AsyncSession, trainer_id: int, service_id: int) -> TrainerService:
    """An active service of an active trainer (what a member may book)."""
    trainer = await public_trainer(session, trainer_id)
    service = await session.get(TrainerService, service_id)
    if service is None or service.trainer_id != trainer.id or not service.is_active:
        raise ServiceNotFound()
    return service


async def trainer_classes(
    session: AsyncSession, trainer_id: int, paging: PageParams
) -> tuple[list[ClassSummary], int]:
    """The trainer's published on-demand classes, newest first (the content library's rules)."""
    trainer = await public_trainer(session, trainer_id)
    filters = content.ClassFilters(trainer_id=trainer.id, sort="newest")
    return await content.list_classes(session, filters, paging)


async def trainer_classes_page(
    session: AsyncSession, trainer_id: int, paging: PageParams, *, live_enabled: bool
) -> TrainerClassesPage:
    """A page of the trainer's on-demand classes and, when the app has live classes on, their
    next group classes with free seats (a constant number of statements)."""
    items, total = await trainer_classes(session, trainer_id, paging)
    upcoming = (
        await live_seats.upcoming(session, now=utcnow(), trainer_id=trainer_id)
        if live_enabled
        else []
    )
    page = paging.page_of(items, total)
    return TrainerClassesPage(
        items=page.items, pagination=page.pagination, upcoming_group_classes=upcoming
    )


# --- profile changes (portal and studio) ------------------------------------------------------


async def replace_specialisations(
    session: AsyncSession, trainer: Trainer, names: list[str]
) -> None:
    """The whole list at once; names with the same slug ("HIIT", "hiit") count once."""
    await session.execute(
        delete(TrainerSpecialisation)
        .where(
            TrainerSpecialisation.client_id == trainer.client_id,
            TrainerSpecialisation.trainer_id == trainer.id,
        )
        .execution_options(synchronize_session=False)
    )
    seen: set[str] = set()
    for name in names:
        slug = slugify(name)
        if slug in seen:
            continue
        seen.add(slug)
        session.add(TrainerSpecialisation(trainer_id=trainer.id, slug=slug, name=name))
    await session.flush()


async def apply_profile(session: AsyncSession, trainer: Trainer, changes: dict[str, Any]) -> None:
    """Set the profile fields in ``changes`` (validated snake_case values; None clears).

    ``specialisations`` becomes rows; ``certifications`` stored as plain dicts; ``image_url``
    as text. Other keys are plain columns.
    """
    changes = dict(changes)
    if "specialisations" in changes:
        await replace_specialisations(session, trainer, changes.pop("specialisations") or [])
    if "certifications" in changes:
        certifications = changes.pop("certifications") or []
        trainer.certifications = [
            {"name": c["name"], "issuer": c.get("issuer"), "year": c.get("year")}
            for c in certifications
        ]
    if changes.get("image_url") is not None:
        changes["image_url"] = str(changes["image_url"])
    for field, value in changes.items():
        setattr(trainer, field, value)
    await session.flush()


# --- the trainer portal -----------------------------------------------------------------------


async def own_trainer(session: AsyncSession, user_id: int) -> Trainer:
    """The profile of a signed-in trainer; a trainer login without one is ``403 FORBIDDEN``.

    403 rather than 404: the caller is authenticated and the path exists; what is missing is
    the studio's link between their login and a profile (made by accepting an invite).
    """
    trainer = await session.scalar(select(Trainer).where(Trainer.user_id == user_id))
    if trainer is None:
        raise NoTrainerProfile()
    return trainer


async def my_profile(session: AsyncSession, trainer: Trainer, client_zone: str) -> TrainerMe:
    services = list(
        await session.scalars(
            select(TrainerService)
            .where(TrainerService.trainer_id == trainer.id)
            .order_by(TrainerService.is_active.desc(), *_SERVICE_ORDER)
        )
    )
    names = await specialisations_of(session, [trainer.id])
    return TrainerMe(
        **_summary_fields(trainer, names.get(trainer.id, []), _offer_of(services), client_zone),
        services=[service_out(s) for s in services],
        user_id=trainer.user_id,
        own_time_zone=trainer.time_zone,
    )


async def list_own_services(
    session: AsyncSession, trainer: Trainer, paging: PageParams, active: bool | None
) -> tuple[list[ServiceOut], int]:
    query = select(TrainerService).where(TrainerService.trainer_id == trainer.id)
    if active is not None:
        query = query.where(TrainerService.is_active.is_(active))
    services, total = await fetch_page(session, query, paging, *_SERVICE_ORDER)
    return [service_out(s) for s in services], total


async def own_service(session: AsyncSession, trainer: Trainer, service_id: int) -> TrainerService:
    service = await session.get(TrainerService, service_id)
    if service is None or service.trainer_id != trainer.id:
        raise ServiceNotFound()
    return service


def _check_place(mode: str, location: str | None) -> None:
    """An in-person service says where; a video one has no place."""
    if mode == ServiceMode.IN_PERSON.value and not location:
        message = "is required for in-person services"
    elif mode == ServiceMode.VIDEO.value and location:
        message = "is only for in-person services"
    else:
        return
    raise ValidationFailed(
        f"location {message}", details=[{"field": "location", "message": message}]
    )


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    """Wire values (snake_case) as model columns: price becomes minor units."""
    columns = dict(values)
    if "price" in columns:
        columns["price_minor"] = to_minor(columns.pop("price"))
    return columns


async def create_service(session: AsyncSession, trainer: Trainer, body: ServiceIn) -> ServiceOut:
    _check_place(body.mode, body.location)
    service = TrainerService(trainer_id=trainer.id, **_columns(body.model_dump()))
    session.add(service)
    await session.flush()
    return service_out(service)


async def update_service(
    session: AsyncSession, trainer: Trainer, service_id: int, changes: dict[str, Any]
) -> ServiceOut:
    """Apply a partial change; the result must still be a consistent service.

    Switching to ``video`` without naming a location drops the old address; bookings keep
    their own snapshot of what was booked, so existing sessions are unaffected.
    """
    service = await own_service(session, trainer, service_id)
    mode = changes.get("mode", service.mode)
    if mode == ServiceMode.VIDEO.value and "location" not in changes:
        changes["location"] = None
    _check_place(mode, changes.get("location", service.location))
    for field, value in _columns(changes).items():
        setattr(service, field, value)
    await session.flush()
    return service_out(service)


async def remove_service(
    session: AsyncSession, trainer: Trainer, service_id: int
) -> tuple[Literal["deleted", "deactivated"], ServiceOut | None]:
    """Delete a never-booked service; deactivate a booked one (its bookings keep pointing at it).

    The trainer row is locked first (PostgreSQL; SQLite write transactions are serial), the
    same lock booking takes, so a booking cannot slip in between the check and the delete
    (deleting cascades to bookings).
    """
    await session.execute(select(Trainer.id).where(Trainer.id == trainer.id).with_for_update())
    service = await own_service(session, trainer, service_id)
    booked = await session.scalar(
        select(exists().where(Booking.service_id == service.id, Booking.trainer_id == trainer.id))
    )
    if booked:
        service.is_active = False
        await session.flush()
        return "deactivated", service_out(service)
    await session.delete(service)
    await session.flush()
    return "deleted", None
