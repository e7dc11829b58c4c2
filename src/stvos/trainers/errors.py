"""Errors of the trainers capability: profiles, invites, services, availability, bookings."""

from stvos.kit.errors import Conflict, Forbidden, InvalidStateTransition, NotFound, StvosError


class TrainerNotFound(NotFound):
    default_message = "No such trainer"


class InviteNotFound(NotFound):
    default_message = "No such invite"


class InviteUsed(Conflict):
    code = "INVITE_USED"
    default_message = "This invite has already been accepted"


class InviteExpired(StvosError):
    status = 400
    code = "INVITE_EXPIRED"
    default_message = "This invite has expired; ask the studio for a new one"


class InviteRevoked(StvosError):
    status = 400
    code = "INVITE_REVOKED"
    default_message = "This invite has been withdrawn; ask the studio for a new one"


class InviteEmailMismatch(StvosError):
    status = 400
    code = "INVITE_EMAIL_MISMATCH"
    default_message = "This invite was sent to a different email address"


class TrainerHasAccount(Conflict):
    code = "TRAINER_HAS_ACCOUNT"
    default_message = "This trainer profile already has a login"


# --- services, availability and bookings ------------------------------------------------------


class ServiceNotFound(NotFound):
    default_message = "No such service"


class BookingNotFound(NotFound):
    default_message = "No such booking"


class SlotUnavailable(Conflict):
    """The slot is not (or no longer) bookable: taken, outside the hours, too soon, too far."""

    code = "SLOT_UNAVAILABLE"
    default_message = "This time is no longer available"


class BookingWindowClosed(Conflict):
    """Outside the time an action is allowed in (joining too early or after the end)."""

    code = "BOOKING_WINDOW_CLOSED"
    default_message = "This booking cannot be changed or joined at this time"


class BookingStateConflict(InvalidStateTransition):
    default_message = "This booking cannot change from its current status"


class NoTrainerProfile(Forbidden):
    """A ``trainer``-role login that no trainer profile points at (the studio links them)."""

    default_message = (
        "No trainer profile is linked to this login; ask the studio to link your profile"
    )


class OverrideNotFound(NotFound):
    default_message = "This day has no availability override"


class TimeOffNotFound(NotFound):
    default_message = "No such time off"


class NotAVideoSession(Conflict):
    """Joining the video room of an in-person booking: there is none (the catalogue's generic
    ``CONFLICT`` code, with a message that says why)."""

    default_message = "This is an in-person session; it has no video room"
