"""Full-text search over the published library: class name, trainer and category names
(``OnDemandClass.search_people``) and description, ranked in that order of weight.

The query text is never handed to the database's query syntax: it is cut into words (letters
and digits only), and each word becomes a prefix term, all of which must match ("yog" finds
Yoga; "hiit card" finds classes with both a hiit... and a card... word).

* PostgreSQL: the weighted ``tsvector`` column ``on_demand_classes.search_vector`` that
  migration 0006 generates (PostgreSQL only, so the model does not declare it) and indexes with
  GIN, matched by ``to_tsquery('simple', ...)`` with ``term:*`` prefixes, ranked by
  ``ts_rank_cd``.
* SQLite: the FTS5 table ``on_demand_classes_fts`` (migration 0006) with ``"term"*`` prefix
  queries, ranked by ``bm25`` (weights 10/5/1; lower is better, so the score is its negation).

Tenancy: the search index is always joined to ``on_demand_classes`` and the query is an ORM
query of :class:`OnDemandClass`, so the session's client filter (and PostgreSQL's row-level
security) decide what is visible; the FTS table alone is never trusted.

Every request costs a constant number of statements: the page with the number of matches
(one pass over the matches), then the trainers and categories of that page; a page past the
last one counts the matches instead.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field
from sqlalchemy import ColumnElement, Select, column, func, literal_column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from stvos.content.schemas import ClassSummary
from stvos.content.service import is_published, summaries
from stvos.kit.clock import utcnow
from stvos.kit.errors import ValidationFailed
from stvos.kit.schemas import Page, PageParams
from stvos.models import OnDemandClass

MAX_QUERY_LENGTH = 100
# More words than this add nothing but cost; the rest are ignored.
MAX_TERMS = 12

# Unicode letters and digits; everything else (quotes, *, :, &, |, !, parentheses, NEAR, ...)
# only separates words.
_WORD = re.compile(r"[^\W_]+")

# PostgreSQL's generated, GIN-indexed search column (migration 0006).
PG_VECTOR_COLUMN = "on_demand_classes.search_vector"
# ts_rank_cd weights {D, C, B, A}: the same 10 : 5 : 1 proportions as SQLite's bm25 weights.
_PG_WEIGHTS = "'{0.1, 0.1, 0.5, 1.0}'::float4[]"
_PG_CONFIG = "'simple'::regconfig"

_FTS_NAME = "on_demand_classes_fts"
_fts = table(_FTS_NAME, column("rowid"))
# The join to the class rows names the FTS rowid through a unary plus, so SQLite cannot look
# the index up by rowid from the class side: the MATCH drives the join (its hits, then each
# class by primary key) instead of one FTS lookup per published class of the client, which
# SQLite's planner (no statistics) otherwise picks: 2 s rather than 20 ms at 100,000 classes.
_FTS_ROWID_UNINDEXED: ColumnElement[Any] = literal_column(f"+{_FTS_NAME}.rowid")
_BM25_WEIGHTS = (10.0, 5.0, 1.0)  # name, search_people, description


class SearchHit(ClassSummary):
    score: float = Field(description="Relevance; higher is better")


def query_terms(q: str) -> list[str]:
    """The words of a search text, validated: 1..100 characters after trimming."""
    text = q.strip()
    if not text or len(text) > MAX_QUERY_LENGTH:
        raise ValidationFailed(
            f"q must be 1 to {MAX_QUERY_LENGTH} characters",
            details=[{"field": "q", "message": f"Must be 1 to {MAX_QUERY_LENGTH} characters"}],
        )
    terms = list(dict.fromkeys(_WORD.findall(text.lower())))
    return terms[:MAX_TERMS]


def _postgres_search(terms: list[str]) -> tuple[Select[Any], ColumnElement[Any], bool]:
    """(matching classes, score, higher-is-better) for PostgreSQL."""
    vector: ColumnElement[Any] = literal_column(PG_VECTOR_COLUMN)
    # Words are letters and digits only, so this string holds no tsquery syntax of the user's.
    tsquery = func.to_tsquery(literal_column(_PG_CONFIG), " & ".join(f"{t}:*" for t in terms))
    score = func.ts_rank_cd(literal_column(_PG_WEIGHTS), vector, tsquery)
    matching = select(OnDemandClass).where(vector.op("@@")(tsquery))
    return matching, score, True


def _sqlite_search(terms: list[str]) -> tuple[Select[Any], ColumnElement[Any], bool]:
    """(matching classes, bm25, lower-is-better) for SQLite FTS5."""
    # Each word quoted (it holds no quote) and made a prefix; juxtaposed terms mean AND.
    match = " ".join(f'"{t}"*' for t in terms)
    fts_table: ColumnElement[Any] = literal_column(_FTS_NAME)
    rank = func.bm25(fts_table, *_BM25_WEIGHTS)
    matching = (
        select(OnDemandClass)
        .join(_fts, OnDemandClass.id == _FTS_ROWID_UNINDEXED)
        .where(fts_table.op("MATCH")(match))
    )
    return matching, rank, False


async def search_classes(session: AsyncSession, q: str, paging: PageParams) -> Page[SearchHit]:
    terms = query_terms(q)
    if not terms:
        return paging.page_of([], 0)
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        matching, rank, higher_is_better = _postgres_search(terms)
    else:
        matching, rank, higher_is_better = _sqlite_search(terms)
    matching = matching.where(is_published(utcnow()))

    # One pass over the matches: each ranked once into a common table expression, which both
    # the page (best first, then newest) and the number of matches read; then the page's class
    # rows by id. (A window count over the matches would sort them all instead of keeping the
    # best of them, and carry the search vectors through the sort.)
    hits = matching.with_only_columns(
        OnDemandClass.id.label("class_id"),
        OnDemandClass.published_at.label("published_at"),
        rank.label("rank"),
    ).cte("hits")
    best = hits.c.rank.desc() if higher_is_better else hits.c.rank.asc()
    page = (
        select(hits.c.class_id, hits.c.rank)
        .order_by(best, hits.c.published_at.desc(), hits.c.class_id.desc())
        .offset(paging.offset)
        .limit(paging.limit)
        .subquery("page")
    )
    matches = select(func.count()).select_from(hits).scalar_subquery()
    in_rank_order = page.c.rank.desc() if higher_is_better else page.c.rank.asc()
    rows = (
        await session.execute(
            select(OnDemandClass, page.c.rank, matches.label("total"))
            .join(page, page.c.class_id == OnDemandClass.id)
            .order_by(in_rank_order, OnDemandClass.published_at.desc(), OnDemandClass.id.desc())
        )
    ).all()
    if rows:
        total = int(rows[0].total)
    elif paging.offset:  # past the last page: how many there are, all the same
        counted = select(func.count()).select_from(
            matching.with_only_columns(OnDemandClass.id).subquery()
        )
        total = await session.scalar(counted) or 0
    else:
        return paging.page_of([], 0)
    classes = [row[0] for row in rows]
    scores = [float(row.rank) if higher_is_better else -float(row.rank) for row in rows]
    hits_out = [
        SearchHit(**summary.model_dump(), score=score)
        for summary, score in zip(await summaries(session, classes), scores, strict=True)
    ]
    return paging.page_of(hits_out, total)
