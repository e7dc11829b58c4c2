"""Playback sessions: honest coverage, completion once at the threshold, resume across
devices, the watch ledger, continue watching, and isolation."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database, observe_driver_statements, scope_declaration
from stvos.kit.tenancy import TenantScope
from stvos.kit.zones import quarter_hour_floor
from stvos.models import Client, PlaybackSession, User, WatchLedger
from tests.content import add_class
from tests.support.factories import TestClient, TestUser, make_client, make_user


@pytest.fixture
async def member(
    clock: FrozenClock, http: httpx.AsyncClient, db: Database, client_a: TestClient
) -> TestUser:
    return await make_user(http, db, client_a, "viewer@example.com")


async def _class(db: Database, client: TestClient, clock: FrozenClock, minutes: int = 10) -> int:
    return await add_class(
        db, client, f"Class {minutes}", clock.now() - timedelta(days=1), duration_minutes=minutes
    )


async def _start(
    http: httpx.AsyncClient, user: TestUser, class_id: int, device: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"classId": class_id}
    if device:
        body["deviceId"] = device
    response = await http.post("/sessions/start", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _beat(
    http: httpx.AsyncClient, user: TestUser, session_id: int, position: int
) -> httpx.Response:
    return await http.post(
        f"/sessions/{session_id}/progress", json={"position": position}, headers=user.headers
    )


async def _watch(
    http: httpx.AsyncClient,
    clock: FrozenClock,
    user: TestUser,
    session_id: int,
    start: int,
    end: int,
    step: int = 30,
) -> dict[str, Any]:
    """Heartbeats every ``step`` seconds of real time, as a player would."""
    data: dict[str, Any] = {}
    for position in range(start + step, end + 1, step):
        clock.advance(step)
        response = await _beat(http, user, session_id, position)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
    return data


async def test_start_answers_resume_and_threshold(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await _class(db, client_a, clock)
    data = await _start(http, member, class_id)
    assert data["classId"] == class_id
    assert data["position"] == 0
    assert data["duration"] == 10
    assert data["completionThreshold"] == 90
    assert data["completed"] is False
    assert data["status"] == "active"


async def test_completes_at_ninety_percent_covered_and_not_before(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await _class(db, client_a, clock)  # 600 s
    session_id = (await _start(http, member, class_id))["id"]
    before = await _watch(http, clock, member, session_id, 0, 510)
    assert before["percentComplete"] == 85.0
    assert before["completed"] is False
    after = await _watch(http, clock, member, session_id, 510, 540)
    assert after["percentComplete"] == 90.0
    assert after["watchedSeconds"] == 540
    assert after["completed"] is True
    # Once only: watching on adds no second completion.
    await _watch(http, clock, member, session_id, 540, 600)
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        completions = await session.scalar(select(func.sum(WatchLedger.completions)))
    assert completions == 1
    # A completed class starts again from the beginning.
    assert (await _start(http, member, class_id))["position"] == 0


async def test_seeking_to_the_end_does_not_complete(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await _class(db, client_a, clock)
    session_id = (await _start(http, member, class_id))["id"]
    clock.advance(5)
    data = (await _beat(http, member, session_id, 600)).json()["data"]
    assert data["completed"] is False
    assert data["watchedSeconds"] <= 10
    assert data["creditedSeconds"] <= 10


async def test_a_heartbeat_cannot_claim_more_than_the_time_that_passed(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await _class(db, client_a, clock, minutes=60)
    session_id = (await _start(http, member, class_id))["id"]
    clock.advance(30)
    data = (await _beat(http, member, session_id, 3000)).json()["data"]
    assert data["creditedSeconds"] <= 35
    assert data["position"] == 3000


async def test_rewatching_duplicates_and_late_heartbeats_count_once(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await _class(db, client_a, clock)
    session_id = (await _start(http, member, class_id))["id"]
    first = await _watch(http, clock, member, session_id, 0, 60)
    assert first["watchedSeconds"] == 60
    duplicate = (await _beat(http, member, session_id, 60)).json()["data"]
    late = (await _beat(http, member, session_id, 30)).json()["data"]  # out of order
    assert duplicate["watchedSeconds"] == late["watchedSeconds"] == 60
    # Seek back to the start and watch the same minute again: coverage stays at 60 s.
    assert (await _beat(http, member, session_id, 0)).status_code == 200
    again = await _watch(http, clock, member, session_id, 0, 60)
    assert again["watchedSeconds"] == 60
    assert again["creditedSeconds"] == 120  # watch time is real time, coverage is not


async def test_concurrent_heartbeats_of_one_session_lose_nothing(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await _class(db, client_a, clock)
    session_id = (await _start(http, member, class_id))["id"]
    clock.advance(30)
    responses = await asyncio.gather(
        _beat(http, member, session_id, 30), _beat(http, member, session_id, 30)
    )
    assert all(r.status_code == 200 for r in responses)
    final = (await http.get(f"/sessions/{session_id}", headers=member.headers)).json()["data"]
    assert final["creditedSeconds"] == 30
    assert final["watchedSeconds"] == 30


async def test_resume_follows_the_newest_device(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await _class(db, client_a, clock)
    phone = (await _start(http, member, class_id, "phone"))["id"]
    await _watch(http, clock, member, phone, 0, 120)
    tv = await _start(http, member, class_id, "tv")
    assert tv["position"] == 120  # picks up where the phone stopped
    await _watch(http, clock, member, tv["id"], 120, 210)
    # The phone, now stale, reports an older position: it does not move the resume point.
    clock.advance(10)
    assert (await _beat(http, member, phone, 150)).status_code == 200
    assert (await _start(http, member, class_id, "laptop"))["position"] == 210


async def test_silent_sessions_close(
    http: httpx.AsyncClient,
    app: FastAPI,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await _class(db, client_a, clock)
    session_id = (await _start(http, member, class_id))["id"]
    clock.advance(timedelta(minutes=6))
    late = await _beat(http, member, session_id, 30)
    assert late.status_code == 409
    assert late.json()["code"] == "INVALID_STATE_TRANSITION"
    state = (await http.get(f"/sessions/{session_id}", headers=member.headers)).json()["data"]
    assert state["status"] == "expired"
    # The housekeeper closes the silent ones nobody pinged.
    other = (await _start(http, member, class_id))["id"]
    clock.advance(timedelta(minutes=6))
    counts = await app.state.housekeeper.run_once()
    assert counts["idle_playback_sessions_closed"] == 1
    state = (await http.get(f"/sessions/{other}", headers=member.headers)).json()["data"]
    assert state["status"] == "expired"


async def test_end_and_history(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await _class(db, client_a, clock)
    session_id = (await _start(http, member, class_id))["id"]
    await _watch(http, clock, member, session_id, 0, 60)
    clock.advance(20)
    ended = await http.post(
        f"/sessions/{session_id}/end", json={"position": 80}, headers=member.headers
    )
    assert ended.status_code == 200
    assert ended.json()["data"]["status"] == "ended"
    assert ended.json()["data"]["position"] == 80
    assert (await _beat(http, member, session_id, 90)).status_code == 409
    history = (await http.get("/users/me/sessions", headers=member.headers)).json()["data"]
    assert history["pagination"]["total"] == 1
    assert history["items"][0]["id"] == session_id


async def test_continue_watching_in_discover(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    older = await _class(db, client_a, clock, minutes=10)
    newer = await _class(db, client_a, clock, minutes=20)
    done = await _class(db, client_a, clock, minutes=1)
    await _watch(http, clock, member, (await _start(http, member, older))["id"], 0, 60)
    await _watch(http, clock, member, (await _start(http, member, newer))["id"], 0, 120)
    await _watch(http, clock, member, (await _start(http, member, done))["id"], 0, 60)
    discover = (await http.get("/content/discover", headers=member.headers)).json()["data"]
    unfinished = discover["continueWatching"]
    assert [c["id"] for c in unfinished] == [newer, older]
    assert unfinished[0]["position"] == 120
    assert unfinished[0]["percentWatched"] == 10.0
    assert "videoUrl" not in unfinished[0]


async def test_ledger_matches_sessions_and_splits_local_days(
    http: httpx.AsyncClient,
    db: Database,
    member: TestUser,
    client_a: TestClient,
    clock: FrozenClock,
) -> None:
    # The client is in Auckland (UTC+13 in January): 10:55Z is 23:55 local.
    async with db.transaction(TenantScope.for_platform()) as session:
        client = await session.get(Client, client_a.id)
        assert client is not None
        client.time_zone = "Pacific/Auckland"
    clock._now = datetime(2026, 1, 1, 10, 55, tzinfo=UTC)
    http_app = http._transport.app  # type: ignore[attr-defined]
    http_app.state.authenticator.invalidate()
    viewer = await make_user(http, db, client_a, "night@example.com")
    class_id = await _class(db, client_a, clock, minutes=30)
    session_id = (await _start(http, viewer, class_id))["id"]
    await _watch(http, clock, viewer, session_id, 0, 600)  # 10 minutes, across midnight
    async with db.transaction(TenantScope.for_client(client_a.id), write=False) as session:
        rows = dict(
            (
                await session.execute(
                    select(WatchLedger.day, func.sum(WatchLedger.watched_seconds))
                    .where(WatchLedger.user_id == viewer.id)
                    .group_by(WatchLedger.day)
                )
            ).all()
        )
        quarters = (
            await session.execute(
                select(WatchLedger.period_start, WatchLedger.watched_seconds)
                .where(WatchLedger.user_id == viewer.id)
                .order_by(WatchLedger.period_start)
            )
        ).all()
        credited = await session.scalar(
            select(func.sum(PlaybackSession.credited_seconds)).where(
                PlaybackSession.user_id == viewer.id
            )
        )
    assert rows == {date(2026, 1, 1): 300, date(2026, 1, 2): 300}
    assert sum(rows.values()) == credited == 600
    # Kept by UTC quarter hour, so any other zone's days are exact sums too.
    assert [(start.astimezone(UTC), seconds) for start, seconds in quarters] == [
        (datetime(2026, 1, 1, 10, 45, tzinfo=UTC), 300),
        (datetime(2026, 1, 1, 11, 0, tzinfo=UTC), 300),
    ]


async def test_a_client_threshold_changes_completion(
    http: httpx.AsyncClient,
    app: FastAPI,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    async with db.transaction(TenantScope.for_platform()) as session:
        client = await session.get(Client, client_a.id)
        assert client is not None
        client.settings = {"completionThreshold": 50}
    app.state.authenticator.invalidate()
    class_id = await _class(db, client_a, clock)
    session_id = (await _start(http, member, class_id))["id"]
    data = await _watch(http, clock, member, session_id, 0, 300)
    assert data["completionThreshold"] == 50
    assert data["completed"] is True


async def test_validation_and_isolation(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await _class(db, client_a, clock)
    session_id = (await _start(http, member, class_id))["id"]
    for body in ({"position": -1}, {"position": "x"}, {"position": 10, "speed": 2}, {}):
        response = await http.post(
            f"/sessions/{session_id}/progress", json=body, headers=member.headers
        )
        assert response.status_code == 400, body
    # Another member of the same client, and a member of another client, see nothing.
    neighbour = await make_user(http, db, client_a, "neighbour@example.com")
    client_b = await make_client(db, "Beta Gym")
    stranger = await make_user(http, db, client_b, "stranger@example.com")
    for user in (neighbour, stranger):
        assert (await _beat(http, user, session_id, 30)).status_code == 404
        assert (await http.get(f"/sessions/{session_id}", headers=user.headers)).status_code == 404
    foreign = await http.post(
        "/sessions/start", json={"classId": class_id}, headers=stranger.headers
    )
    assert foreign.status_code == 404
    history = (await http.get("/users/me/sessions", headers=stranger.headers)).json()["data"]
    assert history["pagination"]["total"] == 0


async def test_watch_time_counts_as_active_minutes_in_the_progress_summary(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await _class(db, client_a, clock)
    session_id = (await _start(http, member, class_id))["id"]
    await _watch(http, clock, member, session_id, 0, 300)  # five minutes
    today = clock.now().date().isoformat()
    summary = await http.get(f"/progress/summary?from={today}&to={today}", headers=member.headers)
    assert summary.status_code == 200, summary.text
    [day] = summary.json()["data"]["days"]
    assert day["activeMinutes"] == 5


async def test_watch_time_falls_on_the_members_own_local_day(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    clock: FrozenClock,
) -> None:
    # The client counts in UTC; the member lives in Los Angeles (UTC-8 in January), where
    # 2026-01-02 03:00Z is still the evening of January 1st.
    clock._now = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    viewer = await make_user(http, db, client_a, "la@example.com")
    response = await http.put(
        "/users/me", json={"profile": {"timeZone": "America/Los_Angeles"}}, headers=viewer.headers
    )
    assert response.status_code == 200, response.text
    class_id = await _class(db, client_a, clock)
    session_id = (await _start(http, viewer, class_id))["id"]
    await _watch(http, clock, viewer, session_id, 0, 300)
    summary = await http.get(
        "/progress/summary?from=2026-01-01&to=2026-01-02", headers=viewer.headers
    )
    assert summary.status_code == 200, summary.text
    minutes = {d["date"]: d["activeMinutes"] for d in summary.json()["data"]["days"]}
    assert minutes == {"2026-01-01": 5, "2026-01-02": 0}


async def test_a_heartbeat_runs_a_fixed_number_of_statements(
    http: httpx.AsyncClient,
    app: FastAPI,
    db: Database,
    client_a: TestClient,
    clock: FrozenClock,
    is_postgres: bool,
) -> None:
    from tests.support.statements import count_statements

    # Start 75 s before a quarter hour: the third heartbeat's 30 s straddle it, so its write
    # carries two ledger pieces; the ones around it carry one.
    quarter = quarter_hour_floor(clock.now()) + timedelta(minutes=15)
    clock.advance((quarter - clock.now()).total_seconds() - 75)
    viewer = await make_user(http, db, client_a, "counted@example.com")  # a fresh sign-in
    class_id = await _class(db, client_a, clock, minutes=60)
    session_id = (await _start(http, viewer, class_id))["id"]
    for beat in range(1, 5):
        clock.advance(30)
        # The API-key lookup is cached per app key (shared by all its users), not paid per
        # heartbeat; the frozen clock outruns that cache, so refresh it outside the count.
        assert (await http.get("/app/config", headers=client_a.headers)).status_code == 200
        position = 30 * beat
        # PostgreSQL runs the heartbeat straight on the driver: watch those statements too.
        with (
            count_statements(app) as statements,
            observe_driver_statements(lambda sql, _args: statements.append(sql)),
        ):
            assert (await _beat(http, viewer, session_id, position)).status_code == 200
        work = [s for s in statements if not s.startswith(("BEGIN", "COMMIT"))]
        if is_postgres:  # the BEGIN message carries the tenant declaration
            declaration = scope_declaration(TenantScope.for_client(client_a.id))
            assert [s for s in statements if s.startswith("BEGIN")] == [
                f"BEGIN ISOLATION LEVEL READ COMMITTED; {declaration}"
            ]
        # The sign-in check is a column of the locked read: no statement of its own.
        assert not [s for s in work if "set_config" in s], work
        read = work[0]
        assert "FROM users" in read, read
        assert "playback_sessions" in read, read
        if is_postgres:
            assert "FOR UPDATE" in read
            # One write: both updates ride as CTEs of the ledger upsert.
            assert len(work) == 2, work
            assert "WITH session_written AS" in work[1]
            assert "INSERT INTO watch_ledger" in work[1]
        else:  # SQLite runs the writes in turn, in-process (no round trips)
            assert len(work) == (5 if beat == 3 else 4), work
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        periods = await session.scalar(
            select(func.count()).select_from(WatchLedger).where(WatchLedger.user_id == viewer.id)
        )
    assert periods == 2  # the quarter hour it started in, and the one the third beat reached


async def test_a_dead_sign_in_cannot_heartbeat_and_writes_nothing(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await _class(db, client_a, clock)
    session_id = (await _start(http, member, class_id))["id"]
    clock.advance(30)
    assert (await _beat(http, member, session_id, 30)).status_code == 200
    assert (await http.post("/auth/logout", headers=member.headers)).status_code == 200
    clock.advance(30)
    refused = await _beat(http, member, session_id, 60)
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "UNAUTHORIZED"
    ended = await http.post(f"/sessions/{session_id}/end", json={}, headers=member.headers)
    assert ended.status_code == 401
    # Told 401, not 404, whether or not the session exists.
    assert (await _beat(http, member, session_id + 999, 60)).status_code == 401
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        row = await session.get(PlaybackSession, session_id)
        assert row is not None
        assert (row.position_seconds, row.status) == (30, "active")


async def test_a_disabled_account_cannot_heartbeat(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    member: TestUser,
    clock: FrozenClock,
) -> None:
    class_id = await _class(db, client_a, clock)
    session_id = (await _start(http, member, class_id))["id"]
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await session.execute(update(User).where(User.id == member.id).values(status="disabled"))
    clock.advance(30)
    assert (await _beat(http, member, session_id, 30)).status_code == 401
    # A live sign-in on a session that does not exist is a plain 404.
    other = await make_user(http, db, client_a, "other-viewer@example.com")
    assert (await _beat(http, other, session_id + 999, 30)).status_code == 404


async def test_concurrent_heartbeats_share_transactions_and_keep_their_own_outcomes(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    clock: FrozenClock,
    is_postgres: bool,
) -> None:
    """Heartbeats that arrive together run together (PostgreSQL: one transaction per client
    and batch), yet each is answered and written as if alone: a dead sign-in, a silent
    session or another client's member in the same moment changes nobody else's heartbeat."""
    class_a = await _class(db, client_a, clock)
    class_b = await _class(db, client_b, clock)
    viewers = [await make_user(http, db, client_a, f"v{i}@example.com") for i in range(8)]
    strangers = [await make_user(http, db, client_b, f"s{i}@example.com") for i in range(3)]
    sessions = {u.id: (await _start(http, u, class_a))["id"] for u in viewers}
    sessions |= {u.id: (await _start(http, u, class_b))["id"] for u in strangers}
    # Two devices of one viewer: two sessions sharing one progress row.
    twin = (await _start(http, viewers[0], class_a, device="tablet"))["id"]
    # The one whose sign-in ends, and the one that went silent.
    signed_out, silent = viewers[1], viewers[2]
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        await session.execute(
            update(PlaybackSession)
            .where(PlaybackSession.id == sessions[silent.id])
            .values(last_heartbeat_at=clock.now() - timedelta(minutes=10))
        )
    assert (await http.post("/auth/logout", headers=signed_out.headers)).status_code == 200
    clock.advance(30)

    begins: list[str] = []
    beats = [(u, sessions[u.id]) for u in (*viewers, *strangers)] + [(viewers[0], twin)]
    with observe_driver_statements(
        lambda sql, _args: begins.append(sql) if sql.startswith("BEGIN") else None
    ):
        responses = await asyncio.gather(*(_beat(http, u, sid, 30) for u, sid in beats))
    codes = {sid: r.status_code for (_, sid), r in zip(beats, responses, strict=True)}
    assert codes.pop(sessions[signed_out.id]) == 401
    assert codes.pop(sessions[silent.id]) == 409
    assert set(codes.values()) == {200}, codes
    if is_postgres:  # fewer transactions than heartbeats, and never two clients in one
        assert len(begins) < len(beats)
        declared = {b.split("set_config('stvos.client_id', '")[1].split("'")[0] for b in begins}
        assert declared == {str(client_a.id), str(client_b.id)}
        assert all(b.count("stvos.client_id") == 1 for b in begins)

    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        rows = {row.id: row for row in await session.scalars(select(PlaybackSession))}
        seconds = dict(
            (
                await session.execute(
                    select(WatchLedger.user_id, func.sum(WatchLedger.watched_seconds)).group_by(
                        WatchLedger.user_id
                    )
                )
            ).all()
        )
    assert (rows[sessions[signed_out.id]].position_seconds, signed_out.id in seconds) == (0, False)
    assert rows[sessions[silent.id]].status == "expired"
    for viewer in viewers[3:]:
        assert rows[sessions[viewer.id]].credited_seconds == 30
        assert seconds[viewer.id] == 30
    # Both devices credited their own 30 s (wall time each), counted once in coverage.
    assert rows[twin].credited_seconds == rows[sessions[viewers[0].id]].credited_seconds == 30
    assert seconds[viewers[0].id] == 60
    coverage = await http.get(f"/sessions/{twin}", headers=viewers[0].headers)
    assert coverage.json()["data"]["watchedSeconds"] == 30
    async with db.transaction(TenantScope.for_client(client_b.id)) as session:
        b_rows = list(await session.scalars(select(PlaybackSession)))
    assert sorted(r.credited_seconds for r in b_rows) == [30, 30, 30]
