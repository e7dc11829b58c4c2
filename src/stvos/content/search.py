"""Full-text search over the published library: class name, trainer and category names
(``OnDemandClass.search_people``) and description, ranked in that order of weight.

The query text is never handed to the database's query syntax: it is cut into words (letters
and digits only), and each word becomes a prefix term, all of which must match ("yog" finds
Yoga; "hiit card" finds classes with both a hiit... and a card... word).

* PostgreSQL: the weighted ``tsvector`` column ``on_demand_classes.search_vector`` that
  migration 0006 generates (PostgreSQL only, so the model does not declare it) and indexes with
  GIN, matched by ``to_tsquery('simple', ...)`` with ``term:*`` prefixes, ranked by
  ``ts_rank_cd``. Row-level security keeps ``@@`` (not leakproof) off that index for the
  application role, so the search goes through ``stvos_search_classes`` (migration 0016), a
  SECURITY DEFINER function whose owner row security does not bind: it takes no client
  argument, applies the declared client itself (none declared: nothing), and returns the page's
  class ids and ranks with the number of matches, ranked once each from the index's matches.
  When that function cannot bypass row security (an owner without BYPASSRLS, e.g. on a managed
  service where no superuser ran the migration), is missing, or may not be executed, the same
  answer comes from the plain query (row security filters the client's published classes, then
  the stored vectors are matched); which one a connection uses is looked up once per
  connection.
* SQLite: the FTS5 table ``on_demand_classes_fts`` (migration 0006) with ``"term"*`` prefix
  queries, ranked by ``bm25`` (weights 10/5/1; lower is better, so the score is its negation).

Tenancy: the search index is always joined to ``on_demand_classes`` and the query is an ORM
query of :class:`OnDemandClass`, so the session's client filter (and PostgreSQL's row-level
security) decide what is visible; neither the FTS table nor the search function is trusted
with the rows. Should the function ever return a class the caller cannot see, that is logged as
the bug it is and the request is answered by the plain query.

Every request costs a constant number of statements: the page with the number of matches
(one pass over the matches), then the trainers and categories of that page; on PostgreSQL's
plain query a page past the last one counts the matches instead (the function returns the
number with an empty page).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Float,
    Integer,
    Select,
    String,
    bindparam,
    column,
    func,
    literal_column,
    select,
    table,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from stvos.content.schemas import ClassSummary
from stvos.content.service import is_published, summaries
from stvos.kit.clock import utcnow
from stvos.kit.errors import ValidationFailed
from stvos.kit.schemas import Page, PageParams
from stvos.models import OnDemandClass

log = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 100
# More words than this add nothing but cost; the rest are ignored.
MAX_TERMS = 12

# Unicode letters and digits; everything else (quotes, *, :, &, |, !, parentheses, NEAR, ...)
# only separates words.
_WORD = re.compile(r"[^\W_]+")

# PostgreSQL's generated, GIN-indexed search column (migration 0006).
PG_VECTOR_COLUMN = "on_demand_classes.search_vector"
# ts_rank_cd weights {D, C, B, A}: the same 10 : 5 : 1 proportions as SQLite's bm25 weights.
# Migration 0016's function ranks with the same weights (the two paths give one answer).
_PG_WEIGHTS = "'{0.1, 0.1, 0.5, 1.0}'::float4[]"
_PG_CONFIG = "'simple'::regconfig"

# PostgreSQL's search function (migration 0016), and whether this connection may rely on it:
# it exists, this role may execute it, and its owner is not bound by row security (otherwise
# the index would not serve it either, and the plain query is as good and needs no function).
PG_SEARCH_FUNCTION = "stvos_search_classes"
PG_SEARCH_SIGNATURE = f"{PG_SEARCH_FUNCTION}(tsquery,timestamptz,integer,integer)"
_PG_SEARCH_USABLE = text(
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc AS p "
    "JOIN pg_catalog.pg_roles AS r ON r.oid = p.proowner "
    "WHERE p.oid = to_regprocedure(:signature) AND p.prosecdef "
    "AND (r.rolsuper OR r.rolbypassrls) "
    "AND has_function_privilege(p.oid, 'EXECUTE'))"
)
# Cached in the pooled connection's info (it lives as long as the database connection).
_PG_SEARCH_USABLE_KEY = "stvos.content.search_function_usable"

_FTS_NAME = "on_demand_classes_fts"
_fts = table(_FTS_NAME, column("rowid"))
# The join to the class rows names the FTS rowid through a unary plus, so SQLite cannot look
# the index up by rowid from the class side: the MATCH drives the join (its hits, then each
# class by primary key) instead of one FTS lookup per published class of the client, which
# SQLite's planner (no statistics) otherwise picks: 2 s rather than 20 ms at 100,000 classes.
_FTS_ROWID_UNINDEXED: ColumnElement[Any] = literal_column(f"+{_FTS_NAME}.rowid")
_BM25_WEIGHTS = (10.0, 5.0, 1.0)  # name, search_people, description

# A page of matching classes, their scores (higher is better), and the number of matches.
Found = tuple[list[OnDemandClass], list[float], int]


class SearchHit(ClassSummary):
    score: float = Field(description="Relevance; higher is better")


def query_terms(q: str) -> list[str]:
    """The words of a search text, validated: 1..100 characters after trimming."""
    typed = q.strip()
    if not typed or len(typed) > MAX_QUERY_LENGTH:
        raise ValidationFailed(
            f"q must be 1 to {MAX_QUERY_LENGTH} characters",
            details=[{"field": "q", "message": f"Must be 1 to {MAX_QUERY_LENGTH} characters"}],
        )
    terms = list(dict.fromkeys(_WORD.findall(typed.lower())))
    return terms[:MAX_TERMS]


def _pg_tsquery_text(terms: list[str]) -> str:
    # Words are letters and digits only, so this string holds no tsquery syntax of the user's.
    return " & ".join(f"{t}:*" for t in terms)


def _pg_tsquery(terms: list[str]) -> ColumnElement[Any]:
    return func.to_tsquery(literal_column(_PG_CONFIG), _pg_tsquery_text(terms))


def _postgres_search(terms: list[str]) -> tuple[Select[Any], ColumnElement[Any], bool]:
    """(matching classes, score, higher-is-better) for PostgreSQL, without the function."""
    vector: ColumnElement[Any] = literal_column(PG_VECTOR_COLUMN)
    # Parsed once per statement (an init plan): under a generic plan (a prepared statement run
    # often) "to_tsquery($1)" would otherwise be parsed again for every row it is matched with.
    tsquery = select(_pg_tsquery(terms)).scalar_subquery()
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


async def search_function_usable(session: AsyncSession) -> bool:
    """Whether PostgreSQL's search function serves this session's connection (see above)."""
    conn = await session.connection()
    usable = conn.info.get(_PG_SEARCH_USABLE_KEY)
    if usable is None:
        found = await conn.scalar(_PG_SEARCH_USABLE, {"signature": PG_SEARCH_SIGNATURE})
        usable = conn.info[_PG_SEARCH_USABLE_KEY] = bool(found)
    return bool(usable)


def _function_page() -> Select[Any]:
    """The page of the search function joined back to the class rows, built once (its
    parameters bound at each call: it is the same statement every time)."""
    found = (
        func.stvos_search_classes(
            func.to_tsquery(literal_column(_PG_CONFIG), bindparam("tsquery", type_=String)),
            bindparam("as_of", type_=DateTime(timezone=True)),
            bindparam("skip", type_=Integer),
            bindparam("take", type_=Integer),
        )
        .table_valued(
            column("class_id", BigInteger), column("rank", Float), column("total", BigInteger)
        )
        .alias("found")
    )
    # Each class looked up by id from its page row (a lateral subquery, kept one by its LIMIT:
    # a plain join lets a generic plan, which expects a few rows per client, hash the whole
    # client's library instead). Joined outer, so a page past the last one keeps its number.
    visible = (
        select(OnDemandClass)
        .where(OnDemandClass.id == found.c.class_id)
        .limit(1)
        .lateral("visible")
    )
    item = aliased(OnDemandClass, visible)
    return (
        select(item, found.c.class_id, found.c.rank, found.c.total)
        .select_from(found)
        .outerjoin(item, true())
        .order_by(found.c.rank.desc(), item.published_at.desc(), item.id.desc())
    )


_FUNCTION_PAGE = _function_page()


async def page_by_function(
    session: AsyncSession, terms: list[str], now: datetime, paging: PageParams
) -> Found | None:
    """PostgreSQL through the search function: its page joined back to the class rows (under
    row security and the session's client filter), in one statement. None when the function
    returned a class this session cannot see (a bug; the caller must not trust its answer)."""
    params = {
        "tsquery": _pg_tsquery_text(terms),
        "as_of": now,
        "skip": paging.offset,
        "take": paging.limit,
    }
    rows = (await session.execute(_FUNCTION_PAGE, params)).all()
    classes: list[OnDemandClass] = []
    scores: list[float] = []
    for item, class_id, rank, _ in rows:
        if class_id is None:  # a page past the last one: only the number of matches
            continue
        if item is None:
            log.error(
                "%s returned class %s, which this session cannot see; answering from the "
                "plain query",
                PG_SEARCH_FUNCTION,
                class_id,
            )
            return None
        classes.append(item)
        scores.append(float(rank))
    total = int(rows[0].total) if rows else 0  # no rows: no client declared
    return classes, scores, total


async def page_by_query(
    session: AsyncSession,
    search: tuple[Select[Any], ColumnElement[Any], bool],
    now: datetime,
    paging: PageParams,
) -> Found:
    """The page of a search's (matching classes, rank, higher-is-better) published at ``now``."""
    matching, rank, higher_is_better = search
    matching = matching.where(is_published(now))
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
        total = 0
    classes = [row[0] for row in rows]
    scores = [float(row.rank) if higher_is_better else -float(row.rank) for row in rows]
    return classes, scores, total


async def search_classes(session: AsyncSession, q: str, paging: PageParams) -> Page[SearchHit]:
    terms = query_terms(q)
    if not terms:
        return paging.page_of([], 0)
    now = utcnow()
    found: Found | None = None
    if session.get_bind().dialect.name != "postgresql":
        found = await page_by_query(session, _sqlite_search(terms), now, paging)
    else:
        if await search_function_usable(session):
            found = await page_by_function(session, terms, now, paging)
        if found is None:
            found = await page_by_query(session, _postgres_search(terms), now, paging)
    classes, scores, total = found
    if not classes:
        return paging.page_of([], total)
    hits_out = [
        SearchHit(**summary.model_dump(), score=score)
        for summary, score in zip(await summaries(session, classes), scores, strict=True)
    ]
    return paging.page_of(hits_out, total)
