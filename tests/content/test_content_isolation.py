"""Client B never sees client A's classes, categories, trainers or counts."""

from __future__ import annotations

from datetime import timedelta

import httpx

from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from tests.content import add_category, add_class, add_trainer
from tests.support.factories import TestClient, make_user


async def test_client_b_never_sees_client_a_content(
    http: httpx.AsyncClient,
    db: Database,
    client_a: TestClient,
    client_b: TestClient,
    clock: FrozenClock,
) -> None:
    now = clock.now()
    day = timedelta(days=1)
    # Both clients have a "Yoga" category; only A has classes in it.
    a_trainer = await add_trainer(db, client_a, "Alpha Trainer")
    a_yoga = await add_category(db, client_a, "Yoga")
    b_yoga = await add_category(db, client_b, "Yoga")
    a_free = await add_class(
        db, client_a, "Alpha Flow", now - day, category_id=a_yoga, trainer_id=a_trainer
    )
    a_featured = await add_class(
        db,
        client_a,
        "Alpha Featured",
        now - 2 * day,
        category_id=a_yoga,
        trainer_id=a_trainer,
        is_featured=True,
    )
    b_class = await add_class(db, client_b, "Beta Burn", now - day, category_id=b_yoga)
    a_user = await make_user(http, db, client_a, "a@example.com")
    b_user = await make_user(http, db, client_b, "b@example.com")

    # Lists: only B's own class, whatever the filter.
    for query in ("", "?category=yoga", "?sort=popular", "?isLive=false"):
        response = await http.get(f"/content/classes{query}", headers=b_user.headers)
        assert [c["name"] for c in response.json()["data"]["items"]] == ["Beta Burn"], query
        assert response.json()["data"]["pagination"]["total"] == 1
    response = await http.get(f"/content/classes?trainer={a_trainer}", headers=b_user.headers)
    assert response.json()["data"]["items"] == []

    # Detail and video access: 404, never 403.
    for path in (
        f"/content/classes/{a_free}",
        f"/content/classes/{a_featured}",
        f"/video/access/{a_free}",
        f"/video/access/{a_featured}",
    ):
        response = await http.get(path, headers=b_user.headers)
        assert response.status_code == 404, path
        assert response.json()["code"] == "NOT_FOUND"

    # B's own class relates to nothing of A's (same category name, other client).
    response = await http.get(f"/content/classes/{b_class}", headers=b_user.headers)
    assert response.json()["data"]["class"]["relatedClasses"] == []

    # Categories: B's own, counting only B's classes.
    response = await http.get("/content/categories", headers=b_user.headers)
    items = response.json()["data"]["items"]
    assert [(c["id"], c["classCount"]) for c in items] == [(b_yoga, 1)]

    # Discover: nothing of A's.
    response = await http.get("/content/discover", headers=b_user.headers)
    data = response.json()["data"]
    assert data["featured"] == []
    assert [c["name"] for c in data["newThisWeek"]] == ["Beta Burn"]
    assert [(c["id"], c["classCount"]) for c in data["categories"]] == [(b_yoga, 1)]
    assert "Alpha" not in response.text

    # A's token with B's key is refused outright.
    response = await http.get(
        "/content/discover",
        headers={**client_b.headers, "Authorization": f"Bearer {a_user.access_token}"},
    )
    assert response.status_code == 401

    # And A still sees its own.
    response = await http.get("/content/discover", headers=a_user.headers)
    data = response.json()["data"]
    assert [c["name"] for c in data["featured"]] == ["Alpha Featured"]
    assert data["featured"][0]["trainer"]["name"] == "Alpha Trainer"
    assert [(c["id"], c["classCount"]) for c in data["categories"]] == [(a_yoga, 2)]
    response = await http.get(f"/video/access/{a_free}", headers=a_user.headers)
    assert response.status_code == 200
