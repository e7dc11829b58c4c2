"""The demo studio's on-demand library: categories, trainers and 60 published classes.

Deterministic (one seeded :class:`random.Random`) and idempotent: each row is looked up by its
natural key (slug, trainer name, class name) and made only when missing, so a second run
creates nothing. Platform categories are platform data: :func:`ensure_platform_categories`
runs in the platform scope, :func:`ensure_demo_library` in the demo client's scope.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.kit.clock import utcnow
from stvos.manage.content_service import people_text
from stvos.models import Category, ClassStatus, OnDemandClass, PlatformCategory, Trainer

ASSETS = "https://assets.stvos.dev/demo"
VIDEOS = "https://media.stvos.dev/demo"
SEED = 20261204

# slug, name, description
PLATFORM_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("yoga", "Yoga", "Flows and holds for strength, balance and a calm mind."),
    ("hiit", "HIIT", "Short, sharp intervals that raise the heart rate and burn."),
    ("strength", "Strength", "Build muscle and power with weights and bodyweight."),
    ("pilates", "Pilates", "Core-first mat work for posture and control."),
    ("cycling", "Cycling", "Indoor rides to the beat, from endurance to sprints."),
    ("boxing", "Boxing", "Combinations, footwork and conditioning from the ring."),
    ("mobility", "Mobility", "Open up hips, shoulders and spine; move better every day."),
    ("meditation", "Meditation", "Guided breath and stillness to reset your day."),
    ("running", "Running", "Treadmill and outdoor sessions for every pace."),
    ("barre", "Barre", "Ballet-inspired pulses and holds for lean strength."),
)
# The platform ones the demo studio switches on (in its order), then its own.
ENABLED = ("yoga", "hiit", "strength", "pilates", "cycling", "mobility")
OWN_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("dance-cardio", "Dance Cardio", "Feel-good choreography that hides a serious workout."),
    (
        "pre-post-natal",
        "Pre & Post Natal",
        "Safe, supportive training for every trimester and after.",
    ),
    ("stretch-recover", "Stretch & Recover", "Slow sessions for rest days and sore legs."),
)

# name, bio; "Coach Maya" is the demo trainer login's profile, made by ensure_demo.
TRAINERS: tuple[tuple[str, str], ...] = (
    ("Coach Maya", "Strength and mobility coach; runs the demo studio's live classes."),
    ("Leo Hart", "Former sprinter turned HIIT and running coach. Loves a negative split."),
    ("Priya Nair", "Yoga and meditation teacher, 500-hour certified; slow flows, big breaths."),
    ("Sam Okafor", "Amateur boxing champion who brings ring conditioning to every class."),
    ("Elena Ruiz", "Pilates and barre instructor with a background in contemporary dance."),
    ("Tom Becker", "Indoor cycling and endurance coach; builds rides around the music."),
)

# category slug -> (trainer names, class-name stems, equipment pool, tags, intensities)
_PLAN: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "yoga": (
        ("Priya Nair", "Coach Maya"),
        (
            "Sunrise Flow",
            "Power Vinyasa",
            "Yin for Hips",
            "Balance Builder",
            "Evening Unwind",
            "Core Flow",
        ),
        ("mat", "blocks", "strap"),
        ("flexibility", "mindfulness", "balance", "flow"),
    ),
    "hiit": (
        ("Leo Hart", "Sam Okafor"),
        (
            "Tabata Burn",
            "Full Body Blast",
            "EMOM Express",
            "Ladder Intervals",
            "Cardio Crusher",
            "Quick Fire 20",
        ),
        ("mat", "dumbbells", "kettlebell", "jump rope"),
        ("cardio", "fat burn", "full body", "sweat"),
    ),
    "strength": (
        ("Coach Maya", "Leo Hart"),
        (
            "Upper Body Sculpt",
            "Lower Body Power",
            "Dumbbell Total Body",
            "Kettlebell Foundations",
            "Push Pull Day",
            "Glute Lab",
        ),
        ("dumbbells", "kettlebell", "resistance band", "bench", "mat"),
        ("muscle", "strength", "toning", "full body"),
    ),
    "pilates": (
        ("Elena Ruiz",),
        ("Classical Mat", "Core Control", "Pilates Sculpt", "Reformer-free Burn", "Posture Reset"),
        ("mat", "pilates ring", "mini ball", "resistance band"),
        ("core", "posture", "low impact", "toning"),
    ),
    "cycling": (
        ("Tom Becker",),
        (
            "Climb Session",
            "Rhythm Ride",
            "Endurance Spin",
            "Sprint Pyramid",
            "90s Throwback Ride",
            "Recovery Spin",
        ),
        ("indoor bike", "heart rate monitor"),
        ("cardio", "endurance", "music", "legs"),
    ),
    "mobility": (
        ("Coach Maya", "Priya Nair"),
        ("Desk Reset", "Hip Opener", "Shoulder Mobility", "Spine Health", "Morning Mobility"),
        ("mat", "foam roller", "resistance band"),
        ("mobility", "recovery", "flexibility", "posture"),
    ),
    "dance-cardio": (
        ("Elena Ruiz", "Leo Hart"),
        ("Pop Party Cardio", "Latin Heat", "Throwback Dance", "Dance Sculpt"),
        ("none",),
        ("cardio", "fun", "dance", "low impact"),
    ),
    "pre-post-natal": (
        ("Elena Ruiz", "Priya Nair"),
        ("Prenatal Strength", "Postnatal Core Rebuild", "Gentle Bump Flow", "Pelvic Floor Basics"),
        ("mat", "resistance band", "mini ball"),
        ("prenatal", "postnatal", "low impact", "core"),
    ),
    "stretch-recover": (
        ("Priya Nair", "Coach Maya", "Tom Becker"),
        ("Post-Run Stretch", "Foam Roll Recovery", "Deep Stretch", "Rest Day Reset"),
        ("mat", "foam roller", "strap"),
        ("recovery", "stretch", "flexibility", "relax"),
    ),
}
_SUFFIXES = ("", " II", " Express", " Extended")
_INTENSITY_BY_CATEGORY = {
    "hiit": ("medium", "high", "high"),
    "cycling": ("medium", "high"),
    "strength": ("medium", "high", "low"),
    "mobility": ("low",),
    "stretch-recover": ("low",),
    "pre-post-natal": ("low", "medium"),
}
CLASS_COUNT = 60
FEATURED = 5


def _image(kind: str, slug: str) -> str:
    return f"{ASSETS}/{kind}/{slug}.jpg"


async def ensure_platform_categories(session: AsyncSession) -> int:
    """The platform catalogue's demo rows (platform scope); answers how many exist."""
    have = set(await session.scalars(select(PlatformCategory.slug)))
    for slug, name, description in PLATFORM_CATEGORIES:
        if slug not in have:
            session.add(
                PlatformCategory(
                    name=name,
                    slug=slug,
                    description=description,
                    image_url=_image("categories", slug),
                )
            )
    await session.flush()
    return await session.scalar(select(func.count()).select_from(PlatformCategory)) or 0


async def _categories(session: AsyncSession) -> dict[str, Category]:
    have = {c.slug: c for c in await session.scalars(select(Category))}
    platform = {
        p.slug: p
        for p in await session.scalars(
            select(PlatformCategory).where(PlatformCategory.slug.in_(ENABLED))
        )
    }
    order = 0
    for slug in ENABLED:
        order += 10
        source = platform.get(slug)
        if slug in have or source is None:
            continue
        have[slug] = Category(
            name=source.name,
            slug=source.slug,
            description=source.description,
            image_url=source.image_url,
            sort_order=order,
            is_active=True,
            platform_category_id=source.id,
        )
        session.add(have[slug])
    for slug, name, description in OWN_CATEGORIES:
        order += 10
        if slug not in have:
            have[slug] = Category(
                name=name,
                slug=slug,
                description=description,
                image_url=_image("categories", slug),
                sort_order=order,
                is_active=True,
            )
            session.add(have[slug])
    await session.flush()
    return have


async def _trainers(session: AsyncSession) -> dict[str, Trainer]:
    names = [name for name, _bio in TRAINERS]
    have = {
        t.name: t for t in await session.scalars(select(Trainer).where(Trainer.name.in_(names)))
    }
    for name, bio in TRAINERS:
        slug = name.lower().replace(" ", "-")
        trainer = have.get(name)
        if trainer is None:
            trainer = have[name] = Trainer(name=name, bio=bio, is_active=True)
            session.add(trainer)
        if trainer.image_url is None:
            trainer.image_url = _image("trainers", slug)
        if not trainer.bio:
            trainer.bio = bio
    await session.flush()
    return have


def _class_specs(rng: random.Random) -> list[dict[str, object]]:
    """Sixty classes, round-robin over the categories so each gets a fair share."""
    specs: list[dict[str, object]] = []
    slugs = list(_PLAN)
    i = 0
    while len(specs) < CLASS_COUNT:
        slug = slugs[i % len(slugs)]
        trainers, stems, equipment, tags = _PLAN[slug]
        round_ = i // len(slugs)
        stem = stems[round_ % len(stems)]
        name = stem + _SUFFIXES[(round_ // len(stems)) % len(_SUFFIXES)]
        i += 1
        if any(s["name"] == name for s in specs):
            continue
        duration = rng.choice((10, 15, 20, 25, 30, 35, 40, 45, 50, 60))
        intensity = rng.choice(_INTENSITY_BY_CATEGORY.get(slug, ("low", "medium", "high")))
        kit = [e for e in equipment if e != "none"]
        picked = sorted(rng.sample(kit, k=rng.randint(0, min(2, len(kit))))) if kit else []
        specs.append(
            {
                "name": name,
                "category": slug,
                "trainer": rng.choice(trainers),
                "duration": duration,
                "intensity": intensity,
                "equipment": picked,
                "tags": sorted(rng.sample(tags, k=2)),
                "premium": rng.random() < 0.3,
                "hls": rng.random() < 0.8,
            }
        )
    return specs


def _description(spec: dict[str, object], trainer: str, category: Category) -> str:
    equipment = spec["equipment"]
    kit = (
        "You will need: " + ", ".join(map(str, equipment)) + "."  # type: ignore[call-overload]
        if equipment
        else "No equipment needed."
    )
    return (
        f"A {spec['duration']}-minute {spec['intensity']}-intensity {category.name.lower()} "
        f"class with {trainer}. {category.description or ''} {kit}"
    ).replace("  ", " ")


async def ensure_demo_library(session: AsyncSession) -> dict[str, int]:
    """Fill the demo client's library once (client scope); answers what it holds."""
    rng = random.Random(SEED)  # noqa: S311 - deterministic demo data, not a secret
    categories = await _categories(session)
    trainers = await _trainers(session)
    existing = set(await session.scalars(select(OnDemandClass.name)))
    now = utcnow()
    for index, spec in enumerate(_class_specs(rng)):
        # Drawn for every spec, made or not, so a partial library completes the same way.
        days = rng.randint(0, 6) if index % 6 == 0 else rng.randint(7, 60)
        age = timedelta(days=days, hours=rng.randint(0, 23))
        plays = rng.randint(0, 400)
        name = str(spec["name"])
        category = categories.get(str(spec["category"]))
        trainer = trainers.get(str(spec["trainer"]))
        if name in existing or category is None or trainer is None:
            continue
        slug = name.lower().replace(" ", "-").replace("&", "and")
        session.add(
            OnDemandClass(
                name=name,
                description=_description(spec, trainer.name, category),
                thumbnail_url=_image("classes", slug),
                video_url=(
                    f"{VIDEOS}/{slug}/master.m3u8" if spec["hls"] else f"{VIDEOS}/{slug}.mp4"
                ),
                video_provider="hls" if spec["hls"] else "mp4",
                duration_minutes=spec["duration"],
                intensity=spec["intensity"],
                is_premium=spec["premium"],
                equipment=spec["equipment"],
                tags=spec["tags"],
                trainer_id=trainer.id,
                category_id=category.id,
                status=ClassStatus.PUBLISHED.value,
                published_at=now - age,
                is_featured=index < FEATURED,
                featured_order=index + 1 if index < FEATURED else 0,
                play_count=plays,
                search_people=people_text(trainer.name, category.name),
            )
        )
    await session.flush()
    return await library_counts(session)


async def library_counts(session: AsyncSession) -> dict[str, int]:
    return {
        "categories": await session.scalar(select(func.count(Category.id))) or 0,
        "trainers": await session.scalar(select(func.count(Trainer.id))) or 0,
        "classes": await session.scalar(select(func.count(OnDemandClass.id))) or 0,
    }
