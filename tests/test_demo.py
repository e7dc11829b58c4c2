"""`stvos demo`: one branded client with a working login for every role, the same every run."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from stvos.config import Settings
from stvos.demo import ensure_demo
from stvos.kit.clock import get_clock, utcnow
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import (
    AvailabilityRule,
    ClassProgress,
    LiveClass,
    Partner,
    PartnerMembership,
    PartnerProduct,
    PlaybackSession,
    Trainer,
    TrainerService,
    TrainerSpecialisation,
    User,
    Voucher,
    VoucherRedemption,
    WatchLedger,
)


async def test_every_demo_login_works_and_reruns_change_nothing(
    app: FastAPI, http: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    first = await ensure_demo(db, settings)
    second = await ensure_demo(db, settings)
    assert first == second
    assert set(first["logins"]) == {"admin", "user", "trainer", "partner"}
    app.state.authenticator.invalidate()
    headers = {"X-API-Key": first["apiKey"]}

    config = (await http.get("/app/config", headers=headers)).json()["data"]
    assert config["client"]["id"] == first["clientId"]
    assert config["client"]["branding"]["colors"]["primary"] == "#FF5A1F"
    assert config["hasDefaultClient"] is True

    roles = {}
    for name in ("admin", "user", "trainer"):
        login = first["logins"][name]
        response = await http.post(
            "/auth/login",
            json={"email": login["email"], "password": login["password"]},
            headers=headers,
        )
        assert response.status_code == 200, (name, response.text)
        roles[name] = response.json()["data"]["user"]["role"]
    assert roles == {"admin": "client_admin", "user": "user", "trainer": "trainer"}

    partner = first["logins"]["partner"]
    response = await http.post(
        "/partner-auth/login", json={"email": partner["email"], "password": partner["password"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["client"]["id"] == first["clientId"]


async def test_a_lost_credentials_file_gives_new_working_secrets(
    app: FastAPI, http: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    first = await ensure_demo(db, settings)
    (settings.data_dir / "demo-credentials.json").unlink()
    second = await ensure_demo(db, settings)
    assert second["clientId"] == first["clientId"]
    assert second["apiKey"] != first["apiKey"]
    login = second["logins"]["user"]
    assert login["password"] != first["logins"]["user"]["password"]
    response = await http.post(
        "/auth/login",
        json={"email": login["email"], "password": login["password"]},
        headers={"X-API-Key": second["apiKey"]},
    )
    assert response.status_code == 200


async def _partner_rows(db: Database, client_id: int) -> dict[str, int]:
    async with db.transaction(TenantScope.for_client(client_id)) as session:
        counts = {}
        for model in (
            User,
            Partner,
            PartnerProduct,
            Voucher,
            VoucherRedemption,
            PartnerMembership,
            PlaybackSession,
            ClassProgress,
            WatchLedger,
        ):
            counts[model.__name__] = await session.scalar(select(func.count(model.id))) or 0
        counts["ledgerSeconds"] = (
            await session.scalar(select(func.sum(WatchLedger.watched_seconds))) or 0
        )
        return counts


async def test_the_demo_partner_has_products_vouchers_and_watching_members(
    app: FastAPI, http: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    first = await ensure_demo(db, settings)
    before = await _partner_rows(db, first["clientId"])
    clock_before = get_clock()
    second = await ensure_demo(db, settings)
    assert get_clock() is clock_before  # the demo's frozen clock was put back
    assert second["partner"] == first["partner"]
    assert await _partner_rows(db, first["clientId"]) == before  # nothing new on a re-run
    assert first["partner"] == {
        "name": "Harbour Gym",
        "partnerId": first["partner"]["partnerId"],
        "products": 3,
        "vouchers": 20,
        "members": 4,
    }
    partner_id = first["partner"]["partnerId"]

    async with db.transaction(TenantScope.for_client(first["clientId"])) as session:
        partner = await session.get(Partner, partner_id)
        assert partner is not None
        assert partner.billing_rate_minor == 450
        now = utcnow()
        vouchers = list(await session.scalars(select(Voucher)))
        assert all(
            re.fullmatch(r"DEMO-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}", v.code) for v in vouchers
        )
        redeemed = [v for v in vouchers if v.status == "redeemed"]
        revoked = [v for v in vouchers if v.status == "revoked"]
        expired = [v for v in vouchers if v.status == "active" and v.expires_at <= now]
        assert (len(redeemed), len(revoked), len(expired)) == (4, 1, 1)
        assert all(v.redemption_count == 1 for v in redeemed)

        memberships = list(await session.scalars(select(PartnerMembership)))
        assert {m.voucher_id for m in memberships} == {v.id for v in redeemed}
        redemptions = {
            (r.voucher_id, r.user_id) for r in await session.scalars(select(VoucherRedemption))
        }
        assert redemptions == {(m.voucher_id, m.user_id) for m in memberships}
        for membership in memberships:
            assert membership.partner_id == partner_id
            assert membership.joined_at < now - timedelta(days=4)
            user_id = membership.user_id
            sessions = list(
                await session.scalars(
                    select(PlaybackSession).where(PlaybackSession.user_id == user_id)
                )
            )
            assert sessions, "every demo member has watched something"
            assert all(s.status == "ended" and s.ended_at is not None for s in sessions)
            assert all(membership.joined_at < s.started_at < now for s in sessions)
            ledger = list(
                await session.scalars(select(WatchLedger).where(WatchLedger.user_id == user_id))
            )
            progress = list(
                await session.scalars(select(ClassProgress).where(ClassProgress.user_id == user_id))
            )
            # Sessions, progress and ledger agree: seconds credited, and completions.
            assert sum(s.credited_seconds for s in sessions) == sum(
                row.watched_seconds for row in ledger
            )
            assert sum(row.completions for row in ledger) == sum(
                1 for p in progress if p.completed_at is not None
            )
            assert {p.class_id for p in progress} == {s.class_id for s in sessions}
        assert sum(row.completions for row in await session.scalars(select(WatchLedger))) > 0

    app.state.authenticator.invalidate()
    login = first["logins"]["partner"]
    response = await http.post(
        "/partner-auth/login", json={"email": login["email"], "password": login["password"]}
    )
    headers = {"Authorization": f"Bearer {response.json()['data']['accessToken']}"}
    me = (await http.get("/partner-auth/me", headers=headers)).json()["data"]
    assert me["partner"]["billingRate"] == "4.50"
    products = (await http.get("/partner/products", headers=headers)).json()["data"]
    assert products["pagination"]["total"] == 3
    public = await http.get("/products", headers={"X-API-Key": first["apiKey"]})
    assert {p["partner"]["name"] for p in public.json()["data"]["items"]} == {"Harbour Gym"}


async def _coaching_rows(db: Database, client_id: int) -> dict[str, Any]:
    async with db.transaction(TenantScope.for_client(client_id), write=False) as session:
        return {
            "services": sorted(
                (s.trainer_id, s.name, s.price_minor, s.mode)
                for s in await session.scalars(select(TrainerService))
            ),
            "rules": sorted(
                (r.trainer_id, r.weekday, r.start_time, r.end_time)
                for r in await session.scalars(select(AvailabilityRule))
            ),
            "specialisations": sorted(
                (s.trainer_id, s.slug) for s in await session.scalars(select(TrainerSpecialisation))
            ),
            "trainers": sorted(
                (t.id, t.name, t.time_zone, len(t.certifications or []))
                for t in await session.scalars(select(Trainer))
            ),
        }


async def test_the_demo_trainers_are_bookable_coaches(
    app: FastAPI, http: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    first = await ensure_demo(db, settings)
    before = await _coaching_rows(db, first["clientId"])
    second = await ensure_demo(db, settings)
    assert second["coaching"] == first["coaching"]
    assert await _coaching_rows(db, first["clientId"]) == before  # a re-run adds nothing

    trainers = before["trainers"]
    assert len(trainers) >= 6
    zones = [zone for _id, _name, zone, _certs in trainers]
    assert "America/New_York" in zones
    assert zones.count("Europe/London") > len(zones) / 2
    assert all(certs >= 1 for *_rest, certs in trainers)
    for trainer_id, *_rest in trainers:
        services = [s for s in before["services"] if s[0] == trainer_id]
        assert 1 <= len(services) <= 3
        assert all(s[2] > 0 for s in services)
        assert any(r[0] == trainer_id for r in before["rules"])
        assert any(s[0] == trainer_id for s in before["specialisations"])
    assert {mode for *_rest, mode in before["services"]} == {"video", "in_person"}
    assert first["coaching"] == {
        "services": len(before["services"]),
        "availabilityRules": len(before["rules"]),
        "trainersWithServices": len(trainers),
    }
    # Hours are local wall times, inside the day, with weekday and weekend hours.
    assert all(start < end for _t, _d, start, end in before["rules"])
    assert {weekday for _t, weekday, _s, _e in before["rules"]} >= {0, 1, 2, 3, 4, 5}

    app.state.authenticator.invalidate()
    headers = {"X-API-Key": first["apiKey"]}
    listed = await http.get("/trainers", headers=headers)
    assert listed.status_code == 200, listed.text
    items = listed.json()["data"]["items"]
    assert len(items) == len(trainers)
    assert all(t["servicesCount"] >= 1 and t["fromPrice"] for t in items)
    boxing = (await http.get("/trainers?specialisation=Boxing", headers=headers)).json()["data"]
    (sam,) = boxing["items"]
    assert sam["timeZone"] == "America/New_York"
    maya = next(t for t in items if t["name"] == "Coach Maya")
    services = (await http.get(f"/trainers/{maya['id']}/services", headers=headers)).json()
    by_name = {s["name"]: s for s in services["data"]["items"]}
    assert by_name["1:1 Video PT"]["price"] == "40.00"
    assert by_name["1:1 Video PT"]["durationMinutes"] == 45
    assert by_name["Mobility check-in"]["price"] == "25.00"
    assert by_name["Studio PT"]["mode"] == "in_person"
    assert by_name["Studio PT"]["location"]

    login = first["logins"]["trainer"]
    response = await http.post(
        "/auth/login",
        json={"email": login["email"], "password": login["password"]},
        headers=headers,
    )
    bearer = {**headers, "Authorization": f"Bearer {response.json()['data']['accessToken']}"}
    me = (await http.get("/trainer/me", headers=bearer)).json()["data"]
    assert me["id"] == maya["id"]
    assert me["timeZone"] == "Europe/London"
    assert {s["name"] for s in me["services"]} == set(by_name)


async def test_the_demo_studio_has_live_classes_over_the_coming_two_weeks(
    app: FastAPI, http: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    first = await ensure_demo(db, settings)
    second = await ensure_demo(db, settings)
    assert second["liveClasses"] == first["liveClasses"]  # a re-run adds nothing
    now = utcnow()
    async with db.transaction(TenantScope.for_client(first["clientId"]), write=False) as session:
        classes = list(await session.scalars(select(LiveClass).order_by(LiveClass.starts_at)))
        trainers = {t.id: t for t in await session.scalars(select(Trainer))}
    assert len(classes) == first["liveClasses"] >= 20
    soon, horizon = now - timedelta(minutes=5), now + timedelta(days=14)
    assert all(soon < c.starts_at <= horizon for c in classes)
    assert all(c.status == "scheduled" and c.registered_count == 0 for c in classes)
    assert len({c.room_name for c in classes}) == len(classes)
    assert any(c.capacity <= 5 for c in classes)
    assert len({c.starts_at.date() for c in classes}) >= 10  # spread over the days
    assert len({c.trainer_id for c in classes}) >= 5
    # Local wall times in each trainer's zone: Sam's boxing is at 19:00 in New York.
    boxing = [c for c in classes if c.title == "Ring Conditioning"]
    zone = ZoneInfo(trainers[boxing[0].trainer_id].time_zone or "UTC")
    assert {c.starts_at.astimezone(zone).strftime("%H:%M") for c in boxing} == {"19:00"}
    # Staff see them in the back office.
    app.state.authenticator.invalidate()
    login = first["logins"]["admin"]
    headers = {"X-API-Key": first["apiKey"]}
    token = (
        await http.post(
            "/auth/login",
            json={"email": login["email"], "password": login["password"]},
            headers=headers,
        )
    ).json()["data"]["accessToken"]
    listed = await http.get(
        "/manage/live-classes", headers={**headers, "Authorization": f"Bearer {token}"}
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"]["pagination"]["total"] == len(classes)
