"""Every ORM model of stvos, one module per aggregate. Importing this package registers them all."""

from stvos.models.admin import PlatformAdmin
from stvos.models.client import ApiKey, Client, ClientStatus, PlatformKey
from stvos.models.content import (
    Category,
    CategoryClassCount,
    ClassStatus,
    Intensity,
    OnDemandClass,
    PlatformCategory,
    VideoProvider,
)
from stvos.models.idempotency import IdempotencyRecord, PlatformIdempotencyRecord
from stvos.models.live import (
    LiveAttendance,
    LiveClass,
    LiveClassSeries,
    LiveClassStatus,
    LiveRegistration,
    RegistrationStatus,
)
from stvos.models.mail import OutboxMail
from stvos.models.onboarding import OnboardingSession
from stvos.models.partner import (
    BillingStatement,
    Partner,
    PartnerMembership,
    PartnerProduct,
    PartnerStaff,
    PartnerType,
    Voucher,
    VoucherRedemption,
    VoucherStatus,
)
from stvos.models.playback import ClassProgress, PlaybackSession, SessionStatus, WatchLedger
from stvos.models.progress import ProgressEntry, ProgressKind
from stvos.models.trainer import (
    AvailabilityOverride,
    AvailabilityRule,
    Booking,
    BookingStatus,
    ServiceMode,
    TimeOff,
    Trainer,
    TrainerInvite,
    TrainerService,
    TrainerSpecialisation,
)
from stvos.models.user import AccountStatus, PasswordResetToken, RefreshToken, Role, User

__all__ = [
    "AccountStatus",
    "ApiKey",
    "AvailabilityOverride",
    "AvailabilityRule",
    "BillingStatement",
    "Booking",
    "BookingStatus",
    "Category",
    "CategoryClassCount",
    "ClassProgress",
    "ClassStatus",
    "Client",
    "ClientStatus",
    "IdempotencyRecord",
    "Intensity",
    "LiveAttendance",
    "LiveClass",
    "LiveClassSeries",
    "LiveClassStatus",
    "LiveRegistration",
    "OnDemandClass",
    "OnboardingSession",
    "OutboxMail",
    "Partner",
    "PartnerMembership",
    "PartnerProduct",
    "PartnerStaff",
    "PartnerType",
    "PasswordResetToken",
    "PlatformAdmin",
    "PlatformCategory",
    "PlatformIdempotencyRecord",
    "PlatformKey",
    "PlaybackSession",
    "ProgressEntry",
    "ProgressKind",
    "RefreshToken",
    "RegistrationStatus",
    "Role",
    "ServiceMode",
    "SessionStatus",
    "TimeOff",
    "Trainer",
    "TrainerInvite",
    "TrainerService",
    "TrainerSpecialisation",
    "User",
    "VideoProvider",
    "Voucher",
    "VoucherRedemption",
    "VoucherStatus",
    "WatchLedger",
]
