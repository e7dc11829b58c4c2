"""The availability answer's fast path: slot ids from runs of quarter hours (checked against
the definition, candidate by candidate), the wire bytes (pinned to the documented model's),
the account check folded into the first of its two statements, and the calendar statement
naming its client itself."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from pydantic import TypeAdapter

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.schemas import Envelope
from stvos.kit.tenancy import TenantScope
from stvos.models import AccountStatus, AvailabilityRule, Trainer, TrainerService, User
from stvos.trainers.booking_schemas import AvailabilityOut, availability_json
from stvos.trainers.calendar import Calendar, Interval, LocalWindow, load_calendar, open_windows
from stvos.trainers.calendar import slot_ids as compute_slot_ids
from tests.support.factories import TestClient, make_user
from tests.support.statements import count_statements

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZONES = [
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",  # a half-hour change
    "Asia/Kathmandu",  # +05:45
    "Pacific/Chatham",  # +12:45 / +13:45
    "UTC",
]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- slot ids against the definition -----------------------------------------------------------


def _by_definition(
    calendar: Calendar,
    *,
    duration: timedelta,
    before: timedelta,
    after: timedelta,
    low: datetime,
    high: datetime,
) -> list[int]:
    """Every UTC quarter hour in ``[low, high)`` whose session fits in one open window and
    whose buffered range touches no busy range: one test per candidate."""
    found = []
    windows = open_windows(calendar, low, high)
    candidate = EPOCH + timedelta(minutes=-(-((low - EPOCH) // timedelta(minutes=1)) // 15) * 15)
    while candidate < low:
        candidate += timedelta(minutes=15)
    while candidate < high:
        finish = candidate + duration
        fits = any(opens <= candidate and finish <= closes for opens, closes in windows)
        taken_from, taken_until = candidate - before, finish + after
        free = all(not (b0 < taken_until and b1 > taken_from) for b0, b1 in calendar.busy)
        if fits and free:
            found.append((candidate - EPOCH) // timedelta(minutes=1))
        candidate += timedelta(minutes=15)
    return found


def _random_wall(rnd: random.Random) -> time:
    return time(rnd.randrange(24), rnd.choice([0, 15, 30, 45, rnd.randrange(60)]))


def _random_windows(rnd: random.Random) -> list[LocalWindow]:
    return [
        (_random_wall(rnd), rnd.choice([None, _random_wall(rnd)]))
        for _ in range(rnd.randrange(0, 3))
    ]


def test_slot_ids_match_the_definition_candidate_by_candidate() -> None:
    rnd = random.Random(20260105)
    checked = 0
    for _ in range(250):
        zone = ZoneInfo(rnd.choice(ZONES))
        # Around the year's changes of the zones above (March/April and September-November).
        base = utc(2026, rnd.choice([3, 4, 9, 10, 11]), rnd.randrange(1, 28), rnd.randrange(24))
        base += timedelta(seconds=rnd.randrange(3600), microseconds=rnd.randrange(10**6))
        busy: list[Interval] = []
        quarter = base.replace(minute=0, second=0, microsecond=0)
        for _ in range(rnd.randrange(0, 12)):
            if rnd.random() < 0.5:  # bookings: quarter hours, so edges meet candidates exactly
                start = quarter + timedelta(minutes=15 * rnd.randrange(-96, 8 * 96))
                length = timedelta(minutes=rnd.choice([15, 30, 45, 60, 90, 120]))
            else:  # time off: any instant
                start = base + timedelta(seconds=rnd.randrange(-86_400, 8 * 86_400))
                length = timedelta(seconds=rnd.choice([900, 3600, rnd.randrange(1, 20_000)]))
            busy.append((start, start + length))
        overrides = {
            (base + timedelta(days=rnd.randrange(0, 8))).astimezone(zone).date(): _random_windows(
                rnd
            )
            for _ in range(rnd.randrange(0, 3))
        }
        calendar = Calendar(
            zone=zone,
            rules={d: _random_windows(rnd) for d in range(7)},
            overrides=overrides,
            busy=busy,
        )
        duration = timedelta(minutes=rnd.choice([15, 25, 45, 60, 90]))
        before, after = (timedelta(minutes=rnd.choice([0, 5, 15])) for _ in range(2))
        low, high = rnd.choice([base, quarter]), quarter + timedelta(days=rnd.choice([1, 3, 7]))
        if rnd.random() < 0.5:
            high += base - quarter  # not on a quarter hour
        ids = compute_slot_ids(
            calendar,
            duration=duration,
            buffer_before=before,
            buffer_after=after,
            start=low,
            end=high,
            earliest=low,
            latest=high,
        )
        expected = _by_definition(
            calendar, duration=duration, before=before, after=after, low=low, high=high
        )
        assert ids == expected, (zone, base, duration, before, after)
        checked += len(ids)
    assert checked > 1000  # the cases are not all empty


# --- the wire ----------------------------------------------------------------------------------


def _documented(answer: dict[str, Any]) -> bytes:
    """The same answer through the documented model, a SlotOut per slot (the old way)."""
    duration = timedelta(minutes=answer["duration_minutes"])
    slots = [
        {"slot_id": i, "start": EPOCH + timedelta(minutes=i), "end": EPOCH + timedelta(minutes=i)}
        for i in answer["slot_ids"]
    ]
    for slot in slots:
        slot["end"] = slot["start"] + duration
    out = AvailabilityOut.model_validate({**answer, "slots": slots})
    return TypeAdapter(Envelope[AvailabilityOut]).dump_json(
        Envelope[AvailabilityOut](data=out), by_alias=True
    )


def test_the_wire_bytes_are_the_documented_models() -> None:
    first = (utc(2026, 12, 30, 22, 45) - EPOCH) // timedelta(minutes=1)
    for duration in (15, 25, 60, 95, 24 * 60, 3 * 24 * 60 + 7):
        answer = {
            "trainer_id": 7,
            "service_id": 9,
            "duration_minutes": duration,
            "time_zone": "Europe/London",
            "viewer_time_zone": "Asia/Tokyo",
            "from_": datetime(2026, 12, 30, 15, 0, 7, 123456, tzinfo=UTC),  # now, to the us
            "to": utc(2027, 1, 29, 15),
            # Across midnight, the year's end and a leap day; runs and gaps.
            "slot_ids": [*range(first, first + 3 * 24 * 60, 15), first + 5000, 29_503_500],
        }
        assert availability_json(answer) == _documented(answer), duration
    empty = {**answer, "slot_ids": []}
    assert availability_json(empty) == _documented(empty)


# --- through HTTP -------------------------------------------------------------------------------


async def _trainer(db: Database, client: TestClient) -> tuple[int, int]:
    """A London trainer working 09:00-17:00 every day, with a one-hour service."""
    async with db.transaction(TenantScope.for_client(client.id)) as session:
        trainer = Trainer(name="Maya Moves", time_zone="Europe/London")
        session.add(trainer)
        await session.flush()
        for weekday in range(7):
            session.add(
                AvailabilityRule(
                    trainer_id=trainer.id, weekday=weekday, start_time=time(9), end_time=time(17)
                )
            )
        service = TrainerService(
            trainer_id=trainer.id,
            name="PT session",
            duration_minutes=60,
            price_minor=4500,
            currency="GBP",
            mode="video",
            min_notice_minutes=120,
            max_days_ahead=60,
        )
        session.add(service)
        await session.flush()
        return trainer.id, service.id


async def test_two_statements_and_the_members_own_zone_read_fresh(
    app: FastAPI, http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _trainer(db, client_a)
    path = f"/trainers/{trainer_id}/availability"
    params = {"serviceId": service_id, "from": "2026-01-10", "to": "2026-01-10"}
    with count_statements(app) as statements:
        response = await http.get(path, params=params, headers=member.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    data = response.json()["data"]
    assert data["viewerTimeZone"] == "Europe/London"  # the client's
    assert data["from"] == "2026-01-10T00:00:00Z"
    # The account check, the member, trainer and service in one; the calendar in the other.
    assert len([s for s in statements if not s.startswith(("BEGIN", "COMMIT"))]) == 2
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        user = await session.get(User, member.id)
        assert user is not None
        user.profile = {**(user.profile or {}), "time_zone": "Asia/Tokyo"}
    data = (await http.get(path, params=params, headers=member.headers)).json()["data"]
    assert data["viewerTimeZone"] == "Asia/Tokyo"  # the member's own, the next request
    assert data["from"] == "2026-01-09T15:00:00Z"
    starts = [s["start"] for s in data["slots"]]
    # Tokyo's 10 January is 15:00Z on the 9th to 15:00Z on the 10th: the end of the trainer's
    # hours on the 9th, and the start of those of the 10th.
    assert starts[:2] == ["2026-01-09T15:00:00Z", "2026-01-09T15:15:00Z"]
    assert starts[-1] == "2026-01-10T14:45:00Z"
    assert len(starts) == 5 + 24


async def test_an_ended_sign_in_is_refused_before_any_other_answer(
    http: httpx.AsyncClient, db: Database, client_a: TestClient, clock: FrozenClock
) -> None:
    member = await make_user(http, db, client_a, "member@example.com")
    trainer_id, service_id = await _trainer(db, client_a)
    path = f"/trainers/{trainer_id}/availability"
    assert (
        await http.get(path, params={"serviceId": service_id}, headers=member.headers)
    ).is_success
    assert (await http.post("/auth/logout", headers=member.headers)).status_code == 200
    for url, params in [
        (path, {"serviceId": service_id}),  # would be 200
        (path, {"serviceId": service_id, "from": "next week"}),  # would be 400
        ("/trainers/999999/availability", {"serviceId": service_id}),  # would be 404
    ]:
        response = await http.get(url, params=params, headers=member.headers)
        assert response.status_code == 401, response.text
    other = await make_user(http, db, client_a, "other@example.com")
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        user = await session.get(User, other.id)
        assert user is not None
        user.status = AccountStatus.DISABLED.value
    response = await http.get(path, params={"serviceId": service_id}, headers=other.headers)
    assert response.status_code == 401, response.text


async def test_the_calendar_statement_names_its_client_itself(
    db: Database, client_a: TestClient, client_b: TestClient
) -> None:
    """It runs beside the ORM's tenant filter, not through it: its own conditions must keep
    another client's rows out even in the platform scope, where nothing else filters."""
    trainer_id, _ = await _trainer(db, client_a)
    window = (utc(2026, 1, 5), utc(2026, 1, 12))
    zone = ZoneInfo("Europe/London")
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        own = await load_calendar(session, client_a.id, trainer_id, *window, zone=zone)
        foreign = await load_calendar(session, client_b.id, trainer_id, *window, zone=zone)
    assert sorted(own.rules) == list(range(7))
    assert foreign.rules == {}
    assert date(2026, 1, 5) not in foreign.overrides
