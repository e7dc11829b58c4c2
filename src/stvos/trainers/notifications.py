"""Booking mails: a confirmation (booked, moved) and a cancellation, each with an iCalendar file.

Mails go through the outbox in the request's transaction, so a booking that rolls back mails
nobody. The ``.ics`` follows iTIP (RFC 5546) so calendar apps keep one entry per session:

* one event UID per booking *chain*: a rescheduled booking keeps the UID of the booking it
  replaced, so the member's calendar moves the entry instead of growing a second one;
* ``SEQUENCE`` counts the changes: 0 when booked, n after the n-th move, and one more for the
  cancellation, which is ``METHOD:CANCEL`` with ``STATUS:CANCELLED``;
* ``DTSTART``/``DTEND`` in UTC; ``LOCATION`` for in-person sessions; for video sessions the
  description says how to join (from the app, a few minutes before the start).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.integrations.mail import Attachment, Mail, Mailer
from stvos.models import Booking, ServiceMode, Trainer, User

PRODID = "-//stvos//trainer bookings//EN"
_MAX_CHAIN = 100  # reschedules followed back to the first booking of a chain


@dataclass(frozen=True, slots=True)
class EventIdentity:
    uid: str
    sequence: int


async def event_identity(session: AsyncSession, booking: Booking) -> EventIdentity:
    """The calendar UID (of the chain's first booking) and how many times it moved."""
    root, moves = booking, 0
    while root.rescheduled_from_id is not None and moves < _MAX_CHAIN:
        earlier = await session.get(Booking, root.rescheduled_from_id)
        if earlier is None:
            break
        root, moves = earlier, moves + 1
    return EventIdentity(uid=f"booking-{root.client_id}-{root.id}@stvos", sequence=moves)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%A %d %B %Y, %H:%M")


def calendar_file(
    booking: Booking,
    *,
    identity: EventIdentity,
    trainer_name: str,
    member_email: str | None,
    location: str | None,
    cancelled: bool,
    now: datetime,
    organizer_address: str,
) -> bytes:
    """The ``.ics`` of a booking: ``METHOD:REQUEST``, or ``METHOD:CANCEL`` when cancelled."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", identity.uid)
    event.add("sequence", identity.sequence + (1 if cancelled else 0))
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", booking.starts_at.astimezone(UTC))
    event.add("dtend", booking.ends_at.astimezone(UTC))
    event.add("summary", f"{booking.service_name} with {trainer_name}")
    if booking.mode == ServiceMode.VIDEO.value:
        description = (
            "A 1-on-1 video session. Join from the app: the room opens a few minutes before "
            "the start and stays open until the end."
        )
    else:
        description = "A 1-on-1 session in person."
    if booking.notes:
        description += f"\n\nYour notes: {booking.notes}"
    event.add("description", description)
    if booking.mode == ServiceMode.IN_PERSON.value and location:
        event.add("location", location)
    # The app's sending address, named after the trainer: replies reach the studio.
    organizer = vCalAddress(f"mailto:{organizer_address}")
    organizer.params["cn"] = vText(trainer_name)
    event.add("organizer", organizer)
    if member_email:
        attendee = vCalAddress(f"mailto:{member_email}")
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", attendee)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    content: bytes = calendar.to_ical()
    return content


def _attachment(content: bytes, *, cancelled: bool) -> Attachment:
    method = "CANCEL" if cancelled else "REQUEST"
    return Attachment(
        filename="cancelled.ics" if cancelled else "session.ics",
        content_type=f"text/calendar; method={method}; charset=UTF-8",
        content=content,
    )


def _recipients(member: User | None, trainer_user: User | None) -> list[tuple[str, bool]]:
    """(address, is_trainer) for the member and, when linked, the trainer's login."""
    found: list[tuple[str, bool]] = []
    if member is not None and member.email:
        found.append((member.email, False))
    if trainer_user is not None and trainer_user.email:
        found.append((trainer_user.email, True))
    return found


async def send_confirmation(
    session: AsyncSession,
    mailer: Mailer,
    booking: Booking,
    *,
    trainer: Trainer,
    zone: ZoneInfo,
    member: User | None,
    trainer_user: User | None,
    location: str | None,
    now: datetime,
) -> None:
    """ "Booked" (or "moved", for a rescheduled booking) to the member and the trainer."""
    identity = await event_identity(session, booking)
    moved = booking.rescheduled_from_id is not None
    ics = calendar_file(
        booking,
        identity=identity,
        trainer_name=trainer.name,
        member_email=member.email if member else None,
        location=location,
        cancelled=False,
        now=now,
        organizer_address=mailer.from_address,
    )
    when = f"{_local(booking.starts_at, zone)} ({zone.key})"
    for address, is_trainer in _recipients(member, trainer_user):
        who = (member.name or member.email) if (is_trainer and member) else trainer.name
        verb = "moved to" if moved else "booked for"
        subject = f"{booking.service_name} {verb} {when}"
        lines = [
            f"{booking.service_name} with {who} is {verb} {when}.",
            f"Length: {int((booking.ends_at - booking.starts_at).total_seconds() // 60)} minutes.",
        ]
        if booking.mode == ServiceMode.VIDEO.value:
            lines.append("Join the video room from the app, up to a few minutes before the start.")
        elif location:
            lines.append(f"Where: {location}")
        if not is_trainer:
            lines.append(
                f"Cancel free of charge up to {booking.cancellation_window_hours} hours before."
            )
        lines.append("The attached calendar file adds it to your calendar.")
        await mailer.send(
            session,
            Mail(
                to=address,
                subject=subject[:255],
                body_text="\n".join(lines) + "\n",
                template="booking_rescheduled" if moved else "booking_confirmation",
                attachments=(_attachment(ics, cancelled=False),),
            ),
        )


async def send_cancellation(
    session: AsyncSession,
    mailer: Mailer,
    booking: Booking,
    *,
    trainer: Trainer,
    zone: ZoneInfo,
    member: User | None,
    trainer_user: User | None,
    location: str | None,
    now: datetime,
) -> None:
    """ "Cancelled" to the member and the trainer, with a ``METHOD:CANCEL`` calendar file."""
    identity = await event_identity(session, booking)
    ics = calendar_file(
        booking,
        identity=identity,
        trainer_name=trainer.name,
        member_email=member.email if member else None,
        location=location,
        cancelled=True,
        now=now,
        organizer_address=mailer.from_address,
    )
    when = f"{_local(booking.starts_at, zone)} ({zone.key})"
    by = {"user": "the member", "trainer": "the trainer", "staff": "the studio"}.get(
        booking.cancelled_by or "", "the studio"
    )
    for address, is_trainer in _recipients(member, trainer_user):
        who = (member.name or member.email) if (is_trainer and member) else trainer.name
        lines = [f"{booking.service_name} with {who} on {when} was cancelled by {by}."]
        if booking.cancel_reason:
            lines.append(f"Reason: {booking.cancel_reason}")
        if booking.late_cancellation:
            lines.append(
                "It was cancelled inside the "
                f"{booking.cancellation_window_hours}-hour cancellation window (a late "
                "cancellation)."
            )
        lines.append("The attached calendar file removes it from your calendar.")
        await mailer.send(
            session,
            Mail(
                to=address,
                subject=f"Cancelled: {booking.service_name} on {when}"[:255],
                body_text="\n".join(lines) + "\n",
                template="booking_cancellation",
                attachments=(_attachment(ics, cancelled=True),),
            ),
        )
