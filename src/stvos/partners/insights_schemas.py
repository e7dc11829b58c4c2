"""Wire models of the partner portal's insights: members, dashboard, analytics and billing.

Each field says the rule behind its number, so the OpenAPI schema documents the definitions.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from stvos.kit.schemas import ApiModel

WATCH_RULE = (
    "From the watch ledger, counting only days on or after the member's joined day; "
    "whole minutes rounded half up"
)

# --- members ----------------------------------------------------------------------------------


class MemberOut(ApiModel):
    user_id: int
    email: str | None = Field(description="None for an erased user")
    name: str | None = Field(description="None for an erased user")
    erased: bool = Field(description="The user erased their account (no email or name shown)")
    joined_at: datetime = Field(description="When the member joined the partner (redemption)")
    access_until: datetime | None = Field(description="End of access; None: no end")
    premium: bool = Field(description="The membership grants premium content")
    last_active_at: datetime | None = Field(
        description="The later of the user's last sign-in and their last watching of any class"
    )
    active: bool = Field(description="lastActiveAt is within the last 30 days")
    watch_time_minutes: int = Field(description=WATCH_RULE)
    classes_watched: int = Field(description="Distinct classes with watch time since joining")
    completions: int = Field(description="Class completions since joining (ledger)")
    sessions: int = Field(description="Playback sessions started since joining")


class HistoryItem(ApiModel):
    class_id: int
    title: str = Field(description="The class's name")
    minutes: int = Field(description="Minutes of this class watched since joining")
    completed: bool = Field(description="The member has completed this class")
    completions: int = Field(description="Completions of this class since joining")
    last_watched_at: datetime | None


class MemberTotals(ApiModel):
    watch_time_minutes: int = Field(description=WATCH_RULE)
    classes_watched: int
    completions: int
    sessions: int
    last_30_days_minutes: int = Field(
        alias="last30DaysMinutes", description="Watch minutes on the last 30 local days (app zone)"
    )


class MemberDetail(MemberOut):
    history: list[HistoryItem] = Field(
        description="Classes watched since joining, most recently watched first (at most 50)"
    )
    totals: MemberTotals


# --- dashboard --------------------------------------------------------------------------------


class Trends(ApiModel):
    members_change: float | None = Field(
        description="Percent change of new members in this period against the previous period "
        "of the same length; null when the previous period had none"
    )
    watch_time_change: float | None = Field(
        description="Percent change of watch minutes against the previous period; null when "
        "the previous period had none"
    )


class DashboardPeriod(ApiModel):
    from_: date = Field(alias="from", description="First local day of the period")
    to: date = Field(description="Last local day (today in the partner's time zone)")
    days: int
    time_zone: str = Field(description="The partner's time zone, which decides 'today'")
    new_members: int = Field(description="Members who joined in the period")
    distinct_classes_watched: int = Field(description="Distinct classes members watched")


class DashboardOut(ApiModel):
    total_members: int = Field(description="Every member who has joined the partner so far")
    active_members: int = Field(
        description="Members last active (sign-in or watching) since the period began"
    )
    total_watch_time_minutes: int = Field(description="Members' watch minutes in the period")
    total_classes_watched: int = Field(
        description="Class completions by members in the period (a class watched to the "
        "client's completion threshold counts once per member)"
    )
    trends: Trends
    period: DashboardPeriod


# --- analytics --------------------------------------------------------------------------------


class SeriesPoint(ApiModel):
    start: date = Field(description="First day of the bucket (weeks start on Monday)")
    minutes: int
    completions: int
    active_members: int = Field(description="Distinct members who watched in the bucket")


class WatchTotals(ApiModel):
    minutes: int
    completions: int
    active_members: int = Field(description="Distinct members who watched in the window")


class WatchTimeOut(ApiModel):
    from_: date = Field(alias="from")
    to: date
    granularity: str
    time_zone: str = Field(
        description="The zone of the days, weeks and months: the partner's (else the app's)"
    )
    series: list[SeriesPoint] = Field(description="Every bucket of the window, zero-filled")
    totals: WatchTotals


class ClassStat(ApiModel):
    class_id: int
    title: str
    category_id: int | None
    minutes: int
    viewers: int = Field(description="Distinct members who watched the class in the window")
    completions: int
    completion_rate: float = Field(
        description="Members who completed it in the window / viewers (0..1)"
    )


class CategoryStat(ApiModel):
    category_id: int | None = Field(description="None: classes without a category")
    name: str
    minutes: int
    viewers: int
    completions: int
    completion_rate: float
    classes: int = Field(description="Distinct classes of the category watched")


class ContentOut(ApiModel):
    from_: date = Field(alias="from")
    to: date
    time_zone: str = Field(description="The zone of the window's days: the partner's")
    top_classes: list[ClassStat] = Field(description="By minutes watched, most first")
    top_categories: list[CategoryStat] = Field(description="By minutes watched, most first")


# --- billing ----------------------------------------------------------------------------------


class BillingPartner(ApiModel):
    id: int
    name: str


class BillableMember(ApiModel):
    user_id: int
    email: str | None = Field(description="None for an erased user")
    name: str | None = None
    joined_at: datetime
    access_until: datetime | None
    watch_time_minutes: int = Field(description="Minutes in the month (see usageRule)")
    classes_watched: int = Field(description="Distinct classes watched in the month")
    completions: int = Field(description="Completions in the month")


class BillingTotals(ApiModel):
    billable_members: int
    rate: str = Field(description="Price per billable member per month, decimal (e.g. '4.50')")
    rate_minor: int = Field(description="The rate in minor units of the currency")
    currency: str = Field(description="ISO 4217")
    amount: str = Field(description="billableMembers x rate, decimal")
    amount_minor: int
    watch_time_minutes: int = Field(description="Sum of the members' minutes")
    classes_watched: int = Field(description="Sum of the members' classesWatched")
    completions: int


class BillingReport(ApiModel):
    month: str = Field(description="YYYY-MM")
    partner: BillingPartner
    time_zone: str = Field(description="The partner's zone, in which the month is read")
    period_start: datetime = Field(description="The month's first instant (UTC)")
    period_end: datetime = Field(description="The next month's first instant (UTC)")
    closed: bool = Field(description="True: a stored statement that will not change")
    generated_at: datetime = Field(description="When these numbers were computed")
    billable_rule: str
    usage_rule: str
    closing_rule: str
    members: list[BillableMember]
    totals: BillingTotals
