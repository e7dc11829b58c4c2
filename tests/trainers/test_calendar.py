"""The availability engine in memory: local hours to UTC slots, daylight saving both ways,
overrides, time off, buffers, notice and horizon, slot ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from stvos.trainers.calendar import (
    Calendar,
    Interval,
    LocalWindow,
    Slot,
    compute_slots,
    local_edge,
    slot_id,
    slot_start,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
SUNDAY, MONDAY = 6, 0


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def cal(
    zone: ZoneInfo,
    rules: Mapping[int, Sequence[LocalWindow]],
    *,
    overrides: dict[date, Sequence[LocalWindow]] | None = None,
    busy: Sequence[Interval] = (),
) -> Calendar:
    return Calendar(zone=zone, rules=rules, overrides=overrides or {}, busy=busy)


def slots(
    calendar: Calendar,
    start: datetime,
    end: datetime,
    *,
    minutes: int = 60,
    before: int = 0,
    after: int = 0,
    earliest: datetime | None = None,
    latest: datetime | None = None,
) -> list[Slot]:
    return compute_slots(
        calendar,
        duration=timedelta(minutes=minutes),
        buffer_before=timedelta(minutes=before),
        buffer_after=timedelta(minutes=after),
        start=start,
        end=end,
        earliest=earliest or start,
        latest=latest or end,
    )


def local_starts(found: list[Slot], zone: ZoneInfo) -> list[str]:
    return [s.start.astimezone(zone).strftime("%H:%M%z") for s in found]


def w(start: str, end: str | None) -> LocalWindow:
    return (time.fromisoformat(start), time.fromisoformat(end) if end else None)


# --- ids --------------------------------------------------------------------------------------


def test_slot_ids_are_minutes_since_the_epoch_and_round_trip() -> None:
    start = utc(2026, 1, 5, 9, 15)
    assert slot_id(start) == int(start.timestamp()) // 60
    assert slot_start(slot_id(start)) == start
    assert Slot(start, start + timedelta(hours=1)).slot_id == slot_id(start)
    # The same instant written in another zone is the same slot.
    assert slot_id(start.astimezone(NEW_YORK)) == slot_id(start)
    with pytest.raises(ValueError, match="not a slot id"):
        slot_start(1)
    with pytest.raises(ValueError, match="not a slot id"):
        slot_start(10**12)


# --- ordinary days ----------------------------------------------------------------------------


def test_quarter_hour_slots_that_fit_wholly_inside_the_hours() -> None:
    calendar = cal(LONDON, {MONDAY: [w("09:00", "12:00")]})
    found = slots(calendar, utc(2026, 1, 5), utc(2026, 1, 6))  # a Monday in winter (UTC+0)
    assert [s.start for s in found][:2] == [utc(2026, 1, 5, 9), utc(2026, 1, 5, 9, 15)]
    assert found[-1].start == utc(2026, 1, 5, 11)  # 11:00-12:00 is the last that fits
    assert len(found) == 9
    assert all(s.end - s.start == timedelta(hours=1) for s in found)


def test_summer_hours_are_read_in_local_time() -> None:
    calendar = cal(LONDON, {MONDAY: [w("09:00", "10:00")]})
    found = slots(calendar, utc(2026, 7, 6), utc(2026, 7, 7), minutes=30)
    assert [s.start for s in found] == [
        utc(2026, 7, 6, 8),
        utc(2026, 7, 6, 8, 15),
        utc(2026, 7, 6, 8, 30),
    ]


def test_odd_window_edges_start_on_the_next_quarter_hour() -> None:
    calendar = cal(LONDON, {MONDAY: [w("09:10", "10:20")]})
    found = slots(calendar, utc(2026, 1, 5), utc(2026, 1, 6), minutes=30)
    assert local_starts(found, LONDON) == ["09:15+0000", "09:30+0000", "09:45+0000"]


def test_adjacent_rules_join_and_midnight_means_the_end_of_the_day() -> None:
    calendar = cal(LONDON, {MONDAY: [w("20:00", "22:00"), w("22:00", None)]})
    found = slots(calendar, utc(2026, 1, 5), utc(2026, 1, 7), minutes=120)
    # 21:00-23:00 crosses the two rules (one stretch of hours); 22:00-24:00 ends at midnight.
    assert [s.start for s in found][-1] == utc(2026, 1, 5, 22)
    assert utc(2026, 1, 5, 21) in [s.start for s in found]


def test_query_window_bounds_the_starts() -> None:
    calendar = cal(LONDON, {MONDAY: [w("09:00", "12:00")]})
    found = slots(calendar, utc(2026, 1, 5, 10), utc(2026, 1, 5, 10, 31))
    assert [s.start for s in found] == [
        utc(2026, 1, 5, 10),
        utc(2026, 1, 5, 10, 15),
        utc(2026, 1, 5, 10, 30),
    ]


# --- daylight saving --------------------------------------------------------------------------


def test_london_spring_forward_skips_the_missing_hour() -> None:
    # Sunday 29 March 2026: 01:00 GMT becomes 02:00 BST (01:00Z).
    calendar = cal(LONDON, {SUNDAY: [w("00:00", "04:00")]})
    found = slots(calendar, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12), minutes=60)
    assert found[0].start == utc(2026, 3, 29, 0)
    # 00:00 local is 00:00Z, 04:00 local is 03:00Z: three real hours, 9 one-hour starts.
    assert found[-1].end == utc(2026, 3, 29, 3)
    assert len(found) == 9
    labels = local_starts(found, LONDON)
    assert labels[:5] == ["00:00+0000", "00:15+0000", "00:30+0000", "00:45+0000", "02:00+0100"]
    assert not any(label.startswith("01:") for label in labels)


def test_london_window_edge_in_the_gap_moves_to_the_transition() -> None:
    calendar = cal(LONDON, {SUNDAY: [w("01:30", "03:00")]})
    found = slots(calendar, utc(2026, 3, 29), utc(2026, 3, 30), minutes=30)
    assert found[0].start == utc(2026, 3, 29, 1)  # 02:00 BST, the first instant that exists
    assert local_starts(found, LONDON) == ["02:00+0100", "02:15+0100", "02:30+0100"]
    assert local_edge(date(2026, 3, 29), time(1, 30), LONDON, end=True) == utc(2026, 3, 29, 1)


def test_london_fall_back_offers_both_occurrences_of_the_repeated_hour() -> None:
    # Sunday 25 October 2026: 02:00 BST becomes 01:00 GMT (01:00Z); 01:00-02:00 happens twice.
    calendar = cal(LONDON, {SUNDAY: [w("00:30", "02:30")]})
    found = slots(calendar, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12), minutes=30)
    # 00:30 BST (23:30Z the day before) to 02:30 GMT (02:30Z): three real hours.
    assert found[0].start == utc(2026, 10, 24, 23, 30)
    assert found[-1].end == utc(2026, 10, 25, 2, 30)
    assert len(found) == 11
    labels = local_starts(found, LONDON)
    assert "01:00+0100" in labels
    assert "01:00+0000" in labels
    ids = [s.slot_id for s in found]
    assert len(set(ids)) == len(ids)  # distinct instants, distinct slot ids
    first = next(s for s in found if s.start.astimezone(LONDON).strftime("%H:%M%z") == "01:00+0100")
    second = next(
        s for s in found if s.start.astimezone(LONDON).strftime("%H:%M%z") == "01:00+0000"
    )
    assert second.start - first.start == timedelta(hours=1)


def test_london_ordinary_hours_shift_in_utc_across_both_changes() -> None:
    calendar = cal(LONDON, {d: [w("09:00", "10:00")] for d in range(7)})
    spring = slots(calendar, utc(2026, 3, 28), utc(2026, 3, 30), minutes=60)
    assert [s.start for s in spring] == [utc(2026, 3, 28, 9), utc(2026, 3, 29, 8)]
    autumn = slots(calendar, utc(2026, 10, 24), utc(2026, 10, 26), minutes=60)
    assert [s.start for s in autumn] == [utc(2026, 10, 24, 8), utc(2026, 10, 25, 9)]


def test_new_york_spring_forward() -> None:
    # Sunday 8 March 2026: 02:00 EST becomes 03:00 EDT (07:00Z).
    calendar = cal(NEW_YORK, {SUNDAY: [w("01:00", "04:00")]})
    found = slots(calendar, utc(2026, 3, 8), utc(2026, 3, 9), minutes=60)
    labels = local_starts(found, NEW_YORK)
    assert labels[0] == "01:00-0500"
    assert not any(label.startswith("02:") for label in labels)
    # 01:00 EST = 06:00Z to 04:00 EDT = 08:00Z: two real hours, 5 one-hour starts.
    assert [s.start for s in found] == [
        utc(2026, 3, 8, 6),
        utc(2026, 3, 8, 6, 15),
        utc(2026, 3, 8, 6, 30),
        utc(2026, 3, 8, 6, 45),
        utc(2026, 3, 8, 7),
    ]
    assert labels[-1] == "03:00-0400"


def test_new_york_fall_back() -> None:
    # Sunday 1 November 2026: 02:00 EDT becomes 01:00 EST (06:00Z); 01:00-02:00 happens twice.
    calendar = cal(NEW_YORK, {SUNDAY: [w("01:00", "02:00")]})
    found = slots(calendar, utc(2026, 11, 1), utc(2026, 11, 2), minutes=60)
    # From the first 01:00 (05:00Z) to the second 02:00 (07:00Z): two real hours.
    assert found[0].start == utc(2026, 11, 1, 5)
    assert found[-1].start == utc(2026, 11, 1, 6)
    labels = local_starts(found, NEW_YORK)
    assert labels[0] == "01:00-0400"
    assert labels[-1] == "01:00-0500"
    assert len(found) == 5


# --- overrides, time off, bookings, buffers ---------------------------------------------------


def test_an_override_replaces_the_days_rules_and_an_empty_one_blocks_it() -> None:
    rules = {MONDAY: [w("09:00", "12:00")]}
    calendar = cal(
        LONDON,
        rules,
        overrides={date(2026, 1, 5): [w("14:00", "15:00")], date(2026, 1, 12): []},
    )
    found = slots(calendar, utc(2026, 1, 5), utc(2026, 1, 20))
    by_day: dict[date, list[str]] = {}
    for s in found:
        by_day.setdefault(s.start.date(), []).append(s.start.strftime("%H:%M"))
    assert by_day[date(2026, 1, 5)] == ["14:00"]
    assert date(2026, 1, 12) not in by_day
    assert by_day[date(2026, 1, 19)][0] == "09:00"


def test_an_override_opens_a_day_without_rules() -> None:
    calendar = cal(LONDON, {}, overrides={date(2026, 1, 7): [w("18:00", "19:00")]})
    assert [s.start for s in slots(calendar, utc(2026, 1, 5), utc(2026, 1, 10))] == [
        utc(2026, 1, 7, 18)
    ]


def test_time_off_and_bookings_block_with_the_services_buffers() -> None:
    busy = [(utc(2026, 1, 5, 10), utc(2026, 1, 5, 11))]  # a booking (or time off) 10:00-11:00
    calendar = cal(LONDON, {MONDAY: [w("08:00", "14:00")]}, busy=busy)
    plain = [s.start for s in slots(calendar, utc(2026, 1, 5), utc(2026, 1, 6), minutes=30)]
    assert utc(2026, 1, 5, 9, 30) in plain  # ends exactly when the busy range starts
    assert utc(2026, 1, 5, 11) in plain  # starts exactly when it ends
    assert not any(utc(2026, 1, 5, 9, 45) <= s < utc(2026, 1, 5, 11) for s in plain)
    buffered = [
        s.start
        for s in slots(calendar, utc(2026, 1, 5), utc(2026, 1, 6), minutes=30, before=15, after=10)
    ]
    # 09:15-09:45 + 10 min after touches 09:55 < 10:00: fine; 09:30 would run to 10:10.
    assert utc(2026, 1, 5, 9, 15) in buffered
    assert utc(2026, 1, 5, 9, 30) not in buffered
    # 11:15 - 15 min before = 11:00: fine; 11:00 would need 10:45.
    assert utc(2026, 1, 5, 11, 15) in buffered
    assert utc(2026, 1, 5, 11) not in buffered


def test_nested_and_overlapping_busy_ranges() -> None:
    busy = [
        (utc(2026, 1, 5, 9), utc(2026, 1, 5, 12)),
        (utc(2026, 1, 5, 10), utc(2026, 1, 5, 10, 30)),
        (utc(2026, 1, 5, 11, 45), utc(2026, 1, 5, 12, 30)),
    ]
    calendar = cal(LONDON, {MONDAY: [w("08:00", "14:00")]}, busy=busy)
    found = [s.start for s in slots(calendar, utc(2026, 1, 5), utc(2026, 1, 6), minutes=60)]
    assert found == [
        utc(2026, 1, 5, 8),
        utc(2026, 1, 5, 12, 30),
        utc(2026, 1, 5, 12, 45),
        utc(2026, 1, 5, 13),
    ]


def test_minimum_notice_and_horizon() -> None:
    calendar = cal(LONDON, {d: [w("09:00", "17:00")] for d in range(7)})
    now = utc(2026, 1, 5, 10, 20)
    found = slots(
        calendar,
        utc(2026, 1, 5),
        utc(2026, 2, 5),
        earliest=now + timedelta(minutes=120),
        latest=now + timedelta(days=3),
    )
    assert found[0].start == utc(2026, 1, 5, 12, 30)  # first quarter hour from 12:20
    assert found[-1].start == utc(2026, 1, 8, 10, 15)  # the last start before 10:20
    assert all(s.start < now + timedelta(days=3) for s in found)


def test_thirty_days_compute_in_milliseconds() -> None:
    import time as clock

    busy = [
        (
            utc(2026, 1, 1) + timedelta(hours=5 * i),
            utc(2026, 1, 1) + timedelta(hours=5 * i, minutes=45),
        )
        for i in range(150)
    ]
    calendar = cal(LONDON, {d: [w("06:00", "21:00")] for d in range(7)}, busy=busy)
    started = clock.perf_counter()
    found = slots(calendar, utc(2026, 1, 1), utc(2026, 1, 31), minutes=45, before=15, after=15)
    elapsed = clock.perf_counter() - started
    assert 500 < len(found) < 30 * 60
    assert elapsed < 0.25, elapsed
